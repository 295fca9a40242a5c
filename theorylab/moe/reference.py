"""Plain-NumPy twins of the ALF-LB kernels: the test oracle and the benchmark baseline.

Written for clarity, not speed.  Same conventions as :mod:`theorylab.moe.kernels`
(lowest-index tie-break, iteration n routes with p^n then updates, step schedules at
n + 1).  Randomness uses ``np.random.RandomState(seed)`` drawn in the kernels' order,
which reproduces Numba's generator bit for bit.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from theorylab.moe.kernels import (BALANCED, FAM_AUX, FAM_CAPACITY, FAM_EC, FAM_LOSSFREE, FAM_NONE,
                                   FAM_SINKHORN, MULT_FLOOR, NOISE_GUMBEL, OVER, RULE_MULT, RULE_PROP,
                                   RULE_SIGN, SCHED_CONST, SCHED_HARMONIC, UNDER, FixedRun, RouterRun,
                                   TrainedRun)

# --- routing -----------------------------------------------------------------------------------------


def route_topk(scores, bias, K, sel, loads):
    """Stable descending sort of gamma + p: the first K (ties -> lower index)."""
    v = scores + bias
    order = np.argsort(-v, axis=1, kind="stable")[:, :K]
    sel[:] = order
    np.add.at(loads, order.ravel(), 1)
    return np.take_along_axis(v, order, axis=1).sum(axis=1)


def route_topk_argpartition(scores, bias, K):
    """The usual NumPy idiom (unordered top-K by ``argpartition``; ties broken arbitrarily): benchmark baseline."""
    v = scores + bias
    sel = np.argpartition(-v, K - 1, axis=1)[:, :K]
    loads = np.bincount(sel.ravel(), minlength=scores.shape[1])
    return sel, loads


def route_topk_scaled(scores, scale, K, sel, loads):
    v = scores * scale
    order = np.argsort(-v, axis=1, kind="stable")[:, :K]
    sel[:] = order
    np.add.at(loads, order.ravel(), 1)


def dual_value(topsum, bias, L):
    return float(np.sum(topsum) - L * np.sum(bias))


def selected_affinity(scores, sel):
    return float(np.take_along_axis(scores, sel, axis=1).sum())


def max_violation(loads, L):
    return (np.max(loads) - L) / L


def max_abs_imbalance(loads, L):
    return int(np.max(np.abs(np.asarray(loads) - L)))


# --- bias updates ------------------------------------------------------------------------------------

def step_size(schedule, n, step, n0, mu):
    if schedule == SCHED_CONST:
        return step
    if schedule == SCHED_HARMONIC:
        return step / (n + n0)
    return 1.0 / (mu * n)


def update_bias(bias, loads, L, rule, eta, centre, delta):
    e = L - np.asarray(loads)
    if rule in (RULE_SIGN, RULE_MULT):
        d = eta * np.sign(e)
    elif rule == RULE_PROP:
        d = eta * e / L
    else:
        d = eta * e
    if centre:
        d = d - d.mean()
    delta[:] = d
    bias += d
    if rule == RULE_MULT:
        np.maximum(bias, MULT_FLOOR, out=bias)


# --- diagnostics -------------------------------------------------------------------------------------

def expert_status(loads, L):
    loads = np.asarray(loads)
    return np.where(loads > L, OVER, np.where(loads == L, BALANCED, UNDER))


def preference_moves(sel_prev, sel_new, dshift, status, atol, flow):
    violations = neutral = 0
    for prev, new in zip(sel_prev, sel_new):
        left = set(prev.tolist()) - set(new.tolist())
        entered = set(new.tolist()) - set(prev.tolist())
        for k in left:
            for kp in entered:
                diff = dshift[kp] - dshift[k]
                violations += diff < -atol
                neutral += abs(diff) <= atol
                flow[status[k], status[kp]] += 1
    return int(violations), int(neutral)


def dual_distance(bias, p_star):
    d = np.asarray(bias) - np.asarray(p_star)
    return 0.5 * (d.max() - d.min())


def balance_bound(gaps_sorted, delta, atol):
    return int(np.sum(np.asarray(gaps_sorted) <= 2.0 * delta + atol))


def run_fixed(scores, K, n_iter, rule, schedule, step, n0, mu, centre, bias0, p_star, gaps_sorted, atol):
    T, E = scores.shape
    L = K * T // E
    bias = bias0.astype(float).copy()
    rec = {name: [] for name in ("bias", "loads", "dual", "affinity", "dist", "bound", "etas", "deltas", "lo",
                                 "hi", "violations", "neutral")}
    flow = np.zeros((3, 3), np.int64)
    sel = np.empty((T, K), np.int64)
    loads = np.zeros(E, np.int64)
    topsum = route_topk(scores, bias, K, sel, loads)
    delta = np.empty(E)
    for n in range(n_iter + 1):
        rec["bias"].append(bias.copy())
        rec["loads"].append(loads.copy())
        rec["dual"].append(dual_value(topsum, bias, L))
        rec["affinity"].append(selected_affinity(scores, sel))
        rec["dist"].append(dual_distance(bias, p_star))
        rec["bound"].append(balance_bound(gaps_sorted, rec["dist"][-1], atol))
        if n == n_iter:
            break
        eta = step_size(schedule, n + 1, step, n0, mu)
        rec["etas"].append(eta)
        update_bias(bias, loads, L, rule, eta, centre, delta)
        rec["deltas"].append(delta.copy())
        sel_new = np.empty((T, K), np.int64)
        loads_new = np.zeros(E, np.int64)
        topsum = route_topk(scores, bias, K, sel_new, loads_new)
        rec["lo"].append(float(np.dot(loads - L, delta)))
        rec["hi"].append(float(np.dot(loads_new - L, delta)))
        v, z = preference_moves(sel, sel_new, delta, expert_status(loads, L), atol, flow)
        rec["violations"].append(v)
        rec["neutral"].append(z)
        sel, loads = sel_new, loads_new
    out = [np.array(rec[k]) for k in ("bias", "loads", "dual", "affinity", "dist", "bound", "etas", "deltas", "lo",
                                      "hi", "violations", "neutral")]
    return FixedRun(*out, flow)


# --- generators --------------------------------------------------------------------------------------

def draw_offsets(rs, E, offset_scale):
    return offset_scale * rs.standard_normal(E)


def offset_noise_batch(rs, offsets, sigma, noise, T):
    E = offsets.size
    xi = rs.gumbel(0.0, 1.0, size=(T, E)) if noise == NOISE_GUMBEL else rs.standard_normal((T, E))
    return offsets + sigma * xi


def fixed_batch(seed, T, E, offset_scale, sigma, noise):
    rs = np.random.RandomState(seed)
    offsets = draw_offsets(rs, E, offset_scale)
    return offset_noise_batch(rs, offsets, sigma, noise, T), offsets


def router_setup(rs, E, dim, topics, offset_scale):
    means = rs.standard_normal((topics, dim))
    centroids = rs.standard_normal((E, dim)) / np.sqrt(dim)
    offsets = offset_scale * rs.standard_normal(E)
    return means, centroids, offsets


def router_batch(rs, means, centroids, offsets, beta, token_noise, T):
    topics, dim = means.shape
    features = np.empty((T, dim))
    for i in range(T):
        m = int(rs.random_sample() * topics)
        features[i] = means[m] + token_noise * rs.standard_normal(dim)
    acc = np.zeros((T, centroids.shape[0]))
    for j in range(dim):  # the kernel's summation order over j
        acc = acc + features[:, j:j + 1] * centroids[:, j][None, :]
    return beta * acc + offsets, features


def router_drift(rs, centroids, offsets, rho, rho_c):
    centroids += rho / np.sqrt(centroids.shape[1]) * rs.standard_normal(centroids.shape)
    offsets += rho_c * rs.standard_normal(offsets.size)


def sigmoid(logits, shift):
    return 1.0 / (1.0 + np.exp(-(logits + shift)))


def run_stream(seed, T, E, K, offset_scale, sigma, noise, n_iter, rule, schedule, step, n0, mu, centre, bias0,
               record_every):
    rs = np.random.RandomState(seed)
    offsets = draw_offsets(rs, E, offset_scale)
    L = K * T // E
    bias = bias0.astype(float).copy()
    bias_rec, sq_grad, maxvio = [], [], []
    delta = np.empty(E)
    for n in range(n_iter):
        if n % record_every == 0:
            bias_rec.append(bias.copy())
        scores = offset_noise_batch(rs, offsets, sigma, noise, T)
        sel = np.empty((T, K), np.int64)
        loads = np.zeros(E, np.int64)
        if rule == RULE_MULT:
            route_topk_scaled(scores, bias, K, sel, loads)
        else:
            route_topk(scores, bias, K, sel, loads)
        sq_grad.append(float(np.sum((loads - L) ** 2)))
        maxvio.append(max_violation(loads, L))
        update_bias(bias, loads, L, rule, step_size(schedule, n + 1, step, n0, mu), centre, delta)
    if n_iter % record_every == 0:
        bias_rec.append(bias.copy())
    return offsets, np.array(bias_rec), np.array(sq_grad), np.array(maxvio)


# --- baselines ---------------------------------------------------------------------------------------

def sinkhorn_duals(scores, K, tau, tol, max_sweeps, p):
    """Log-domain Sinkhorn with scipy's logsumexp; same sweep and stopping rule as the kernel."""
    T, E = scores.shape
    L = K * T / E
    sweeps = 0
    while sweeps < max_sweeps:
        sweeps += 1
        y = tau * (logsumexp((scores + p) / tau, axis=1) - np.log(K))
        log_col = logsumexp((scores - y[:, None]) / tau, axis=0)          # log sum_i exp((gamma_ik - y_i)/tau)
        worst = np.max(np.abs(np.exp(p / tau + log_col - np.log(L)) - 1.0))
        p[:] = tau * np.log(L) - tau * log_col
        if worst < tol:
            break
    return sweeps


