"""Numba kernels of M concurrent contextual bandits whose rewards are linear in a shared representation.

Arrays in, arrays out.  Conventions shared by every kernel:

* representation maps ``phi_W(x) = g(W x)`` with ``W`` of shape (k, d) and ``g`` the identity
  (``G_LINEAR``) or ``tanh`` (``G_TANH``); task ``i`` has mean reward ``theta_i . phi*(x)``;
* every round, each of the M tasks sees K arms with unit-norm contexts ``x_{t,i,a}`` in R^d
  and, pulling arm ``a``, observes ``theta_i . phi*(x_{t,i,a}) + sigma eps_{t,i,a}``;
* randomness: after ``np.random.seed(seed)`` every round draws the contexts (M, K, d) and then
  the noise (M, K) as standard normals in C order, bit-identical to
  ``np.random.RandomState(seed).normal()`` drawn in the same order (the NumPy twins in
  :mod:`reference` rely on this).  Draws never depend on the learner's actions, so every
  algorithm faces the same contexts and noise (common random numbers); no ``prange``;
* ``rec`` lists round counts (1-based, increasing) after which the cumulative pseudo-regret
  ``sum_t max_a mu - mu(a_t)`` of every task is stored;
* ties in an argmax go to the lowest arm / candidate index.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from theorylab.core.ridge import accumulate, dot, matvec, quad, ridge_add, ridge_priors, drop_stale_compilations

drop_stale_compilations(__file__)  # cached machine code may hold an older version of those helpers

G_LINEAR, G_TANH = 0, 1
FRONT_CAP = 4096      # Pareto-front capacity of GFUCB's joint arm choice


# --- environment ------------------------------------------------------------------------------------

@njit(cache=True)
def draw_round(X, E):
    """Fill X (M, K, d) with unit-norm Gaussian contexts, then E (M, K) with standard normal noise."""
    M, K, d = X.shape
    for i in range(M):
        for a in range(K):
            s = 0.0
            for m in range(d):
                z = np.random.normal(0.0, 1.0)
                X[i, a, m] = z
                s += z * z
            s = np.sqrt(s)
            for m in range(d):
                X[i, a, m] /= s
    for i in range(M):
        for a in range(K):
            E[i, a] = np.random.normal(0.0, 1.0)


@njit(cache=True)
def feature(W, g, x, out):
    """out = g(W x)."""
    k, d = W.shape
    for l in range(k):
        s = 0.0
        for m in range(d):
            s += W[l, m] * x[m]
        out[l] = np.tanh(s) if g == G_TANH else s


@njit(cache=True)
def oful_radius(sigma, k, n, lam, log_inv_delta, S):
    """sqrt(beta): sigma sqrt(k log(1 + n / (lam k)) + 2 log(1/delta)) + sqrt(lam) S (Abbasi-Yadkori et al. 2011)."""
    return sigma * np.sqrt(k * np.log(1.0 + n / (lam * k)) + 2.0 * log_inv_delta) + np.sqrt(lam) * S


# --- bookkeeping shared by the learners -------------------------------------------------------------

@njit(cache=True)
def _environment(seed, M, K, d):
    """Seed the kernel's stream; return the buffers of a round's contexts X (M, K, d) and noise E (M, K)."""
    np.random.seed(seed)
    return np.empty((M, K, d)), np.empty((M, K))


@njit(cache=True)
def _records(M, T, rec):
    """Cumulative regret (M,), its records (M, R) and the arms played (T, M) of a run of T rounds."""
    return np.zeros(M), np.zeros((M, rec.shape[0])), np.empty((T, M), np.int64)


@njit(cache=True)
def _record(rec, r, t, cum, regret):
    """After round t: store cum as record r if t + 1 is the next recorded round; returns the next record's index."""
    if r < rec.shape[0] and rec[r] == t + 1:
        regret[:, r] = cum
        return r + 1
    return r


@njit(cache=True)
def _pull(t, i, pick, best, mu, noise, sigma, choices, cum):
    """Task i pulls arm ``pick`` of mean mu at round t (best: the round's largest mean): book the arm and its
    pseudo-regret, return the observed reward mu + sigma noise."""
    choices[t, i] = pick
    cum[i] += best - mu
    return mu + sigma * noise


