"""Numba kernels of auxiliary-loss-free load balancing (ALF-LB) for sparse MoE routing.

Arrays in, arrays out; integer codes (the constants below) select update rules,
step schedules, noise laws and baseline families.  Conventions shared by every kernel:

* iteration ``n`` routes with bias ``p^n``, counts the loads ``A^n``, then updates
  ``p^{n+1} = p^n + dp^n``; step-size schedules are evaluated at ``n + 1`` (1-based);
* top-K selection ranks experts by biased score; **ties go to the lowest expert
  index**; ``sel[i]`` lists the chosen experts in that rank order;
* the target load is ``L = K T / E`` (an integer, checked by the callers);
* randomness is Numba's Mersenne Twister, seeded inside the kernel with
  ``np.random.seed``; it is bit-identical to ``np.random.RandomState(seed)`` drawn in
  the same order (the NumPy twins in :mod:`reference` rely on this); no ``prange``.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit

# update rules: p_k += step * sign(L - A_k) | step * (L - A_k) / L | step * (L - A_k);
# MULT is the sign update of a multiplicative scale b (selection by score * b, b starts at 1)
RULE_SIGN, RULE_PROP, RULE_GRAD, RULE_MULT = 0, 1, 2, 3
# step schedules: step | step / (n + n0) | 1 / (mu n)
SCHED_CONST, SCHED_HARMONIC, SCHED_THEORY = 0, 1, 2
# noise of the offset + noise generator
NOISE_GUMBEL, NOISE_GAUSS = 0, 1
# routing methods of the router simulation
FAM_NONE, FAM_LOSSFREE, FAM_AUX, FAM_SINKHORN, FAM_EC, FAM_CAPACITY = 0, 1, 2, 3, 4, 5
# expert status classes for the flow matrix
OVER, BALANCED, UNDER = 0, 1, 2
MULT_FLOOR = 1e-6  # multiplicative scales are kept positive

# Named results of the long-running kernels (Numba builds and caches namedtuples like tuples).
# run_fixed: per iteration n = 0..N (bias .. bound), per update n -> n+1 (step_size .. neutral), totals (flow)
FixedRun = namedtuple("FixedRun", ["bias", "loads", "dual", "affinity", "distance", "bound", "step_size",
                                   "increment", "sandwich_lo", "sandwich_hi", "violations", "neutral", "flow"])
# run_router: per variant and iteration (maxvio .. interference), per iteration (affinity_free), stored states,
# totals over the held-out pool (*_eval, score_gap) and the first held-out batch with every variant's loads
# and affinity on it (lp_scores, lp_loads, lp_affinity: the inputs of an exact LP comparison)
RouterRun = namedtuple("RouterRun", ["maxvio", "affinity", "dropped", "interference", "affinity_free", "state",
                                     "loads_eval", "affinity_eval", "dropped_eval", "interference_eval",
                                     "affinity_free_eval", "score_gap", "lp_scores", "lp_loads", "lp_affinity"])


# --- routing ----------------------------------------------------------------------------------------

@njit(cache=True, inline="always")
def _topk_row(v, K, idx, val):
    """Top-K of ``v`` into ``idx[:K]`` (descending, ties -> lower index first); returns their sum.

    One pass with a sorted insertion buffer: O(E K) worst case, O(E) when few entries
    beat the current K-th value.  A later index enters only if strictly larger, which
    is the lowest-index tie-break.
    """
    n = 0
    for k in range(v.shape[0]):
        x = v[k]
        if n == K:
            if not x > val[K - 1]:
                continue
            pos = K - 1
        else:
            pos = n
            n += 1
        while pos > 0 and val[pos - 1] < x:
            val[pos] = val[pos - 1]
            idx[pos] = idx[pos - 1]
            pos -= 1
        val[pos] = x
        idx[pos] = k
    total = 0.0
    for j in range(K):
        total += val[j]
    return total


@njit(cache=True)
def route_topk(scores, bias, K, sel, loads):
    """Route every token to the top-K experts of ``scores[i] + bias``.

    Fills ``sel`` (T, K) and **adds** the counts to ``loads`` (E,); returns
    ``topsum[i]``, the sum of token i's K largest biased scores (the dual function's
    per-token term).  Gate values are not touched: the bias enters the selection only.
    One pass per token with a sorted insertion buffer (:func:`_topk_row`):
    O(T E K) worst case, O(T E) when few entries beat the running K-th value.
    """
    T, E = scores.shape
    topsum = np.empty(T)
    v = np.empty(E)
    val = np.empty(K)
    for i in range(T):
        for k in range(E):
            v[k] = scores[i, k] + bias[k]
        topsum[i] = _topk_row(v, K, sel[i], val)
        for j in range(K):
            loads[sel[i, j]] += 1
    return topsum


@njit(cache=True)
def route_topk_scaled(scores, scale, K, sel, loads):
    """Multiplicative variant: top-K of ``scores[i] * scale`` (DeepSeek's Table 4 rule)."""
    T, E = scores.shape
    v = np.empty(E)
    val = np.empty(K)
    for i in range(T):
        for k in range(E):
            v[k] = scores[i, k] * scale[k]
        _topk_row(v, K, sel[i], val)
        for j in range(K):
            loads[sel[i, j]] += 1


@njit(cache=True)
def dual_value(topsum, bias, L):
    """D(p) = sum_i S_K(gamma_i + p) - L sum_k p_k."""
    total = 0.0
    for i in range(topsum.shape[0]):
        total += topsum[i]
    shift = 0.0
    for k in range(bias.shape[0]):
        shift += bias[k]
    return total - L * shift


@njit(cache=True)
def selected_affinity(scores, sel):
    """sum_i sum_{k in S_i} gamma_ik: the affinity routed, measured on the unbiased scores."""
    total = 0.0
    for i in range(sel.shape[0]):
        for j in range(sel.shape[1]):
            total += scores[i, sel[i, j]]
    return total


@njit(cache=True)
def max_violation(loads, L):
    """MaxVio = (max_k A_k - L) / L with L the perfectly balanced load."""
    top = loads[0]
    for k in range(1, loads.shape[0]):
        if loads[k] > top:
            top = loads[k]
    return (top - L) / L


@njit(cache=True)
def max_abs_imbalance(loads, L):
    """max_k |A_k - L| (tokens)."""
    worst = 0
    for k in range(loads.shape[0]):
        d = abs(loads[k] - L)
        if d > worst:
            worst = d
    return worst


# --- bias updates -----------------------------------------------------------------------------------

@njit(cache=True)
def step_size(schedule, n, step, n0, mu):
    """Step of update n (1-based): ``step``, ``step / (n + n0)`` or ``1 / (mu n)``."""
    if schedule == SCHED_CONST:
        return step
    if schedule == SCHED_HARMONIC:
        return step / (n + n0)
    return 1.0 / (mu * n)


@njit(cache=True)
def update_bias(bias, loads, L, rule, eta, centre, delta):
    """One ALF-LB update of ``bias`` in place from the loads of the batch just routed.

    ``delta`` receives the applied increment.  sign: ``eta sign(L - A_k)`` (sign(0) = 0);
    prop: ``eta (L - A_k) / L``; grad: ``eta (L - A_k)``; mult: the sign increment added to
    a multiplicative scale, floored at ``MULT_FLOOR``.  ``centre`` subtracts the mean
    increment (zero-mean recentring; routing-neutral for additive rules).
    """
    E = bias.shape[0]
    for k in range(E):
        e = L - loads[k]
        if rule == RULE_SIGN or rule == RULE_MULT:
            d = eta * ((e > 0) - (e < 0))
        elif rule == RULE_PROP:
            d = eta * e / L
        else:
            d = eta * e
        delta[k] = d
    if centre:
        mean = 0.0
        for k in range(E):
            mean += delta[k]
        mean /= E
        for k in range(E):
            delta[k] -= mean
    for k in range(E):
        bias[k] += delta[k]
        if rule == RULE_MULT and bias[k] < MULT_FLOOR:
            bias[k] = MULT_FLOOR


# --- diagnostics of the deterministic theory --------------------------------------------------------

@njit(cache=True)
def _contains(row, k):
    for j in range(row.shape[0]):
        if row[j] == k:
            return True
    return False


@njit(cache=True)
def expert_status(loads, L, out):
    """OVER (A > L), BALANCED (A = L) or UNDER (A < L) per expert."""
    for k in range(loads.shape[0]):
        out[k] = OVER if loads[k] > L else (BALANCED if loads[k] == L else UNDER)


@njit(cache=True)
def preference_moves(sel_prev, sel_new, dshift, status, atol, flow):
    """Classify every (leaving k, entering k') pair of every token between two routings.

    Returns ``(violations, neutral)``: pairs with ``dshift[k'] < dshift[k] - atol`` (the
    preference rule forbids these) and pairs with ``|dshift[k'] - dshift[k]| <= atol``.
    Adds each pair to ``flow[status[k], status[k']]``.
    """
    T, K = sel_prev.shape
    violations = 0
    neutral = 0
    for i in range(T):
        for a in range(K):
            k = sel_prev[i, a]
            if _contains(sel_new[i], k):
                continue
            for b in range(K):
                kp = sel_new[i, b]
                if _contains(sel_prev[i], kp):
                    continue
                diff = dshift[kp] - dshift[k]
                if diff < -atol:
                    violations += 1
                elif diff <= atol:
                    neutral += 1
                flow[status[k], status[kp]] += 1
    return violations, neutral


@njit(cache=True)
def dual_distance(bias, p_star):
    """delta(p) = min_c ||p - p* - c 1||_inf = (max - min of p - p*) / 2."""
    lo = np.inf
    hi = -np.inf
    for k in range(bias.shape[0]):
        d = bias[k] - p_star[k]
        lo = min(lo, d)
        hi = max(hi, d)
    return 0.5 * (hi - lo)


@njit(cache=True)
def balance_bound(gaps_sorted, delta, atol):
    """M(delta) = #{i : gap_i <= 2 delta + atol} on ascending gaps."""
    return np.searchsorted(gaps_sorted, 2.0 * delta + atol, side="right")


@njit(cache=True)
def run_fixed(scores, K, n_iter, rule, schedule, step, n0, mu, centre, bias0, p_star, gaps_sorted,
              atol):
    """ALF-LB on one fixed batch (the deterministic setting), with every diagnostic of the theory.

    Additive rules only (sign, prop, grad).  Returns a :data:`FixedRun`: for n = 0..n_iter
    the bias p^n, loads A^n, D(p^n), routed affinity, delta(p^n) and M(delta(p^n)); for
    each update n -> n+1 the step, the increment, the sandwich bounds g^n . dp and
    g^{n+1} . dp (g = A - L), and the preference-rule counts; and the 3 x 3 status flow
    matrix.
    """
    T, E = scores.shape
    L = K * T // E
    n_rec = n_iter + 1
    bias_rec = np.empty((n_rec, E))
    loads_rec = np.empty((n_rec, E), np.int64)
    dual = np.empty(n_rec)
    affinity = np.empty(n_rec)
    dist = np.empty(n_rec)
    bound = np.empty(n_rec, np.int64)
    etas = np.empty(n_iter)
    deltas = np.empty((n_iter, E))
    lo = np.empty(n_iter)
    hi = np.empty(n_iter)
    violations = np.zeros(n_iter, np.int64)
    neutral = np.zeros(n_iter, np.int64)
    flow = np.zeros((3, 3), np.int64)

    bias = bias0.copy()
    sel = np.empty((T, K), np.int64)
    sel_new = np.empty((T, K), np.int64)
    loads = np.zeros(E, np.int64)
    loads_new = np.zeros(E, np.int64)
    status = np.empty(E, np.int64)
    delta = np.empty(E)
    topsum = route_topk(scores, bias, K, sel, loads)
    for n in range(n_rec):
        bias_rec[n] = bias
        loads_rec[n] = loads
        dual[n] = dual_value(topsum, bias, L)
        affinity[n] = selected_affinity(scores, sel)
        dist[n] = dual_distance(bias, p_star)
        bound[n] = balance_bound(gaps_sorted, dist[n], atol)
        if n == n_iter:
            break
        eta = step_size(schedule, n + 1, step, n0, mu)
        etas[n] = eta
        update_bias(bias, loads, L, rule, eta, centre, delta)
        deltas[n] = delta
        loads_new[:] = 0
        topsum = route_topk(scores, bias, K, sel_new, loads_new)
        s_lo = 0.0
        s_hi = 0.0
        for k in range(E):
            s_lo += (loads[k] - L) * delta[k]
            s_hi += (loads_new[k] - L) * delta[k]
        lo[n] = s_lo
        hi[n] = s_hi
        expert_status(loads, L, status)
        violations[n], neutral[n] = preference_moves(sel, sel_new, delta, status, atol, flow)
        sel, sel_new = sel_new, sel
        loads, loads_new = loads_new, loads
    return FixedRun(bias_rec, loads_rec, dual, affinity, dist, bound, etas, deltas, lo, hi, violations, neutral,
                    flow)


# --- affinity generators ----------------------------------------------------------------------------

@njit(cache=True)
def seed_rng(seed):
    """Seed Numba's generator (separate from NumPy's global state)."""
    np.random.seed(seed)


@njit(cache=True)
def draw_offsets(E, offset_scale):
    """Expert offsets c_k ~ N(0, offset_scale^2) from the current stream."""
    offsets = np.empty(E)
    for k in range(E):
        offsets[k] = offset_scale * np.random.standard_normal()
    return offsets


@njit(cache=True)
def offset_noise_batch(offsets, sigma, noise, out):
    """G0: ``out[i, k] = c_k + sigma xi_ik`` with xi i.i.d. standard Gumbel or Gaussian (row-major draws)."""
    T, E = out.shape
    for i in range(T):
        for k in range(E):
            if noise == NOISE_GUMBEL:
                xi = np.random.gumbel(0.0, 1.0)
            else:
                xi = np.random.standard_normal()
            out[i, k] = offsets[k] + sigma * xi


@njit(cache=True)
def fixed_batch(seed, T, E, offset_scale, sigma, noise):
    """One G0 batch: seed, draw the offsets, then the (T, E) scores.  Returns ``(scores, offsets)``."""
    np.random.seed(seed)
    offsets = draw_offsets(E, offset_scale)
    scores = np.empty((T, E))
    offset_noise_batch(offsets, sigma, noise, scores)
    return scores, offsets


@njit(cache=True)
def router_setup(E, dim, topics, offset_scale):
    """G1 router state: topic means (M, d) ~ N(0, 1), expert centroids (E, d) ~ N(0, 1/d), offsets ~ N(0, sc^2)."""
    means = np.empty((topics, dim))
    for m in range(topics):
        for j in range(dim):
            means[m, j] = np.random.standard_normal()
    centroids = np.empty((E, dim))
    root = 1.0 / np.sqrt(dim)
    for k in range(E):
        for j in range(dim):
            centroids[k, j] = root * np.random.standard_normal()
    return means, centroids, draw_offsets(E, offset_scale)


@njit(cache=True)
def router_batch(means, centroids, offsets, beta, token_noise, features, logits):
    """G1: a batch of router logits ``z_ik = beta u_i . e_k + c_k``.

    Token i draws a topic uniformly (one uniform) then ``u_i = m_topic + token_noise
    N(0, I_d)`` (d normals); ``features`` (T, d) receives u.  The dot products are
    accumulated over j = 0..d-1 in order (the inner loop runs over experts, so it
    vectorises without reassociating the sum).
    """
    T, E = logits.shape
    topics, dim = means.shape
    for i in range(T):
        m = int(np.random.random() * topics)
        for j in range(dim):
            features[i, j] = means[m, j] + token_noise * np.random.standard_normal()
    cT = np.ascontiguousarray(centroids.T)
    acc = np.empty(E)
    for i in range(T):
        acc[:] = 0.0
        for j in range(dim):
            f = features[i, j]
            for k in range(E):
                acc[k] += f * cT[j, k]
        for k in range(E):
            logits[i, k] = beta * acc[k] + offsets[k]


@njit(cache=True)
def router_drift(centroids, offsets, rho, rho_c):
    """G2: one random-walk step of the router, ``e_k += rho N(0, I/d)``, ``c_k += rho_c N(0, 1)``."""
    E, dim = centroids.shape
    root = rho / np.sqrt(dim)
    for k in range(E):
        for j in range(dim):
            centroids[k, j] += root * np.random.standard_normal()
    for k in range(E):
        offsets[k] += rho_c * np.random.standard_normal()


@njit(cache=True)
def sigmoid(logits, shift, out):
    """``out = 1 / (1 + exp(-(logits + shift)))`` (shift per expert)."""
    T, E = logits.shape
    for i in range(T):
        for k in range(E):
            out[i, k] = 1.0 / (1.0 + np.exp(-(logits[i, k] + shift[k])))


# --- streaming (online) runs ------------------------------------------------------------------------

@njit(cache=True)
def run_stream(seed, T, E, K, offset_scale, sigma, noise, n_iter, rule, schedule, step, n0, mu, centre,
               bias0, record_every):
    """ALF-LB on a fresh G0 batch every iteration (the online setting).

    Seeds, draws the offsets c (as :func:`fixed_batch`), then per iteration a batch,
    routing, and one update.  Returns ``(offsets, bias_rec, sq_grad, maxvio)``: p^n at
    n = 0, r, 2r, ... (r = record_every); ``||A^n - L||^2`` and MaxVio of batches
    n = 0..n_iter-1.
    """
    np.random.seed(seed)
    offsets = draw_offsets(E, offset_scale)
    L = K * T // E
    scores = np.empty((T, E))
    sel = np.empty((T, K), np.int64)
    loads = np.zeros(E, np.int64)
    delta = np.empty(E)
    bias = bias0.copy()
    bias_rec = np.empty((n_iter // record_every + 1, E))
    sq_grad = np.empty(n_iter)
    maxvio = np.empty(n_iter)
    for n in range(n_iter):
        if n % record_every == 0:
            bias_rec[n // record_every] = bias
        offset_noise_batch(offsets, sigma, noise, scores)
        loads[:] = 0
        if rule == RULE_MULT:
            route_topk_scaled(scores, bias, K, sel, loads)
        else:
            route_topk(scores, bias, K, sel, loads)
        sq = 0.0
        for k in range(E):
            sq += (loads[k] - L) * (loads[k] - L)
        sq_grad[n] = sq
        maxvio[n] = max_violation(loads, L)
        update_bias(bias, loads, L, rule, step_size(schedule, n + 1, step, n0, mu), centre, delta)
    if n_iter % record_every == 0:
        bias_rec[n_iter // record_every] = bias
    return offsets, bias_rec, sq_grad, maxvio


# --- baselines --------------------------------------------------------------------------------------

@njit(cache=True)
def sinkhorn_duals(scores, K, tau, tol, max_sweeps, p):
    """Entropic balanced routing: Sinkhorn scaling of exp((gamma + p - y) / tau) to row sums K, column sums L.

    ``p`` (E,) is the warm start and is updated in place; returns the number of sweeps.
    A sweep sets ``y_i = tau log sum_k exp((gamma_ik + p_k) / tau) - tau log K`` then
    ``p_k = tau log L - tau log sum_i exp((gamma_ik - y_i) / tau)``; it stops when every
    column sum is within ``tol`` (relative) of L before the p step.  Log-sum-exp is
    stabilised by the running maximum.  Route by top-K of gamma + p afterwards.
    """
    T, E = scores.shape
    L = K * T / E
    y = np.empty(T)
    col_max = np.empty(E)
    col_sum = np.empty(E)
    log_k = np.log(K)
    log_l = np.log(L)
    sweeps = 0
    while sweeps < max_sweeps:
        sweeps += 1
        for i in range(T):
            m = -np.inf
            for k in range(E):
                m = max(m, scores[i, k] + p[k])
            s = 0.0
            for k in range(E):
                s += np.exp((scores[i, k] + p[k] - m) / tau)
            y[i] = m + tau * (np.log(s) - log_k)
        for k in range(E):
            col_max[k] = -np.inf
            col_sum[k] = 0.0
        for i in range(T):
            for k in range(E):
                col_max[k] = max(col_max[k], scores[i, k] - y[i])
        for i in range(T):
            for k in range(E):
                col_sum[k] += np.exp((scores[i, k] - y[i] - col_max[k]) / tau)
        worst = 0.0
        for k in range(E):
            log_col = (col_max[k] + p[k]) / tau + np.log(col_sum[k])  # log of column sum at the current p
            worst = max(worst, abs(np.exp(log_col - log_l) - 1.0))
            p[k] = tau * log_l - col_max[k] - tau * np.log(col_sum[k])
        if worst < tol:
            break
    return sweeps


@njit(cache=True)
def expert_choice(scores, L, taken, loads):
    """Expert choice: each expert takes its L highest-scoring tokens (ties -> lower token index).

    ``taken`` (T, E) bool receives the assignment, ``loads`` (E,) the counts (all L);
    returns the routed affinity.  Tokens may receive 0..E experts.
    """
    T, E = scores.shape
    col = np.empty(T)
    total = 0.0
    for k in range(E):
        for i in range(T):
            col[i] = scores[i, k]
            taken[i, k] = False
        thr = np.partition(col, T - L)[T - L]  # the L-th largest value
        above = 0
        for i in range(T):
            if scores[i, k] > thr:
                above += 1
        ties = L - above
        count = 0
        for i in range(T):
            x = scores[i, k]
            if x > thr or (x == thr and ties > 0):
                if x == thr:
                    ties -= 1
                taken[i, k] = True
                total += x
                count += 1
        loads[k] = count
    return total


@njit(cache=True)
def capacity_drop(scores, sel, capacity, loads):
    """Capacity C per expert, first come first served in token order (then rank order).

    ``loads`` (E,) receives the processed counts (<= C); returns ``(affinity kept,
    dropped token-expert pairs)``.
    """
    T, K = sel.shape
    loads[:] = 0
    kept = 0.0
    dropped = 0
    for i in range(T):
        for j in range(K):
            k = sel[i, j]
            if loads[k] < capacity:
                loads[k] += 1
                kept += scores[i, k]
            else:
                dropped += 1
    return kept, dropped


@njit(cache=True)
def aux_loss_step(scores, loads, K, alpha, lr, pull, q):
    """One SGD step of the auxiliary loss alpha sum_k f_k P_k (plus pull |q|^2 / 2) on router offsets q.

    ``scores`` are the gate scores sigmoid(z + q) of the batch, ``loads`` its counts.
    f_k = E A_k / (K T) is held fixed; dP_k / dq_k = mean_i s_ik (1 - s_ik).
    """
    T, E = scores.shape
    for k in range(E):
        m = 0.0
        for i in range(T):
            s = scores[i, k]
            m += s * (1.0 - s)
        m /= T
        f = E * loads[k] / (K * T)
        q[k] -= lr * (alpha * f * m + pull * q[k])


@njit(cache=True)
def _interference(gates, scores, sel):
    total = 0.0
    for i in range(sel.shape[0]):
        for j in range(sel.shape[1]):
            k = sel[i, j]
            total += abs(gates[i, k] - scores[i, k])
    return total / (sel.shape[0] * sel.shape[1])


@njit(cache=True)
def _route_variant(fam, rule, state, logits, scores, K, capacity, tau, tol, max_sweeps, free_sel, free_loads,
                   sel, loads, gates, taken, zeros):
    """Route one batch with one method; returns (routed affinity, dropped fraction, interference).

    ``free_sel``/``free_loads`` hold the batch's unconstrained top-K routing (shared by
    the no-balancing and capacity methods); ``loads`` receives the method's loads.
    """
    T, E = scores.shape
    L = K * T // E
    loads[:] = 0
    if fam == FAM_NONE:
        loads[:] = free_loads
        return selected_affinity(scores, free_sel), 0.0, 0.0
    if fam == FAM_CAPACITY:
        kept, dropped = capacity_drop(scores, free_sel, capacity, loads)
        return kept, dropped / (T * K), 0.0
    if fam == FAM_EC:
        total = expert_choice(scores, L, taken, loads)
        idle = 0
        for i in range(T):
            any_ = False
            for k in range(E):
                if taken[i, k]:
                    any_ = True
                    break
            if not any_:
                idle += 1
        return total, idle / T, 0.0
    if fam == FAM_AUX:
        sigmoid(logits, state, gates)
        route_topk(gates, zeros, K, sel, loads)
        return selected_affinity(scores, sel), 0.0, _interference(gates, scores, sel)
    if fam == FAM_SINKHORN:
        sinkhorn_duals(scores, K, tau, tol, max_sweeps, state)
        route_topk(scores, state, K, sel, loads)
    elif rule == RULE_MULT:
        route_topk_scaled(scores, state, K, sel, loads)
    else:
        route_topk(scores, state, K, sel, loads)
    return selected_affinity(scores, sel), 0.0, 0.0


@njit(cache=True)
def run_router(seed, T, E, K, dim, topics, beta, token_noise, offset_scale, rho, rho_c, n_iter, fam,
               rule, hyper, aux_lr, aux_pull, capacity, tau, tol, max_sweeps, n_eval, record_every):
    """Every routing method on the same drifting sigmoid router (G1 + G2), batch by batch.

    Per iteration: draw a batch of logits z, scores gamma = sigmoid(z); route with each
    method v (``fam[v]``, ``rule[v]`` and ``hyper[v]`` = update rate u or aux weight
    alpha), update its state (ALF-LB bias, aux-loss router offsets q, Sinkhorn warm
    start); then drift the router.  Afterwards the states are frozen and ``n_eval``
    fresh batches measure global loads.  All methods see identical batches.

    Returns a :data:`RouterRun`: per-iteration (V, n_iter) ``maxvio``, ``affinity``,
    ``dropped``, ``interference``; ``affinity_free`` (n_iter,) of unconstrained top-K
    routing; ``state`` (V, n_iter // record_every + 1, E); and for the evaluation pool
    ``loads_eval`` (V, E), ``affinity_eval``, ``dropped_eval``, ``interference_eval`` (V,),
    ``affinity_free_eval``, the mean gap between each token's K-th and (K+1)-th score, and
    the first evaluation batch's scores with every method's loads (V, E) and affinity (V,)
    on it (for an exact LP comparison).
    """
    np.random.seed(seed)
    V = fam.shape[0]
    L = K * T // E
    means, centroids, offsets = router_setup(E, dim, topics, offset_scale)
    features = np.empty((T, dim))
    logits = np.empty((T, E))
    scores = np.empty((T, E))
    gates = np.empty((T, E))
    taken = np.empty((T, E), np.bool_)
    sel = np.empty((T, K), np.int64)
    free_sel = np.empty((T, K), np.int64)
    loads = np.zeros(E, np.int64)
    free_loads = np.zeros(E, np.int64)
    delta = np.empty(E)
    zeros = np.zeros(E)
    state = np.zeros((V, E))
    for v in range(V):
        if fam[v] == FAM_LOSSFREE and rule[v] == RULE_MULT:
            state[v, :] = 1.0
    n_rec = n_iter // record_every + 1
    state_rec = np.empty((V, n_rec, E))
    maxvio = np.empty((V, n_iter))
    affinity = np.empty((V, n_iter))
    dropped = np.empty((V, n_iter))
    interference = np.empty((V, n_iter))
    affinity_free = np.empty(n_iter)
    for n in range(n_iter):
        if n % record_every == 0:
            state_rec[:, n // record_every] = state
        router_batch(means, centroids, offsets, beta, token_noise, features, logits)
        sigmoid(logits, zeros, scores)
        free_loads[:] = 0
        route_topk(scores, zeros, K, free_sel, free_loads)
        affinity_free[n] = selected_affinity(scores, free_sel)
        for v in range(V):
            aff, drop, inter = _route_variant(fam[v], rule[v], state[v], logits, scores, K, capacity, tau,
                                              tol, max_sweeps, free_sel, free_loads, sel, loads, gates,
                                              taken, zeros)
            affinity[v, n] = aff
            dropped[v, n] = drop
            interference[v, n] = inter
            maxvio[v, n] = max_violation(loads, L)
            if fam[v] == FAM_LOSSFREE:
                update_bias(state[v], loads, L, rule[v], hyper[v], False, delta)
            elif fam[v] == FAM_AUX:
                aux_loss_step(gates, loads, K, hyper[v], aux_lr, aux_pull, state[v])
        router_drift(centroids, offsets, rho, rho_c)
    if n_iter % record_every == 0:
        state_rec[:, n_iter // record_every] = state

    loads_eval = np.zeros((V, E), np.int64)
    affinity_eval = np.zeros(V)
    dropped_eval = np.zeros(V)
    interference_eval = np.zeros(V)
    affinity_free_eval = 0.0
    gap_sum = 0.0
    top = np.empty(K + 1)
    top_idx = np.empty(K + 1, np.int64)
    first_scores = np.empty((T, E))
    first_loads = np.zeros((V, E), np.int64)
    first_affinity = np.zeros(V)
    for b in range(n_eval):
        router_batch(means, centroids, offsets, beta, token_noise, features, logits)
        sigmoid(logits, zeros, scores)
        if b == 0:
            first_scores[:] = scores
        free_loads[:] = 0
        route_topk(scores, zeros, K, free_sel, free_loads)
        affinity_free_eval += selected_affinity(scores, free_sel)
        if K < E:
            for i in range(T):
                _topk_row(scores[i], K + 1, top_idx, top)
                gap_sum += top[K - 1] - top[K]
        for v in range(V):
            aff, drop, inter = _route_variant(fam[v], rule[v], state[v], logits, scores, K, capacity, tau,
                                              tol, max_sweeps, free_sel, free_loads, sel, loads, gates,
                                              taken, zeros)
            for k in range(E):
                loads_eval[v, k] += loads[k]
            if b == 0:
                first_loads[v] = loads
                first_affinity[v] = aff
            affinity_eval[v] += aff
            dropped_eval[v] += drop / n_eval
            interference_eval[v] += inter / n_eval
    score_gap = gap_sum / (n_eval * T) if n_eval > 0 else np.nan
    return RouterRun(maxvio, affinity, dropped, interference, affinity_free, state_rec, loads_eval, affinity_eval,
                     dropped_eval, interference_eval, affinity_free_eval, score_gap, first_scores, first_loads,
                     first_affinity)


# --- a trained mixture of experts ---------------------------------------------------------------------
#
# Tokens x in R^d come from C clusters (x = m_c + spread N(0, I/d)); the target is the cluster's own affine
# map, y = W_c x + b_c + noise N(0, noise^2 I_m).  The layer: router logits z_k = r_k . x + c_k, scores
# s_k = sigmoid(z_k); token i goes to the top-K experts of s_i + u (u: loss-free biases, zero otherwise) and
# outputs y_hat = sum_{k selected} s_k (A_k x + a_k): the gate value is the unbiased score.  Task loss
# 0.5 |y_hat - y|^2 averaged over tokens; aux-loss methods add alpha sum_k f_k P_k with f_k = E A_k / (K T)
# (held fixed) and P_k = mean_i s_ik.  Parameters: R (E, d), c (E,), A (E, m, d), a (E, m).

TrainedRun = namedtuple("TrainedRun", ["train_loss", "maxvio_batch", "eval_loss", "eval_maxvio", "bias",
                                       "eval_loads", "fd_bias", "fd_gate", "fd_changed"])


@njit(cache=True)
def mixture_task(clusters, dim, out_dim, separation):
    """Cluster means (C, d) ~ separation N(0, I/d), maps W (C, m, d) ~ N(0, 1/d), offsets b (C, m) ~ N(0, 1)."""
    means = np.empty((clusters, dim))
    maps = np.empty((clusters, out_dim, dim))
    offsets = np.empty((clusters, out_dim))
    root = 1.0 / np.sqrt(dim)
    for c in range(clusters):
        for j in range(dim):
            means[c, j] = separation * root * np.random.standard_normal()
    for c in range(clusters):
        for o in range(out_dim):
            for j in range(dim):
                maps[c, o, j] = root * np.random.standard_normal()
    for c in range(clusters):
        for o in range(out_dim):
            offsets[c, o] = np.random.standard_normal()
    return means, maps, offsets


@njit(cache=True)
def mixture_batch(means, maps, offsets, spread, noise, X, Y):
    """Fill X (T, d), Y (T, m): per token one uniform (cluster), d normals (x), m normals (target noise)."""
    T, dim = X.shape
    clusters, out_dim, _ = maps.shape
    root = spread / np.sqrt(dim)
    for i in range(T):
        c = int(np.random.random() * clusters)
        for j in range(dim):
            X[i, j] = means[c, j] + root * np.random.standard_normal()
        for o in range(out_dim):
            acc = offsets[c, o]
            for j in range(dim):
                acc += maps[c, o, j] * X[i, j]
            Y[i, o] = acc + noise * np.random.standard_normal()


@njit(cache=True)
def moe_init(E, dim, out_dim, router_scale):
    """Router R ~ router_scale N(0, I/d), c = 0; experts A ~ N(0, 1/d), a = 0."""
    root = 1.0 / np.sqrt(dim)
    R = np.empty((E, dim))
    for k in range(E):
        for j in range(dim):
            R[k, j] = router_scale * root * np.random.standard_normal()
    A = np.empty((E, out_dim, dim))
    for k in range(E):
        for o in range(out_dim):
            for j in range(dim):
                A[k, o, j] = root * np.random.standard_normal()
    return R, np.zeros(E), A, np.zeros((E, out_dim))


@njit(cache=True)
def moe_forward(X, R, c, A, a, u, K, scores, sel, outs, pred, loads):
    """Route and predict: fills scores (T, E) = sigmoid(z), sel (T, K) = top-K of scores + u, outs (T, K, m)
    the selected experts' outputs A_k x + a_k, pred (T, m); adds the counts to loads.  Gate values are
    scores[i, sel[i, j]]: u enters the selection only."""
    T, dim = X.shape
    E, out_dim, _ = A.shape
    v = np.empty(E)
    val = np.empty(K)
    for i in range(T):
        for k in range(E):
            z = c[k]
            for j in range(dim):
                z += R[k, j] * X[i, j]
            s = 1.0 / (1.0 + np.exp(-z))
            scores[i, k] = s
            v[k] = s + u[k]
        _topk_row(v, K, sel[i], val)
        for o in range(out_dim):
            pred[i, o] = 0.0
        for jj in range(K):
            k = sel[i, jj]
            loads[k] += 1
            g = scores[i, k]
            for o in range(out_dim):
                f = a[k, o]
                for j in range(dim):
                    f += A[k, o, j] * X[i, j]
                outs[i, jj, o] = f
                pred[i, o] += g * f


@njit(cache=True)
def moe_loss(Y, pred):
    """Task loss: mean over tokens of 0.5 |pred - y|^2."""
    T, out_dim = Y.shape
    total = 0.0
    for i in range(T):
        for o in range(out_dim):
            e = pred[i, o] - Y[i, o]
            total += 0.5 * e * e
    return total / T


@njit(cache=True)
def moe_gradient(X, Y, K, alpha, scores, sel, outs, pred, loads, gR, gc, gA, ga):
    """Gradient of task loss + alpha sum_k f_k P_k at a routed batch (selection held fixed).

    Task part, for each selected k with gate g = s_ik and expert output f = A_k x + a_k, e = pred - y:
    dA_k += g e x^T / T, da_k += g e / T, dz_ik = (e . f) g (1 - g) / T.  Aux part (every k):
    dz_ik += alpha f_k s_ik (1 - s_ik) / T with f_k = E loads_k / (K T).  Then dR_k = sum_i dz_ik x_i,
    dc_k = sum_i dz_ik.  No term in u: the biases choose experts but never scale an output."""
    T, dim = X.shape
    E, out_dim, _ = gA.shape
    gR[:] = 0.0
    gc[:] = 0.0
    gA[:] = 0.0
    ga[:] = 0.0
    dz = np.zeros(E)
    e = np.empty(out_dim)
    inv_t = 1.0 / T
    for i in range(T):
        for o in range(out_dim):
            e[o] = pred[i, o] - Y[i, o]
        for k in range(E):
            dz[k] = 0.0
        for jj in range(K):
            k = sel[i, jj]
            g = scores[i, k]
            ef = 0.0
            for o in range(out_dim):
                ef += e[o] * outs[i, jj, o]
                w = g * e[o] * inv_t
                ga[k, o] += w
                for j in range(dim):
                    gA[k, o, j] += w * X[i, j]
            dz[k] += ef * g * (1.0 - g) * inv_t
        if alpha > 0.0:
            for k in range(E):
                s = scores[i, k]
                dz[k] += alpha * (E * loads[k] / (K * T)) * s * (1.0 - s) * inv_t
        for k in range(E):
            gc[k] += dz[k]
            for j in range(dim):
                gR[k, j] += dz[k] * X[i, j]


@njit(cache=True)
def _forward_buffers(T, E, K, out_dim):
    """What :func:`moe_forward` fills for a batch of T tokens: scores, sel, outs, pred and (zeroed) loads."""
    return (np.empty((T, E)), np.empty((T, K), np.int64), np.empty((T, K, out_dim)), np.empty((T, out_dim)),
            np.zeros(E, np.int64))


@njit(cache=True)
def _evaluate(X, Y, R, c, A, a, u, K, scores, sel, outs, pred, loads):
    loads[:] = 0
    moe_forward(X, R, c, A, a, u, K, scores, sel, outs, pred, loads)
    return moe_loss(Y, pred)


@njit(cache=True)
def run_trained(seed, T, E, K, dim, out_dim, clusters, separation, spread, noise, router_scale, lr, lr_final,
                n_iter, fam, hyper, n_eval, record_every, fd_step):
    """Train one MoE layer per variant by SGD on the same stream of batches, from the same initial weights.

    The learning rate decays from ``lr`` to ``lr_final`` along a cosine over the n_iter steps.
    ``fam[v]``: FAM_NONE, FAM_LOSSFREE (``hyper[v]`` = update rate u of the sign rule, applied to the loads of
    the batch just trained on) or FAM_AUX (``hyper[v]`` = alpha).  Order of draws: task, held-out set
    (n_eval tokens), initial weights, then one batch per iteration.  Returns a :data:`TrainedRun`:
    per variant and iteration the training loss and MaxVio_batch; at iterations 0, r, 2r, ..., n_iter
    (r = record_every) the held-out loss, MaxVio_global over the held-out set and the biases u; the final
    held-out loads; and central differences of the final held-out loss in each u_k (``fd_bias``) and in a
    shift of expert k's gate values (``fd_gate``, what a bias leaking into the gate would give), with step
    ``fd_step``; ``fd_changed`` counts the u_k perturbations that changed some token's selection.
    """
    np.random.seed(seed)
    V = fam.shape[0]
    L = K * T / E
    means, maps, offsets = mixture_task(clusters, dim, out_dim, separation)
    Xe = np.empty((n_eval, dim))
    Ye = np.empty((n_eval, out_dim))
    mixture_batch(means, maps, offsets, spread, noise, Xe, Ye)
    R0, c0, A0, a0 = moe_init(E, dim, out_dim, router_scale)
    Rs = np.empty((V, E, dim))
    cs = np.empty((V, E))
    As = np.empty((V, E, out_dim, dim))
    as_ = np.empty((V, E, out_dim))
    us = np.zeros((V, E))
    for v in range(V):
        Rs[v] = R0
        cs[v] = c0
        As[v] = A0
        as_[v] = a0
    X = np.empty((T, dim))
    Y = np.empty((T, out_dim))
    scores, sel, outs, pred, loads = _forward_buffers(T, E, K, out_dim)
    delta = np.empty(E)
    gR = np.empty((E, dim))
    gc = np.empty(E)
    gA = np.empty((E, out_dim, dim))
    ga = np.empty((E, out_dim))
    scores_e, sel_e, outs_e, pred_e, loads_e = _forward_buffers(n_eval, E, K, out_dim)
    L_eval = K * n_eval / E
    n_rec = n_iter // record_every + 1
    train_loss = np.empty((V, n_iter))
    maxvio_batch = np.empty((V, n_iter))
    eval_loss = np.empty((V, n_rec))
    eval_maxvio = np.empty((V, n_rec))
    bias_rec = np.empty((V, n_rec, E))
    for n in range(n_iter + 1):
        if n % record_every == 0:
            r = n // record_every
            for v in range(V):
                eval_loss[v, r] = _evaluate(Xe, Ye, Rs[v], cs[v], As[v], as_[v], us[v], K, scores_e, sel_e,
                                            outs_e, pred_e, loads_e)
                eval_maxvio[v, r] = (loads_e.max() - L_eval) / L_eval
                bias_rec[v, r] = us[v]
        if n == n_iter:
            break
        mixture_batch(means, maps, offsets, spread, noise, X, Y)
        rate = lr_final + 0.5 * (lr - lr_final) * (1.0 + np.cos(np.pi * n / n_iter))
        for v in range(V):
            loads[:] = 0
            moe_forward(X, Rs[v], cs[v], As[v], as_[v], us[v], K, scores, sel, outs, pred, loads)
            train_loss[v, n] = moe_loss(Y, pred)
            maxvio_batch[v, n] = (loads.max() - L) / L
            alpha = hyper[v] if fam[v] == FAM_AUX else 0.0
            moe_gradient(X, Y, K, alpha, scores, sel, outs, pred, loads, gR, gc, gA, ga)
            Rs[v] -= rate * gR
            cs[v] -= rate * gc
            As[v] -= rate * gA
            as_[v] -= rate * ga
            if fam[v] == FAM_LOSSFREE:
                update_bias(us[v], loads, L, RULE_SIGN, hyper[v], False, delta)

    eval_loads = np.zeros((V, E), np.int64)
    fd_bias = np.zeros((V, E))
    fd_gate = np.zeros((V, E))
    fd_changed = np.zeros(V, np.int64)
    sel_ref = np.empty((n_eval, K), np.int64)
    u_pert = np.empty(E)
    a_pert = np.empty((E, out_dim))
    A_pert = np.empty((E, out_dim, dim))
    for v in range(V):
        _evaluate(Xe, Ye, Rs[v], cs[v], As[v], as_[v], us[v], K, scores_e, sel_e, outs_e, pred_e, loads_e)
        eval_loads[v] = loads_e
        sel_ref[:] = sel_e
        for k in range(E):
            side = np.empty(2)
            changed = False
            for h in range(2):
                u_pert[:] = us[v]
                u_pert[k] += fd_step if h == 0 else -fd_step
                side[h] = _evaluate(Xe, Ye, Rs[v], cs[v], As[v], as_[v], u_pert, K, scores_e, sel_e, outs_e,
                                    pred_e, loads_e)
                for i in range(n_eval):
                    for jj in range(K):
                        if sel_e[i, jj] != sel_ref[i, jj]:
                            changed = True
            fd_bias[v, k] = (side[0] - side[1]) / (2 * fd_step)
            if changed:
                fd_changed[v] += 1
            # a gate value g_k + h (a bias leaking into the gate) equals an expert output (1 + h / g_k) f_k;
            # evaluate it exactly through the outputs: pred changes by h f_k for tokens that select k
            for h in range(2):
                sgn = 1.0 if h == 0 else -1.0
                loss = 0.0
                moe_forward(Xe, Rs[v], cs[v], As[v], as_[v], us[v], K, scores_e, sel_e, outs_e, pred_e, loads_e)
                for i in range(n_eval):
                    for jj in range(K):
                        if sel_e[i, jj] == k:
                            for o in range(out_dim):
                                pred_e[i, o] += sgn * fd_step * outs_e[i, jj, o]
                side[h] = moe_loss(Ye, pred_e)
            fd_gate[v, k] = (side[0] - side[1]) / (2 * fd_step)
    return TrainedRun(train_loss, maxvio_batch, eval_loss, eval_maxvio, bias_rec, eval_loads, fd_bias, fd_gate,
                      fd_changed)