def expert_choice(scores, L):
    """Each expert's L best tokens by a stable sort (ties -> lower token index)."""
    T, E = scores.shape
    taken = np.zeros((T, E), bool)
    order = np.argsort(-scores, axis=0, kind="stable")[:L]
    np.put_along_axis(taken, order, True, axis=0)
    return taken, taken.sum(axis=0), float(scores[taken].sum())


def capacity_drop(scores, sel, capacity):
    E = scores.shape[1]
    loads = np.zeros(E, np.int64)
    kept, dropped = 0.0, 0
    for i, row in enumerate(sel):
        for k in row:
            if loads[k] < capacity:
                loads[k] += 1
                kept += scores[i, k]
            else:
                dropped += 1
    return loads, kept, dropped


def aux_loss_step(scores, loads, K, alpha, lr, pull, q):
    T, E = scores.shape
    m = np.mean(scores * (1.0 - scores), axis=0)
    f = E * np.asarray(loads) / (K * T)
    q -= lr * (alpha * f * m + pull * q)


def run_router(seed, T, E, K, dim, topics, beta, token_noise, offset_scale, rho, rho_c, n_iter, fam, rule, hyper,
               aux_lr, aux_pull, capacity, tau, tol, max_sweeps, n_eval, record_every):
    """The kernel's loop, method by method, in NumPy (returns the same named result)."""
    rs = np.random.RandomState(seed)
    V = len(fam)
    L = K * T // E
    means, centroids, offsets = router_setup(rs, E, dim, topics, offset_scale)
    state = np.zeros((V, E))
    state[(np.asarray(fam) == FAM_LOSSFREE) & (np.asarray(rule) == RULE_MULT)] = 1.0
    delta = np.empty(E)

    def route(v, logits, scores, free_sel, free_loads):
        if fam[v] == FAM_NONE:
            return selected_affinity(scores, free_sel), 0.0, 0.0, free_loads.copy(), None
        if fam[v] == FAM_CAPACITY:
            loads, kept, dropped = capacity_drop(scores, free_sel, capacity)
            return kept, dropped / (T * K), 0.0, loads, None
        if fam[v] == FAM_EC:
            taken, loads, total = expert_choice(scores, L)
            return total, float(np.mean(~taken.any(axis=1))), 0.0, loads, None
        sel = np.empty((T, K), np.int64)
        loads = np.zeros(E, np.int64)
        if fam[v] == FAM_AUX:
            gates = sigmoid(logits, state[v])
            route_topk(gates, np.zeros(E), K, sel, loads)
            inter = float(np.mean(np.abs(np.take_along_axis(gates - scores, sel, axis=1))))
            return selected_affinity(scores, sel), 0.0, inter, loads, gates
        if fam[v] == FAM_SINKHORN:
            sinkhorn_duals(scores, K, tau, tol, max_sweeps, state[v])
            route_topk(scores, state[v], K, sel, loads)
        elif rule[v] == RULE_MULT:
            route_topk_scaled(scores, state[v], K, sel, loads)
        else:
            route_topk(scores, state[v], K, sel, loads)
        return selected_affinity(scores, sel), 0.0, 0.0, loads, None

    def batch():
        logits, _ = router_batch(rs, means, centroids, offsets, beta, token_noise, T)
        scores = sigmoid(logits, np.zeros(E))
        free_sel = np.empty((T, K), np.int64)
        free_loads = np.zeros(E, np.int64)
        route_topk(scores, np.zeros(E), K, free_sel, free_loads)
        return logits, scores, free_sel, free_loads

    keys = ("maxvio", "affinity", "dropped", "interference")
    per = {k: np.empty((V, n_iter)) for k in keys}
    free = np.empty(n_iter)
    state_rec = []
    for n in range(n_iter):
        if n % record_every == 0:
            state_rec.append(state.copy())
        logits, scores, free_sel, free_loads = batch()
        free[n] = selected_affinity(scores, free_sel)
        for v in range(V):
            aff, drop, inter, loads, gates = route(v, logits, scores, free_sel, free_loads)
            per["affinity"][v, n], per["dropped"][v, n], per["interference"][v, n] = aff, drop, inter
            per["maxvio"][v, n] = max_violation(loads, L)
            if fam[v] == FAM_LOSSFREE:
                update_bias(state[v], loads, L, rule[v], hyper[v], False, delta)
            elif fam[v] == FAM_AUX:
                aux_loss_step(gates, loads, K, hyper[v], aux_lr, aux_pull, state[v])
        router_drift(rs, centroids, offsets, rho, rho_c)
    if n_iter % record_every == 0:
        state_rec.append(state.copy())

    loads_eval = np.zeros((V, E), np.int64)
    aff_eval, drop_eval, inter_eval = np.zeros(V), np.zeros(V), np.zeros(V)
    free_eval, gap_sum = 0.0, 0.0
    first = None
    for b in range(n_eval):
        logits, scores, free_sel, free_loads = batch()
        free_eval += selected_affinity(scores, free_sel)
        if K < E:
            top = -np.sort(-scores, axis=1)[:, :K + 1]
            gap_sum += float(np.sum(top[:, K - 1] - top[:, K]))
        rows = [route(v, logits, scores, free_sel, free_loads) for v in range(V)]
        if b == 0:
            first = (scores.copy(), np.array([r[3] for r in rows]), np.array([r[0] for r in rows]))
        for v, (aff, drop, inter, loads, _) in enumerate(rows):
            loads_eval[v] += loads
            aff_eval[v] += aff
            drop_eval[v] += drop / n_eval
            inter_eval[v] += inter / n_eval
    return RouterRun(per["maxvio"], per["affinity"], per["dropped"], per["interference"], free,
                     np.stack(state_rec, axis=1), loads_eval, aff_eval, drop_eval, inter_eval, free_eval,
                     gap_sum / (n_eval * T), *first)