@njit(cache=True)
def _true_means(W_true, g, theta, Xi, mus, phi):
    """mus[a] = theta . phi*(x_a) for every arm; returns the largest."""
    best = -np.inf
    for a in range(Xi.shape[0]):
        feature(W_true, g, Xi[a], phi)
        mus[a] = dot(theta, phi)
        if mus[a] > best:
            best = mus[a]
    return best


@njit(cache=True)
def _ucb_arm(W, g, Xi, theta, Vinv, rho, phi):
    """OFUL's arm on features g(W x): largest theta . phi + rho ||phi||_{V^-1}."""
    pick, top = 0, -np.inf
    for a in range(Xi.shape[0]):
        feature(W, g, Xi[a], phi)
        u = dot(theta, phi) + rho * np.sqrt(quad(Vinv, phi))
        if u > top:
            top, pick = u, a
    return pick


# --- LinUCB / OFUL on a fixed feature map (known representation, or raw contexts) -------------------

@njit(cache=True)
def run_linucb(seed, T, K, W_true, g_true, heads, sigma, W_feat, g_feat, lam, scale, log_inv_delta, S, rec):
    """Independent OFUL in every task on features g_feat(W_feat x).

    Returns (regret (M, R), choices (T, M)).
    """
    M, k_true = heads.shape
    d = W_true.shape[1]
    p = W_feat.shape[0]
    X, E = _environment(seed, M, K, d)
    Vinv, b, theta = ridge_priors((M,), p, lam)
    phi_true = np.empty(k_true)
    phi = np.empty(p)
    tmp = np.empty(p)
    mus = np.empty(K)
    cum, regret, choices = _records(M, T, rec)
    r = 0
    for t in range(T):
        draw_round(X, E)
        rho = scale * oful_radius(sigma, p, t, lam, log_inv_delta, S)
        for i in range(M):
            best = _true_means(W_true, g_true, heads[i], X[i], mus, phi_true)
            pick = _ucb_arm(W_feat, g_feat, X[i], theta[i], Vinv[i], rho, phi)
            y = _pull(t, i, pick, best, mus[pick], E[i, pick], sigma, choices, cum)
            feature(W_feat, g_feat, X[i, pick], phi)
            ridge_add(Vinv[i], b[i], theta[i], phi, y, tmp)
        r = _record(rec, r, t, cum, regret)
    return regret, choices


# --- GFUCB over a finite class (an enumerated class, or an epsilon-net of a continuous one) -------

@njit(cache=True)
def gfucb_beta(sigma, k, feat2, t, lam, log_n_over_delta, tasks, S, eps_f):
    """Radius beta_t of GFUCB's confidence set after t rounds of ``tasks`` tasks (n = tasks * t samples).

    ``(sigma sqrt(m k log(1 + t feat2/(lam k)) + 2 log(N/delta)) + sqrt(lam m) S)^2``: a function whose
    representation is in the class scores a regularised loss above the per-representation minimum by
    ``||sum_s eta_s phi_s - lam theta||^2_{V^-1}`` summed over the m tasks, a self-normalised sum in
    dimension m k (union over the N representations).  Plus the discretisation slack of a net whose
    best point is eps_f away in sup norm: ``n eps_f^2 + 2 sigma eps_f sqrt(2 n log(N/delta))`` (the
    squared bias and the noise-bias cross term, a martingale since the bias is fixed before the noise).
    Both discretisation terms sum over the samples of every task in the set, hence n = tasks * t; the
    cross term concerns one fixed function, so its log(N/delta) is conservative (log(1/delta) would do).
    """
    n = tasks * t
    core = sigma * np.sqrt(tasks * k * np.log(1.0 + t * feat2 / (lam * k)) + 2.0 * log_n_over_delta) \
        + np.sqrt(lam * tasks) * S
    return core * core + n * eps_f * eps_f + 2.0 * sigma * eps_f * np.sqrt(2.0 * n * log_n_over_delta)


@njit(cache=True)
def _feature_at(cands, j, g, X, i, a, out):
    """out = g(cands[j] X[i, a]) on indices (no array views: this runs N M K times a round)."""
    k, d = cands.shape[1], cands.shape[2]
    for l in range(k):
        s = 0.0
        for m in range(d):
            s += cands[j, l, m] * X[i, a, m]
        out[l] = np.tanh(s) if g == G_TANH else s


