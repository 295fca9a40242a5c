"""Plain-NumPy twins of the bandit kernels: the test oracle and the benchmark baseline.

Written from the model's equations rather than from the kernels: ridge statistics are
recomputed by fresh matrix inverses (``np.linalg.inv`` of ``lam I + sum phi phi^T``) instead of
Sherman-Morrison updates, losses as the full quadratic at the normal-equations solution (the
kernels use the shortcut sum y^2 - b . theta), features and UCB scores vectorised over arms and
candidates.  Randomness is ``np.random.RandomState(seed)``
drawn in the kernels' order (contexts then noise, every round).
"""

from __future__ import annotations

import numpy as np

G_LINEAR, G_TANH = 0, 1


def draw_round(rs: np.random.RandomState, M: int, K: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    X = rs.normal(size=(M, K, d))
    X /= np.sqrt((X * X).sum(axis=-1, keepdims=True))
    return X, rs.normal(size=(M, K))


def features(W: np.ndarray, g: int, X: np.ndarray) -> np.ndarray:
    """g(W x) for every row x of X (..., d) -> (..., k)."""
    z = X @ W.T
    return np.tanh(z) if g == G_TANH else z


def oful_radius(sigma, k, n, lam, log_inv_delta, S):
    return sigma * np.sqrt(k * np.log(1 + n / (lam * k)) + 2 * log_inv_delta) + np.sqrt(lam) * S


def representation_threshold(sigma, k, n, lam, log_n_over_delta, tasks, S):
    return sigma**2 * (2 * log_n_over_delta + tasks * k * np.log(1 + n / (lam * k))) + lam * tasks * S**2


class Ridge:
    """Ridge regression kept as raw sums, inverted afresh whenever asked."""

    def __init__(self, p: int, lam: float):
        self.lam, self.A, self.c, self.yy = lam, np.zeros((p, p)), np.zeros(p), 0.0

    def add(self, phi: np.ndarray, y: float) -> None:
        self.A += np.outer(phi, phi)
        self.c += y * phi
        self.yy += y * y

    def inverse(self) -> np.ndarray:
        return np.linalg.inv(self.lam * np.eye(len(self.c)) + self.A)

    def theta(self) -> np.ndarray:
        return self.inverse() @ self.c

    def loss(self) -> float:
        """min_theta sum (y - theta.phi)^2 + lam |theta|^2."""
        th = self.theta()
        return self.yy - 2 * th @ self.c + th @ self.A @ th + self.lam * th @ th


def _ucb(model: Ridge, Phi: np.ndarray, rho: float) -> np.ndarray:
    Vinv = model.inverse()
    width = np.sqrt(np.einsum("ak,kl,al->a", Phi, Vinv, Phi))
    return Phi @ (Vinv @ model.c) + rho * width


def run_linucb(seed, T, K, W_true, g_true, heads, sigma, W_feat, g_feat, lam, scale, log_inv_delta, S, rec):
    M = heads.shape[0]
    d, p = W_true.shape[1], W_feat.shape[0]
    rs = np.random.RandomState(seed)
    models = [Ridge(p, lam) for _ in range(M)]
    cum, regret = np.zeros(M), np.zeros((M, len(rec)))
    choices = np.empty((T, M), np.int64)
    for t in range(T):
        X, E = draw_round(rs, M, K, d)
        mus = np.einsum("iak,ik->ia", features(W_true, g_true, X), heads)
        rho = scale * oful_radius(sigma, p, t, lam, log_inv_delta, S)
        for i in range(M):
            Phi = features(W_feat, g_feat, X[i])
            a = int(np.argmax(_ucb(models[i], Phi, rho)))
            choices[t, i] = a
            cum[i] += mus[i].max() - mus[i, a]
            models[i].add(Phi[a], mus[i, a] + sigma * E[i, a])
        hit = np.flatnonzero(rec == t + 1)
        if hit.size:
            regret[:, hit[0]] = cum
    return regret, choices


def run_finite(seed, T, K, W_true, g, heads, sigma, cands, shared, lam, scale, log_inv_delta, S, rec):
    M, k = heads.shape
    N, d = cands.shape[0], W_true.shape[1]
    rs = np.random.RandomState(seed)
    models = [[Ridge(k, lam) for _ in range(N)] for _ in range(M)]
    cum, regret = np.zeros(M), np.zeros((M, len(rec)))
    n_alive = np.zeros((M, len(rec)), np.int64)
    choices = np.empty((T, M), np.int64)
    log_n = log_inv_delta + np.log(N)
    for t in range(T):
        X, E = draw_round(rs, M, K, d)
        mus = np.einsum("iak,ik->ia", features(W_true, g, X), heads)
        rho = scale * oful_radius(sigma, k, t, lam, log_inv_delta, S)
        thr = scale**2 * representation_threshold(sigma, k, t, lam, log_n, M if shared else 1, S)
        loss = np.array([[models[i][j].loss() for j in range(N)] for i in range(M)])
        if shared:
            total = loss.sum(axis=0)
            alive = np.broadcast_to(total - total.min() <= thr, (M, N))
        else:
            alive = loss - loss.min(axis=1, keepdims=True) <= thr
        for i in range(M):
            ucb = np.full(K, -np.inf)
            for j in np.flatnonzero(alive[i]):
                ucb = np.maximum(ucb, _ucb(models[i][j], features(cands[j], g, X[i]), rho))
            a = int(np.argmax(ucb))
            choices[t, i] = a
            cum[i] += mus[i].max() - mus[i, a]
            y = mus[i, a] + sigma * E[i, a]
            for j in range(N):
                models[i][j].add(features(cands[j], g, X[i, a]), y)
        hit = np.flatnonzero(rec == t + 1)
        if hit.size:
            regret[:, hit[0]] = cum
            n_alive[:, hit[0]] = alive.sum(axis=1)
    return regret, choices, n_alive


def gauss_newton_step(W, g, Xs, Ys, n, heads, damping):
    """Damped Gauss-Newton step on W for sum_i sum_s (y - theta_i . g(W x))^2; returns the new W."""
    k, d = W.shape
    X = Xs[:, :n]                                     # (tasks, n, d)
    Z = X @ W.T                                       # (tasks, n, k)
    H, slope = (np.tanh(Z), 1 - np.tanh(Z) ** 2) if g == G_TANH else (Z, np.ones_like(Z))
    res = Ys[:, :n] - np.einsum("tnk,tk->tn", H, heads)
    J = np.einsum("tk,tnk,tnd->tnkd", heads, slope, X).reshape(-1, k * d)
    step = np.linalg.solve(J.T @ J + damping * np.eye(k * d), J.T @ res.ravel())
    return W + step.reshape(k, d)


def fit_heads(W, g, Xs, Ys, n, lam):
    k = W.shape[0]
    out = np.empty((Xs.shape[0], k))
    for i in range(Xs.shape[0]):
        Phi = features(W, g, Xs[i, :n])
        out[i] = np.linalg.solve(lam * np.eye(k) + Phi.T @ Phi, Phi.T @ Ys[i, :n])
    return out


def fit_representation(W, g, Xs, Ys, n, lam, iters, damping):
    for _ in range(iters):
        heads = fit_heads(W, g, Xs, Ys, n, lam)
        W = gauss_newton_step(W, g, Xs, Ys, n, heads, damping)
    return W


def run_learned(seed, T, K, W_true, g, heads, sigma, W0, shared, lam, scale, log_inv_delta, S, refit_at,
                iters, damping, rec):
    M, k = heads.shape
    d = W_true.shape[1]
    W_hat = [w.copy() for w in W0]
    rs = np.random.RandomState(seed)
    Xs, Ys = np.empty((M, T, d)), np.empty((M, T))
    models = [Ridge(k, lam) for _ in range(M)]
    cum, regret = np.zeros(M), np.zeros((M, len(rec)))
    choices = np.empty((T, M), np.int64)
    for t in range(T):
        X, E = draw_round(rs, M, K, d)
        mus = np.einsum("iak,ik->ia", features(W_true, g, X), heads)
        rho = scale * oful_radius(sigma, k, t, lam, log_inv_delta, S)
        for i in range(M):
            W = W_hat[0 if shared else i]
            a = int(np.argmax(_ucb(models[i], features(W, g, X[i]), rho)))
            choices[t, i] = a
            cum[i] += mus[i].max() - mus[i, a]
            Xs[i, t], Ys[i, t] = X[i, a], mus[i, a] + sigma * E[i, a]
            models[i].add(features(W, g, X[i, a]), Ys[i, t])
        hit = np.flatnonzero(rec == t + 1)
        if hit.size:
            regret[:, hit[0]] = cum
        if refit_at[t]:
            n = t + 1
            if shared:
                W_hat[0] = fit_representation(W_hat[0], g, Xs, Ys, n, lam, iters, damping)
            else:
                W_hat = [fit_representation(W_hat[i], g, Xs[i:i + 1], Ys[i:i + 1], n, lam, iters, damping)
                         for i in range(M)]
            for i in range(M):
                models[i] = Ridge(k, lam)
                W = W_hat[0 if shared else i]
                for s in range(n):
                    models[i].add(features(W, g, Xs[i, s]), Ys[i, s])
    return regret, choices