# --- a trained mixture of experts ---------------------------------------------------------------------

def mixture_task(rs, clusters, dim, out_dim, separation):
    means = separation / np.sqrt(dim) * rs.standard_normal((clusters, dim))
    maps = rs.standard_normal((clusters, out_dim, dim)) / np.sqrt(dim)
    return means, maps, rs.standard_normal((clusters, out_dim))


def mixture_batch(rs, means, maps, offsets, spread, noise, T):
    clusters, out_dim, dim = maps.shape
    X, Y = np.empty((T, dim)), np.empty((T, out_dim))
    for i in range(T):   # the kernel's order of draws: cluster, features, target noise, token by token
        c = int(rs.random_sample() * clusters)
        X[i] = means[c] + spread / np.sqrt(dim) * rs.standard_normal(dim)
        Y[i] = maps[c] @ X[i] + offsets[c] + noise * rs.standard_normal(out_dim)
    return X, Y


def moe_init(rs, E, dim, out_dim, router_scale):
    R = router_scale / np.sqrt(dim) * rs.standard_normal((E, dim))
    A = rs.standard_normal((E, out_dim, dim)) / np.sqrt(dim)
    return R, np.zeros(E), A, np.zeros((E, out_dim))


def moe_forward(X, R, c, A, a, u, K):
    """Returns (scores, sel, pred, loads, expert outputs F (T, K, m) of the selected experts)."""
    scores = 1.0 / (1.0 + np.exp(-(X @ R.T + c)))
    sel = np.argsort(-(scores + u), axis=1, kind="stable")[:, :K]   # descending, lowest index among ties
    F = np.einsum("tkod,td->tko", A[sel], X) + a[sel]
    gates = np.take_along_axis(scores, sel, axis=1)          # the unbiased scores: u is not used here
    pred = np.einsum("tk,tko->to", gates, F)
    return scores, sel, pred, np.bincount(sel.ravel(), minlength=len(u)), F