@njit(cache=True)
def joint_optimistic_arms(m, w, c, front_m, front_w, parent, arm, cand_m, cand_w, cand_p, cand_a, picks):
    """Exact max over arm tuples (a_1..a_M) of sum_i m[i, a_i] + c sqrt(sum_i w[i, a_i]), w >= 0, c >= 0.

    The objective increases in both S = sum m and W = sum w, so its maximiser is among the tuples
    whose (S, W) no other tuple beats in both coordinates (the Pareto front).  The front of M tasks
    is the front of (front of M - 1 tasks) + (task M's K arms), so a dynamic programme over tasks,
    pruning dominated partial sums, finds the exact optimum (ties: first found).  Arms go to
    ``picks``; returns the optimal value.  ``front_*``, ``parent``, ``arm`` (M, C) and ``cand_*`` (C K)
    are work arrays; C bounds the front's size (an error if exceeded).
    """
    M, K = m.shape
    C = front_m.shape[1]
    size = 1
    prev_m = np.zeros(1)
    prev_w = np.zeros(1)
    for i in range(M):
        n = 0
        for q in range(size):
            pm = prev_m[q] if i == 0 else front_m[i - 1, q]
            pw = prev_w[q] if i == 0 else front_w[i - 1, q]
            for a in range(K):
                cand_m[n] = pm + m[i, a]
                cand_w[n] = pw + w[i, a]
                cand_p[n] = q
                cand_a[n] = a
                n += 1
        # sweep by decreasing W (then decreasing S): keep a point only if its S beats every kept S
        order = np.argsort(-cand_m[:n], kind="mergesort")
        order = order[np.argsort(-cand_w[:n][order], kind="mergesort")]
        kept, top = 0, -np.inf
        for o in order:
            if cand_m[o] > top:
                if kept == C:
                    raise ValueError("the Pareto front of the joint arm choice exceeded its capacity")
                front_m[i, kept] = cand_m[o]
                front_w[i, kept] = cand_w[o]
                parent[i, kept] = cand_p[o]
                arm[i, kept] = cand_a[o]
                top = cand_m[o]
                kept += 1
        size = kept
    best, at = -np.inf, 0
    for q in range(size):
        v = front_m[M - 1, q] + c * np.sqrt(max(front_w[M - 1, q], 0.0))
        if v > best:
            best, at = v, q
    for i in range(M - 1, -1, -1):
        picks[i] = arm[i, at]
        at = parent[i, at]
    return best


