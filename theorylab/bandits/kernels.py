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

G_LINEAR, G_TANH = 0, 1


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
def dot(u, v):
    s = 0.0
    for l in range(u.shape[0]):
        s += u[l] * v[l]
    return s


@njit(cache=True)
def quad(A, v):
    """v^T A v."""
    s = 0.0
    for l in range(v.shape[0]):
        r = 0.0
        for m in range(v.shape[0]):
            r += A[l, m] * v[m]
        s += v[l] * r
    return s


@njit(cache=True)
def sherman_morrison(Vinv, phi, tmp):
    """In place: Vinv <- (V + phi phi^T)^{-1} for symmetric V (O(k^2) instead of a fresh inverse)."""
    k = phi.shape[0]
    denom = 1.0
    for l in range(k):
        s = 0.0
        for m in range(k):
            s += Vinv[l, m] * phi[m]
        tmp[l] = s
        denom += phi[l] * s
    for l in range(k):
        for m in range(k):
            Vinv[l, m] -= tmp[l] * tmp[m] / denom


@njit(cache=True)
def matvec(A, v, out):
    for l in range(A.shape[0]):
        s = 0.0
        for m in range(A.shape[1]):
            s += A[l, m] * v[m]
        out[l] = s


@njit(cache=True)
def oful_radius(sigma, k, n, lam, log_inv_delta, S):
    """sqrt(beta): sigma sqrt(k log(1 + n / (lam k)) + 2 log(1/delta)) + sqrt(lam) S (Abbasi-Yadkori et al. 2011)."""
    return sigma * np.sqrt(k * np.log(1.0 + n / (lam * k)) + 2.0 * log_inv_delta) + np.sqrt(lam) * S


@njit(cache=True)
def representation_threshold(sigma, k, n, lam, log_n_over_delta, tasks, S):
    """Loss excess allowed for a representation: sigma^2 (2 log(N/delta) + m k log(1 + n/(lam k))) + lam m S^2.

    The log-covering number of the m-head class over a finite Phi is log N plus m k log(1/eps):
    a candidate stays in the confidence set while its regularised least-squares loss, summed
    over the m tasks, exceeds the smallest one by at most this much.
    """
    return (sigma * sigma * (2.0 * log_n_over_delta + tasks * k * np.log(1.0 + n / (lam * k)))
            + lam * tasks * S * S)


@njit(cache=True)
def _true_means(W_true, g, theta, Xi, mus, phi):
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


@njit(cache=True)
def _ridge_add(Vinv, b, theta, phi, y, tmp):
    """Add the sample (phi, y) to ridge statistics in place: V^-1 by Sherman-Morrison, b += y phi, theta = V^-1 b."""
    sherman_morrison(Vinv, phi, tmp)
    for l in range(phi.shape[0]):
        b[l] += y * phi[l]
    matvec(Vinv, b, theta)


# --- LinUCB / OFUL on a fixed feature map (known representation, or raw contexts) -------------------

@njit(cache=True)
def run_linucb(seed, T, K, W_true, g_true, heads, sigma, W_feat, g_feat, lam, scale, log_inv_delta, S, rec):
    """Independent OFUL in every task on features g_feat(W_feat x).

    Returns (regret (M, R), choices (T, M)).
    """
    M, k_true = heads.shape
    d = W_true.shape[1]
    p = W_feat.shape[0]
    np.random.seed(seed)
    X = np.empty((M, K, d))
    E = np.empty((M, K))
    Vinv = np.zeros((M, p, p))
    for i in range(M):
        for l in range(p):
            Vinv[i, l, l] = 1.0 / lam
    b = np.zeros((M, p))
    theta = np.zeros((M, p))
    phi_true = np.empty(k_true)
    phi = np.empty(p)
    tmp = np.empty(p)
    mus = np.empty(K)
    cum = np.zeros(M)
    R = rec.shape[0]
    regret = np.zeros((M, R))
    choices = np.empty((T, M), np.int64)
    r = 0
    for t in range(T):
        draw_round(X, E)
        rho = scale * oful_radius(sigma, p, t, lam, log_inv_delta, S)
        for i in range(M):
            best = _true_means(W_true, g_true, heads[i], X[i], mus, phi_true)
            pick = _ucb_arm(W_feat, g_feat, X[i], theta[i], Vinv[i], rho, phi)
            choices[t, i] = pick
            cum[i] += best - mus[pick]
            y = mus[pick] + sigma * E[i, pick]
            feature(W_feat, g_feat, X[i, pick], phi)
            _ridge_add(Vinv[i], b[i], theta[i], phi, y, tmp)
        if r < R and rec[r] == t + 1:
            regret[:, r] = cum
            r += 1
    return regret, choices


# --- GFUCB over a finite representation class ----------------------------------------------------