def moe_loss(Y, pred):
    return float(0.5 * np.mean(np.sum((pred - Y) ** 2, axis=1)))


def moe_gradient(X, Y, K, alpha, scores, sel, F, pred, loads, shapes):
    """Returns (gR, gc, gA, ga) of task loss + alpha sum_k f_k P_k, selection held fixed (``shapes``: A, a)."""
    T, E = scores.shape
    A, a = shapes
    g = np.take_along_axis(scores, sel, axis=1)
    e = pred - Y
    gA, ga = np.zeros_like(A), np.zeros_like(a)
    np.add.at(gA, sel, g[:, :, None, None] * e[:, None, :, None] * X[:, None, None, :] / T)
    np.add.at(ga, sel, g[:, :, None] * e[:, None, :] / T)
    dz = np.zeros((T, E))
    rows = np.arange(T)[:, None]
    dz[rows, sel] = np.einsum("to,tko->tk", e, F) * g * (1 - g) / T
    if alpha > 0:
        dz += alpha * (E * np.asarray(loads) / (K * T))[None, :] * scores * (1 - scores) / T
    return dz.T @ X, dz.sum(axis=0), gA, ga


def run_trained(seed, T, E, K, dim, out_dim, clusters, separation, spread, noise, router_scale, lr, lr_final,
                n_iter, fam, hyper, n_eval, record_every, fd_step):
    """The kernel's training loop in NumPy (returns the same named result)."""
    rs = np.random.RandomState(seed)
    V = len(fam)
    L = K * T / E
    task = mixture_task(rs, clusters, dim, out_dim, separation)
    Xe, Ye = mixture_batch(rs, *task, spread, noise, n_eval)
    init = moe_init(rs, E, dim, out_dim, router_scale)
    params = [[p.copy() for p in init] for _ in range(V)]
    us = np.zeros((V, E))
    L_eval = K * n_eval / E

    def evaluate(v, u):
        _, sel, pred, loads, _ = moe_forward(Xe, *params[v], u, K)
        return moe_loss(Ye, pred), sel, loads

    train_loss, maxvio_batch = np.empty((V, n_iter)), np.empty((V, n_iter))
    n_rec = n_iter // record_every + 1
    eval_loss, eval_maxvio, bias_rec = np.empty((V, n_rec)), np.empty((V, n_rec)), np.empty((V, n_rec, E))
    for n in range(n_iter + 1):
        if n % record_every == 0:
            r = n // record_every
            for v in range(V):
                eval_loss[v, r], _, loads = evaluate(v, us[v])
                eval_maxvio[v, r] = (loads.max() - L_eval) / L_eval
                bias_rec[v, r] = us[v]
        if n == n_iter:
            break
        X, Y = mixture_batch(rs, *task, spread, noise, T)
        rate = lr_final + 0.5 * (lr - lr_final) * (1.0 + np.cos(np.pi * n / n_iter))
        for v in range(V):
            R, c, A, a = params[v]
            scores, sel, pred, loads, F = moe_forward(X, R, c, A, a, us[v], K)
            train_loss[v, n] = moe_loss(Y, pred)
            maxvio_batch[v, n] = (loads.max() - L) / L
            alpha = hyper[v] if fam[v] == FAM_AUX else 0.0
            for p, grad in zip(params[v], moe_gradient(X, Y, K, alpha, scores, sel, F, pred, loads, (A, a))):
                p -= rate * grad
            if fam[v] == FAM_LOSSFREE:
                us[v] += hyper[v] * np.sign(L - loads)

    eval_loads = np.zeros((V, E), np.int64)
    fd_bias, fd_gate, fd_changed = np.zeros((V, E)), np.zeros((V, E)), np.zeros(V, np.int64)
    for v in range(V):
        _, sel_ref, eval_loads[v] = evaluate(v, us[v])
        _, _, pred, _, F = moe_forward(Xe, *params[v], us[v], K)
        for k in range(E):
            side, changed = [], False
            for h in (fd_step, -fd_step):
                u = us[v].copy()
                u[k] += h
                loss, sel, _ = evaluate(v, u)
                side.append(loss)
                changed |= bool(np.any(sel != sel_ref))
            fd_bias[v, k] = (side[0] - side[1]) / (2 * fd_step)
            fd_changed[v] += changed
            mask = (sel_ref == k)[:, :, None]
            shift = (F * mask).sum(axis=1)           # f_k for tokens that select k, else 0
            fd_gate[v, k] = (moe_loss(Ye, pred + fd_step * shift) - moe_loss(Ye, pred - fd_step * shift)) / (2 * fd_step)
    return TrainedRun(train_loss, maxvio_batch, eval_loss, eval_maxvio, bias_rec, eval_loads, fd_bias, fd_gate,
                      fd_changed)