@njit(cache=True)
def run_gfucb(seed, T, K, W_true, g, heads, sigma, cands, shared, joint, lam, scale, log_inv_delta, S, feat2,
              eps_f, near, near_heads, rec):
    """GFUCB with the representation class {g(W_j x)}, j < N, enumerated exactly.

    Per task i and map j: ridge statistics (V_ij^{-1}, b_ij), estimate theta_ij and the smallest
    regularised loss L_ij = sum y^2 - b_ij . theta_ij.  Confidence set (one per group of tasks: all M
    if ``shared``, else each task alone): the multi-head functions (phi_j, theta_1..theta_m) with
    sum_i [sum_s (y - theta_i . phi_j(x))^2 + lam |theta_i|^2] <= min_j sum_i L_ij + beta.  Because
    the loss of a head is L_ij + ||theta_i - theta_ij||^2_{V_ij} exactly, the set at map j is the
    ellipsoid product sum_i ||theta_i - theta_ij||^2_{V_ij} <= slack_j = beta - (sum_i L_ij - min).
    Actions (exact in both rules; Cauchy-Schwarz in the V_ij norms):

    * ``joint`` True (joint optimism, the rule of MTLR-OFUL, Hu et al. 2021, and our reading of the paper's
      Algorithm 1): the group plays the arm tuple (a_1..a_m) maximising the largest value of
      sum_i f_i(x_{i,a_i}) over the set, at map j
      sum_i theta_ij . phi_j(x_{i,a_i}) + sqrt(slack_j) sqrt(sum_i ||phi_j(x_{i,a_i})||^2_{V_ij^{-1}}),
      maximised over the K^m tuples by :func:`joint_optimistic_arms`;
    * ``joint`` False (task-wise optimism over the same set): each task plays its arm of largest optimistic
      value over the set, max_{j: slack_j >= 0} theta_ij . phi_j(x) + sqrt(slack_j) ||phi_j(x)||_{V_ij^{-1}}
      (the whole slack on that task's head, the other heads at their centres).

    Maps are enumerated in decreasing order of an upper bound on their value (every task at its
    largest mean and width) until no map can beat the best found.  With one task both rules are
    OFUL's rule on every map in the set.  ``near`` and ``near_heads`` name the class member closest to the true
    function (index, heads); whether its loss passes the set's test is recorded every round.

    Returns (regret (M, R), choices (T, M), alive (M, R) maps with slack >= 0, covered (M, R): the
    closest member passed the test at every round so far, suboptimal (M, R): rounds so far whose arm
    had a smaller true mean than the round's best).
    """
    M, k = heads.shape
    N = cands.shape[0]
    d = W_true.shape[1]
    X, E = _environment(seed, M, K, d)
    Vinv, b, theta = ridge_priors((M, N), k, lam)      # one ridge regression per task and map
    yy = np.zeros(M)
    loss = np.zeros((M, N))
    near_loss = np.zeros(M)
    for i in range(M):
        near_loss[i] = lam * dot(near_heads[i], near_heads[i])
    slack = np.zeros((M, N))
    tot = np.zeros(N)
    phi = np.empty(k)
    tmp = np.empty(k)
    mus = np.empty(K)
    cum, regret, choices = _records(M, T, rec)
    R = rec.shape[0]
    n_alive = np.zeros((M, R), np.int64)
    covered = np.zeros((M, R), np.bool_)
    ok = np.ones(M, np.bool_)
    n_bad = np.zeros(M, np.int64)
    suboptimal = np.zeros((M, R), np.int64)
    log_n = log_inv_delta + np.log(N)
    m_tasks = M if shared else 1
    act = m_tasks if joint else 1             # tasks that choose their arms together
    n_groups = M // act
    om = np.empty((N, act, K))
    ow = np.empty((N, act, K))
    upper = np.empty(N)
    in_set = np.empty(N, np.int64)
    acts = np.zeros(M, np.int64)
    tmp_picks = np.zeros(act, np.int64)
    front_m = np.empty((act, FRONT_CAP))
    front_w = np.empty((act, FRONT_CAP))
    parent = np.empty((act, FRONT_CAP), np.int64)
    arm_of = np.empty((act, FRONT_CAP), np.int64)
    cand_m = np.empty(FRONT_CAP * K)
    cand_w = np.empty(FRONT_CAP * K)
    cand_p = np.empty(FRONT_CAP * K, np.int64)
    cand_a = np.empty(FRONT_CAP * K, np.int64)
    r = 0
    for t in range(T):
        draw_round(X, E)
        beta = scale * scale * gfucb_beta(sigma, k, feat2, t, lam, log_n, m_tasks, S, eps_f)
        if shared:
            near_tot = 0.0
            for i in range(M):
                near_tot += near_loss[i]
            for j in range(N):
                tot[j] = 0.0
                for i in range(M):
                    tot[j] += loss[i, j]
            low = tot.min()
            for i in range(M):
                for j in range(N):
                    slack[i, j] = beta - (tot[j] - low)
                ok[i] = ok[i] and near_tot - low <= beta
        else:
            for i in range(M):
                low = loss[i].min()
                for j in range(N):
                    slack[i, j] = beta - (loss[i, j] - low)
                ok[i] = ok[i] and near_loss[i] - low <= beta
        # optimistic action of every group of tasks choosing together
        for grp in range(n_groups):
            first = grp * act
            n_in = 0
            for j in range(N):
                if slack[first, j] < 0.0:
                    continue
                ub_m, ub_w = 0.0, 0.0
                for a_i in range(act):
                    i = first + a_i
                    top_m, top_w = -np.inf, 0.0
                    for a in range(K):
                        _feature_at(cands, j, g, X, i, a, phi)
                        mean, width = 0.0, 0.0
                        for l in range(k):
                            mean += theta[i, j, l] * phi[l]
                            s = 0.0
                            for q in range(k):
                                s += Vinv[i, j, l, q] * phi[q]
                            width += phi[l] * s
                        om[n_in, a_i, a] = mean
                        ow[n_in, a_i, a] = width
                        top_m = max(top_m, mean)
                        top_w = max(top_w, width)
                    ub_m += top_m
                    ub_w += top_w
                in_set[n_in] = j
                # an upper bound on the map's joint value: every task at its largest mean and width
                upper[n_in] = ub_m + np.sqrt(slack[first, j] * ub_w)
                n_in += 1
            top = -np.inf
            for o in np.argsort(-upper[:n_in], kind="mergesort"):
                if upper[o] <= top:
                    break                     # no later map can beat the best joint value found
                c = np.sqrt(slack[first, in_set[o]])
                if act == 1:
                    for a in range(K):
                        u = om[o, 0, a] + c * np.sqrt(ow[o, 0, a])
                        if u > top:
                            top = u
                            acts[first] = a
                else:
                    u = joint_optimistic_arms(om[o], ow[o], c, front_m, front_w, parent, arm_of,
                                              cand_m, cand_w, cand_p, cand_a, tmp_picks)
                    if u > top:
                        top = u
                        for a_i in range(act):
                            acts[first + a_i] = tmp_picks[a_i]
        for i in range(M):
            best = _true_means(W_true, g, heads[i], X[i], mus, phi)
            pick = acts[i]
            y = _pull(t, i, pick, best, mus[pick], E[i, pick], sigma, choices, cum)
            if mus[pick] < best:
                n_bad[i] += 1
            yy[i] += y * y
            for j in range(N):
                # ridge_add and the loss written out on indices: array views in this loop cost ~15% of the run
                _feature_at(cands, j, g, X, i, pick, phi)
                denom = 1.0
                for l in range(k):
                    s = 0.0
                    for m in range(k):
                        s += Vinv[i, j, l, m] * phi[m]
                    tmp[l] = s
                    denom += phi[l] * s
                for l in range(k):
                    b[i, j, l] += y * phi[l]
                    for m in range(k):
                        Vinv[i, j, l, m] -= tmp[l] * tmp[m] / denom
                fit = 0.0
                for l in range(k):
                    s = 0.0
                    for m in range(k):
                        s += Vinv[i, j, l, m] * b[i, j, m]
                    theta[i, j, l] = s
                    fit += b[i, j, l] * s
                loss[i, j] = yy[i] - fit
            feature(cands[near], g, X[i, pick], phi)
            res = y - dot(near_heads[i], phi)
            near_loss[i] += res * res
        if r < R and rec[r] == t + 1:
            regret[:, r] = cum
            for i in range(M):
                n_alive[i, r] = np.sum(slack[i] >= 0.0)
                covered[i, r] = ok[i]
                suboptimal[i, r] = n_bad[i]
            r += 1
    return regret, choices, n_alive, covered, suboptimal