@njit(cache=True)
def run_finite(seed, T, K, W_true, g, heads, sigma, cands, shared, lam, scale, log_inv_delta, S, rec):
    """GFUCB with the representation class {g(W_j x)}, j < N, enumerated exactly.

    Per task i and candidate j: ridge statistics (V_ij^{-1}, b_ij), estimate theta_ij and the
    regularised least-squares loss L_ij = sum y^2 - b_ij . theta_ij.  Confidence set: candidates
    whose loss (summed over all tasks if ``shared``, else per task) exceeds the smallest by at most
    ``scale^2 representation_threshold``, and for each of them the OFUL ellipsoid of every head.
    Each task pulls the arm of largest max_{j alive} theta_ij . phi_j(x) + rho ||phi_j(x)||_{V_ij^{-1}}.

    Returns (regret (M, R), choices (T, M), alive (M, R) candidates in the set).
    """
    M, k = heads.shape
    N = cands.shape[0]
    d = W_true.shape[1]
    np.random.seed(seed)
    X = np.empty((M, K, d))
    E = np.empty((M, K))
    Vinv = np.zeros((M, N, k, k))
    for i in range(M):
        for j in range(N):
            for l in range(k):
                Vinv[i, j, l, l] = 1.0 / lam
    b = np.zeros((M, N, k))
    theta = np.zeros((M, N, k))
    yy = np.zeros(M)
    loss = np.zeros((M, N))
    alive = np.zeros((M, N), np.bool_)
    tot = np.zeros(N)
    phi = np.empty(k)
    tmp = np.empty(k)
    mus = np.empty(K)
    cum = np.zeros(M)
    R = rec.shape[0]
    regret = np.zeros((M, R))
    n_alive = np.zeros((M, R), np.int64)
    choices = np.empty((T, M), np.int64)
    log_n = log_inv_delta + np.log(N)
    m_tasks = M if shared else 1
    r = 0
    for t in range(T):
        draw_round(X, E)
        rho = scale * oful_radius(sigma, k, t, lam, log_inv_delta, S)
        thr = scale * scale * representation_threshold(sigma, k, t, lam, log_n, m_tasks, S)
        if shared:
            for j in range(N):
                tot[j] = 0.0
                for i in range(M):
                    tot[j] += loss[i, j]
            low = tot.min()
            for i in range(M):
                for j in range(N):
                    alive[i, j] = tot[j] - low <= thr
        else:
            for i in range(M):
                low = loss[i].min()
                for j in range(N):
                    alive[i, j] = loss[i, j] - low <= thr
        for i in range(M):
            best = _true_means(W_true, g, heads[i], X[i], mus, phi)
            pick, top = 0, -np.inf
            for a in range(K):
                u_a = -np.inf
                for j in range(N):
                    if not alive[i, j]:
                        continue
                    feature(cands[j], g, X[i, a], phi)
                    u = dot(theta[i, j], phi) + rho * np.sqrt(quad(Vinv[i, j], phi))
                    if u > u_a:
                        u_a = u
                if u_a > top:
                    top, pick = u_a, a
            choices[t, i] = pick
            cum[i] += best - mus[pick]
            y = mus[pick] + sigma * E[i, pick]
            yy[i] += y * y
            for j in range(N):
                feature(cands[j], g, X[i, pick], phi)
                _ridge_add(Vinv[i, j], b[i, j], theta[i, j], phi, y, tmp)
                loss[i, j] = yy[i] - dot(b[i, j], theta[i, j])
        if r < R and rec[r] == t + 1:
            regret[:, r] = cum
            for i in range(M):
                n_alive[i, r] = alive[i].sum()
            r += 1
    return regret, choices, n_alive


# --- GFUCB over a continuous class: least-squares representation, refitted on a schedule ----------

@njit(cache=True)
def fit_heads(W, g, Xs, Ys, n, lam, heads):
    """Ridge heads on features g(W x) from the first n samples of every task (rows of Xs, Ys)."""
    k, d = W.shape
    phi = np.empty(k)
    for i in range(Xs.shape[0]):
        A = lam * np.eye(k)
        c = np.zeros(k)
        for s in range(n):
            feature(W, g, Xs[i, s], phi)
            for l in range(k):
                c[l] += phi[l] * Ys[i, s]
                for m in range(k):
                    A[l, m] += phi[l] * phi[m]
        heads[i] = np.linalg.solve(A, c)


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
    np.random.seed(seed)
    X = np.empty((M, K, d))
    E = np.empty((M, K))
    Xs = np.empty((M, T, d))
    Ys = np.empty((M, T))
    Vinv = np.zeros((M, k, k))
    for i in range(M):
        for l in range(k):
            Vinv[i, l, l] = 1.0 / lam
    b = np.zeros((M, k))
    theta = np.zeros((M, k))
    fit = np.zeros((M, k))
    phi_true = np.empty(k)
    phi = np.empty(k)
    tmp = np.empty(k)
    mus = np.empty(K)
    cum = np.zeros(M)
    R = rec.shape[0]
    regret = np.zeros((M, R))
    choices = np.empty((T, M), np.int64)
    r = 0
    for t in range(T):
        draw_round(X, E)
        rho = scale * oful_radius(sigma, k, t, lam, log_inv_delta, S)
        for i in range(M):
            w = 0 if shared else i
            best = _true_means(W_true, g, heads[i], X[i], mus, phi_true)
            pick = _ucb_arm(W_hat[w], g, X[i], theta[i], Vinv[i], rho, phi)
            choices[t, i] = pick
            cum[i] += best - mus[pick]
            y = mus[pick] + sigma * E[i, pick]
            Xs[i, t] = X[i, pick]
            Ys[i, t] = y
            feature(W_hat[w], g, X[i, pick], phi)
            _ridge_add(Vinv[i], b[i], theta[i], phi, y, tmp)
        if r < R and rec[r] == t + 1:
            regret[:, r] = cum
            r += 1
        if refit_at[t]:
            n = t + 1
            if shared:
                fit_representation(W_hat[0], g, Xs, Ys, n, lam, iters, damping, fit)
            else:
                for i in range(M):
                    fit_representation(W_hat[i], g, Xs[i:i + 1], Ys[i:i + 1], n, lam, iters, damping,
                                       fit[i:i + 1])
            for i in range(M):
                w = 0 if shared else i
                V = lam * np.eye(k)
                b[i] = 0.0
                for s in range(n):
                    feature(W_hat[w], g, Xs[i, s], phi)
                    for l in range(k):
                        b[i, l] += Ys[i, s] * phi[l]
                        for m in range(k):
                            V[l, m] += phi[l] * phi[m]
                Vinv[i] = np.linalg.inv(V)
                matvec(Vinv[i], b[i], theta[i])
    return regret, choices