# --- shared least-squares UCB: a least-squares representation, refitted on a schedule, OFUL on top -------

@njit(cache=True)
def ridge_sums(W, g, Xi, Yi, n, lam, phi):
    """(lam I + sum phi phi^T, sum y phi) over one task's first n samples (rows of Xi, Yi), phi = g(W x)."""
    k = W.shape[0]
    V = lam * np.eye(k)
    c = np.zeros(k)
    for s in range(n):
        feature(W, g, Xi[s], phi)
        accumulate(V, c, phi, Yi[s])
    return V, c


@njit(cache=True)
def fit_heads(W, g, Xs, Ys, n, lam, heads):
    """Ridge heads on features g(W x) from the first n samples of every task (rows of Xs, Ys)."""
    phi = np.empty(W.shape[0])
    for i in range(Xs.shape[0]):
        V, c = ridge_sums(W, g, Xs[i], Ys[i], n, lam, phi)
        heads[i] = np.linalg.solve(V, c)


@njit(cache=True)
def gauss_newton_step(W, g, Xs, Ys, n, heads, damping):
    """One damped Gauss-Newton (Levenberg-Marquardt) step on W for sum (y - theta_i . g(W x))^2.

    With g the identity this is the exact least-squares update of W given the heads (one
    alternating-least-squares half step, up to the damping).
    """
    k, d = W.shape
    P = k * d
    JtJ = damping * np.eye(P)
    Jtr = np.zeros(P)
    J = np.empty(P)
    for i in range(Xs.shape[0]):
        for s in range(n):
            x = Xs[i, s]
            pred = 0.0
            for l in range(k):
                z = 0.0
                for m in range(d):
                    z += W[l, m] * x[m]
                if g == G_TANH:
                    h = np.tanh(z)
                    slope = 1.0 - h * h
                else:
                    h, slope = z, 1.0
                pred += heads[i, l] * h
                coef = heads[i, l] * slope
                for m in range(d):
                    J[l * d + m] = coef * x[m]
            res = Ys[i, s] - pred
            for p in range(P):
                Jtr[p] += J[p] * res
                for q in range(P):
                    JtJ[p, q] += J[p] * J[q]
    step = np.linalg.solve(JtJ, Jtr)
    for l in range(k):
        for m in range(d):
            W[l, m] += step[l * d + m]


@njit(cache=True)
def fit_representation(W, g, Xs, Ys, n, lam, iters, damping, heads):
    """Alternate ridge heads and a Gauss-Newton step on the shared W, ``iters`` times (W in place)."""
    for _ in range(iters):
        fit_heads(W, g, Xs, Ys, n, lam, heads)
        gauss_newton_step(W, g, Xs, Ys, n, heads, damping)


@njit(cache=True)
def run_learned(seed, T, K, W_true, g, heads, sigma, W0, shared, lam, scale, log_inv_delta, S, refit_at,
                iters, damping, rec):
    """GFUCB with a learned representation: OFUL in every task on the current features g(W_hat x).

    ``shared``: one W_hat fitted on all tasks' data (multitask); else one per task, fitted on that
    task alone.  After every round t with ``refit_at[t]`` the representation is refitted (warm
    start from ``W0``'s running copy) and each task's ridge statistics are rebuilt on the new
    features.  Returns (regret (M, R), choices (T, M)).
    """
    M, k = heads.shape
    d = W_true.shape[1]
    W_hat = W0.copy()                       # (1 or M, k, d)
    X, E = _environment(seed, M, K, d)
    Xs = np.empty((M, T, d))
    Ys = np.empty((M, T))
    Vinv, b, theta = ridge_priors((M,), k, lam)
    fit = np.zeros((M, k))
    phi_true = np.empty(k)
    phi = np.empty(k)
    tmp = np.empty(k)
    mus = np.empty(K)
    cum, regret, choices = _records(M, T, rec)
    r = 0
    for t in range(T):
        draw_round(X, E)
        rho = scale * oful_radius(sigma, k, t, lam, log_inv_delta, S)
        for i in range(M):
            w = 0 if shared else i
            best = _true_means(W_true, g, heads[i], X[i], mus, phi_true)
            pick = _ucb_arm(W_hat[w], g, X[i], theta[i], Vinv[i], rho, phi)
            y = _pull(t, i, pick, best, mus[pick], E[i, pick], sigma, choices, cum)
            Xs[i, t] = X[i, pick]
            Ys[i, t] = y
            feature(W_hat[w], g, X[i, pick], phi)
            ridge_add(Vinv[i], b[i], theta[i], phi, y, tmp)
        r = _record(rec, r, t, cum, regret)
        if refit_at[t]:
            n = t + 1
            if shared:
                fit_representation(W_hat[0], g, Xs, Ys, n, lam, iters, damping, fit)
            else:
                for i in range(M):
                    fit_representation(W_hat[i], g, Xs[i:i + 1], Ys[i:i + 1], n, lam, iters, damping,
                                       fit[i:i + 1])
            for i in range(M):
                V, b[i] = ridge_sums(W_hat[0 if shared else i], g, Xs[i], Ys[i], n, lam, phi)
                Vinv[i] = np.linalg.inv(V)
                matvec(Vinv[i], b[i], theta[i])
    return regret, choices


# --- the digit-classification bandit: arms are images, rewards depend on the digit's class ----------------
#
# Contexts and noise are drawn up front (``idx`` (T, M, K) image indices, ``noise`` (T, M, K) standard
# normals), so every learner faces the same images and noise.  Task i's mean reward of an image with
# label c is ``values[i, c]``.

@njit(cache=True)
def _class_means(values, labels, images, mus):
    """mus[a] = values[class of image a] for the images offered to one task; returns the largest."""
    best = -np.inf
    for a in range(images.shape[0]):
        mus[a] = values[labels[images[a]]]
        if mus[a] > best:
            best = mus[a]
    return best


@njit(cache=True)
def run_feature_ucb(F, labels, values, idx, noise, sigma, lam, scale, log_inv_delta, S, rec):
    """Independent OFUL per task on fixed image features F (n_images, p).  Returns (regret (M, R), choices)."""
    T, M, K = idx.shape
    p = F.shape[1]
    Vinv, b, theta = ridge_priors((M,), p, lam)
    tmp = np.empty(p)
    mus = np.empty(K)
    cum, regret, choices = _records(M, T, rec)
    r = 0
    for t in range(T):
        rho = scale * oful_radius(sigma, p, t, lam, log_inv_delta, S)
        for i in range(M):
            best = _class_means(values[i], labels, idx[t, i], mus)
            pick, top = 0, -np.inf
            for a in range(K):
                phi = F[idx[t, i, a]]
                u = dot(theta[i], phi) + rho * np.sqrt(quad(Vinv[i], phi))
                if u > top:
                    top, pick = u, a
            y = _pull(t, i, pick, best, mus[pick], noise[t, i, pick], sigma, choices, cum)
            ridge_add(Vinv[i], b[i], theta[i], F[idx[t, i, pick]], y, tmp)
        r = _record(rec, r, t, cum, regret)
    return regret, choices


@njit(cache=True)
def mlp_features(W1, b1, x, out):
    """out = (tanh(W1 x + b1), 1): hidden units and a constant for the head's intercept."""
    h, D = W1.shape
    for l in range(h):
        s = b1[l]
        for m in range(D):
            s += W1[l, m] * x[m]
        out[l] = np.tanh(s)
    out[h] = 1.0


@njit(cache=True)
def mlp_adam_steps(W1, b1, heads, images, obs_img, obs_task, obs_y, n_obs, u, lr, state):
    """Adam steps (one per row of ``u``) on the mean squared error of y - heads[task] . phi(x), in place.

    Minibatch s of step q: observations floor(u[q, s] n_obs).  ``state`` (4, h, D + 1) holds Adam's
    first and second moments of (W1 | b1) and is updated in place (beta1 0.9, beta2 0.999, eps 1e-8).
    """
    h, D = W1.shape
    steps, batch = u.shape
    gW = np.zeros((h, D + 1))
    phi = np.empty(h + 1)
    for q in range(steps):
        gW[:] = 0.0
        for s in range(batch):
            o = int(u[q, s] * n_obs)
            x = images[obs_img[o]]
            th = heads[obs_task[o]]
            mlp_features(W1, b1, x, phi)
            res = dot(th, phi) - obs_y[o]
            for l in range(h):
                gz = 2.0 * res * th[l] * (1.0 - phi[l] * phi[l]) / batch
                for m in range(D):
                    gW[l, m] += gz * x[m]
                gW[l, D] += gz
        step_no = state[3, 0, 0] + 1.0
        state[3, 0, 0] = step_no
        c1 = 1.0 - 0.9 ** step_no
        c2 = 1.0 - 0.999 ** step_no
        for l in range(h):
            for m in range(D + 1):
                g = gW[l, m]
                state[0, l, m] = 0.9 * state[0, l, m] + 0.1 * g
                state[1, l, m] = 0.999 * state[1, l, m] + 0.001 * g * g
                delta = lr * (state[0, l, m] / c1) / (np.sqrt(state[1, l, m] / c2) + 1e-8)
                if m < D:
                    W1[l, m] -= delta
                else:
                    b1[l] -= delta


@njit(cache=True)
def mlp_ridge(W1, b1, images, obs_img, obs_task, obs_y, n_obs, lam, Vinv, bvec, theta):
    """Ridge statistics of every task on the current features, rebuilt from scratch (fresh inverse)."""
    M, p = theta.shape
    V = np.zeros((M, p, p))
    for i in range(M):
        for l in range(p):
            V[i, l, l] = lam
    bvec[:] = 0.0
    phi = np.empty(p)
    for o in range(n_obs):
        i = obs_task[o]
        mlp_features(W1, b1, images[obs_img[o]], phi)
        accumulate(V[i], bvec[i], phi, obs_y[o])
    for i in range(M):
        Vinv[i] = np.linalg.inv(V[i])
        matvec(Vinv[i], bvec[i], theta[i])


@njit(cache=True)
def run_mlp_ucb(images, labels, values, idx, noise, sigma, W1_0, b1_0, shared, lam, scale, log_inv_delta, S,
                refit_at, fit_rounds, lr, u, rec):
    """Least-squares UCB on a learned MLP representation phi(x) = (tanh(W1 x + b1), 1).

    ``shared``: one MLP fitted on all M tasks' data (multitask); else one MLP per task fitted on that
    task's data.  Every task keeps ridge heads on its MLP's features and plays OFUL on top of them.
    After round t with ``refit_at[t]`` each MLP is refitted, warm-started: ``fit_rounds`` times
    (ridge heads on the current features, then the Adam steps of ``u[refit number]`` on the MLP
    weights with the heads fixed); the ridge statistics are then rebuilt on the new features.
    Returns (regret (M, R), choices (T, M)).
    """
    T, M, K = idx.shape
    h, D = W1_0.shape
    p = h + 1
    nets = 1 if shared else M
    W1 = np.empty((nets, h, D))
    b1 = np.empty((nets, h))
    for n in range(nets):
        W1[n] = W1_0
        b1[n] = b1_0
    Vinv, bvec, theta = ridge_priors((M,), p, lam)
    obs_img = np.empty((M, T), np.int64)
    obs_y = np.empty((M, T))
    phi = np.empty(p)
    tmp = np.empty(p)
    mus = np.empty(K)
    cum, regret, choices = _records(M, T, rec)
    r = 0
    n_refit = 0
    for t in range(T):
        rho = scale * oful_radius(sigma, p, t, lam, log_inv_delta, S)
        for i in range(M):
            net = 0 if shared else i
            best = _class_means(values[i], labels, idx[t, i], mus)
            pick, top = 0, -np.inf
            for a in range(K):
                mlp_features(W1[net], b1[net], images[idx[t, i, a]], phi)
                ucb = dot(theta[i], phi) + rho * np.sqrt(quad(Vinv[i], phi))
                if ucb > top:
                    top, pick = ucb, a
            y = _pull(t, i, pick, best, mus[pick], noise[t, i, pick], sigma, choices, cum)
            obs_img[i, t] = idx[t, i, pick]
            obs_y[i, t] = y
            mlp_features(W1[net], b1[net], images[idx[t, i, pick]], phi)
            ridge_add(Vinv[i], bvec[i], theta[i], phi, y, tmp)
        r = _record(rec, r, t, cum, regret)
        if refit_at[t]:
            n = t + 1
            for net in range(nets):
                tasks = M if shared else 1
                first = 0 if shared else net
                # the group's observations, task-major
                g_img = np.empty(tasks * n, np.int64)
                g_task = np.empty(tasks * n, np.int64)
                g_y = np.empty(tasks * n)
                for a in range(tasks):
                    for s in range(n):
                        g_img[a * n + s] = obs_img[first + a, s]
                        g_task[a * n + s] = a
                        g_y[a * n + s] = obs_y[first + a, s]
                gV = np.empty((tasks, p, p))
                gb = np.empty((tasks, p))
                gth = np.empty((tasks, p))
                state = np.zeros((4, h, D + 1))
                for _ in range(fit_rounds):
                    mlp_ridge(W1[net], b1[net], images, g_img, g_task, g_y, tasks * n, lam, gV, gb, gth)
                    mlp_adam_steps(W1[net], b1[net], gth, images, g_img, g_task, g_y, tasks * n, u[n_refit],
                                   lr, state)
                mlp_ridge(W1[net], b1[net], images, g_img, g_task, g_y, tasks * n, lam, gV, gb, gth)
                for a in range(tasks):
                    Vinv[first + a] = gV[a]
                    bvec[first + a] = gb[a]
                    theta[first + a] = gth[a]
            n_refit += 1
    return regret, choices
