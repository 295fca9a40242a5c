"""Plain-NumPy twins of the bandit kernels: the test oracle and the benchmark baseline.

Written from the model's equations rather than from the kernels: ridge statistics are
recomputed by fresh matrix inverses (``np.linalg.inv`` of ``lam I + sum phi phi^T``) instead of
Sherman-Morrison updates, losses as the full quadratic at the normal-equations solution (the
kernels use the shortcut sum y^2 - b . theta), features and UCB scores vectorised over arms and
candidates.  Randomness is ``np.random.RandomState(seed)``
drawn in the kernels' order (contexts then noise, every round).
"""

from __future__ import annotations

import itertools

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


def gfucb_beta(sigma, k, feat2, t, lam, log_n_over_delta, tasks, S, eps_f):
    n = tasks * t
    core = sigma * np.sqrt(tasks * k * np.log(1 + t * feat2 / (lam * k)) + 2 * log_n_over_delta) + np.sqrt(lam * tasks) * S
    return core**2 + n * eps_f**2 + 2 * sigma * eps_f * np.sqrt(2 * n * log_n_over_delta)


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


def ridge_fit(Phi, y, lam):
    """The ridge estimate (lam I + Phi^T Phi)^{-1} Phi^T y."""
    return np.linalg.solve(lam * np.eye(Phi.shape[1]) + Phi.T @ Phi, Phi.T @ y)


def _outputs(M: int, T: int, rec: np.ndarray):
    """Cumulative regret (M,), its records (M, R) and the arms played (T, M)."""
    return np.zeros(M), np.zeros((M, len(rec))), np.empty((T, M), np.int64)


def _pull(choices, cum, t, i, a, mu):
    """Task i pulls arm a at round t; mu: the task's true means this round."""
    choices[t, i] = a
    cum[i] += mu.max() - mu[a]


def _recorded(rec: np.ndarray, t: int) -> int | None:
    """Position of round t + 1 in ``rec``, or None if it is not recorded."""
    hit = np.flatnonzero(rec == t + 1)
    return int(hit[0]) if hit.size else None


def _ucb(model: Ridge, Phi: np.ndarray, rho: float) -> np.ndarray:
    Vinv = model.inverse()
    width = np.sqrt(np.einsum("ak,kl,al->a", Phi, Vinv, Phi))
    return Phi @ (Vinv @ model.c) + rho * width


def run_linucb(seed, T, K, W_true, g_true, heads, sigma, W_feat, g_feat, lam, scale, log_inv_delta, S, rec):
    M = heads.shape[0]
    d, p = W_true.shape[1], W_feat.shape[0]
    rs = np.random.RandomState(seed)
    models = [Ridge(p, lam) for _ in range(M)]
    cum, regret, choices = _outputs(M, T, rec)
    for t in range(T):
        X, E = draw_round(rs, M, K, d)
        mus = np.einsum("iak,ik->ia", features(W_true, g_true, X), heads)
        rho = scale * oful_radius(sigma, p, t, lam, log_inv_delta, S)
        for i in range(M):
            Phi = features(W_feat, g_feat, X[i])
            a = int(np.argmax(_ucb(models[i], Phi, rho)))
            _pull(choices, cum, t, i, a, mus[i])
            models[i].add(Phi[a], mus[i, a] + sigma * E[i, a])
        if (r := _recorded(rec, t)) is not None:
            regret[:, r] = cum
    return regret, choices


def run_gfucb(seed, T, K, W_true, g, heads, sigma, cands, shared, joint, lam, scale, log_inv_delta, S, feat2,
              eps_f, near, near_heads, rec):
    """Twin of kernels.run_gfucb: slack of every map from its summed loss, optimistic values vectorised."""
    M, k = heads.shape
    N, d = cands.shape[0], W_true.shape[1]
    rs = np.random.RandomState(seed)
    models = [[Ridge(k, lam) for _ in range(N)] for _ in range(M)]
    near_loss = lam * (near_heads**2).sum(axis=1)
    cum, regret, choices = _outputs(M, T, rec)
    n_alive = np.zeros((M, len(rec)), np.int64)
    covered = np.zeros((M, len(rec)), bool)
    suboptimal = np.zeros((M, len(rec)), np.int64)
    n_bad = np.zeros(M, np.int64)
    ok = np.ones(M, bool)
    log_n = log_inv_delta + np.log(N)
    for t in range(T):
        X, E = draw_round(rs, M, K, d)
        mus = np.einsum("iak,ik->ia", features(W_true, g, X), heads)
        beta = scale**2 * gfucb_beta(sigma, k, feat2, t, lam, log_n, M if shared else 1, S, eps_f)
        loss = np.array([[models[i][j].loss() for j in range(N)] for i in range(M)])
        if shared:
            total = loss.sum(axis=0)
            slack = np.broadcast_to(beta - (total - total.min()), (M, N))
            ok &= near_loss.sum() - total.min() <= beta
        else:
            slack = beta - (loss - loss.min(axis=1, keepdims=True))
            ok &= near_loss - loss.min(axis=1) <= beta
        groups = [list(range(M))] if shared and joint else [[i] for i in range(M)]
        acts = np.zeros(M, np.int64)
        for group in groups:
            top = -np.inf
            for j in np.flatnonzero(slack[group[0]] >= 0):
                Phi = [features(cands[j], g, X[i]) for i in group]
                mean = np.array([Phi[q] @ models[i][j].theta() for q, i in enumerate(group)])       # (m, K)
                width = np.array([np.einsum("ak,kl,al->a", Phi[q], models[i][j].inverse(), Phi[q])
                                  for q, i in enumerate(group)])
                # brute force over all K^m arm tuples (the exact optimum the kernel's Pareto programme finds)
                for tup in itertools.product(range(K), repeat=len(group)):
                    rows = np.arange(len(group))
                    u = mean[rows, tup].sum() + np.sqrt(slack[group[0], j] * width[rows, tup].sum())
                    if u > top:
                        top, best_tup = u, tup
            acts[group] = best_tup
        for i in range(M):
            a = int(acts[i])
            _pull(choices, cum, t, i, a, mus[i])
            n_bad[i] += mus[i, a] < mus[i].max()
            y = mus[i, a] + sigma * E[i, a]
            for j in range(N):
                models[i][j].add(features(cands[j], g, X[i, a]), y)
            near_loss[i] += (y - features(cands[near], g, X[i, a]) @ near_heads[i]) ** 2
        if (r := _recorded(rec, t)) is not None:
            regret[:, r] = cum
            n_alive[:, r] = (slack >= 0).sum(axis=1)
            covered[:, r] = ok
            suboptimal[:, r] = n_bad
    return regret, choices, n_alive, covered, suboptimal


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
        out[i] = ridge_fit(features(W, g, Xs[i, :n]), Ys[i, :n], lam)
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
    cum, regret, choices = _outputs(M, T, rec)
    for t in range(T):
        X, E = draw_round(rs, M, K, d)
        mus = np.einsum("iak,ik->ia", features(W_true, g, X), heads)
        rho = scale * oful_radius(sigma, k, t, lam, log_inv_delta, S)
        for i in range(M):
            W = W_hat[0 if shared else i]
            a = int(np.argmax(_ucb(models[i], features(W, g, X[i]), rho)))
            _pull(choices, cum, t, i, a, mus[i])
            Xs[i, t], Ys[i, t] = X[i, a], mus[i, a] + sigma * E[i, a]
            models[i].add(features(W, g, X[i, a]), Ys[i, t])
        if (r := _recorded(rec, t)) is not None:
            regret[:, r] = cum
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


# --- the digit bandit --------------------------------------------------------------------------------------

def run_feature_ucb(F, labels, values, idx, noise, sigma, lam, scale, log_inv_delta, S, rec):
    T, M, K = idx.shape
    models = [Ridge(F.shape[1], lam) for _ in range(M)]
    cum, regret, choices = _outputs(M, T, rec)
    for t in range(T):
        rho = scale * oful_radius(sigma, F.shape[1], t, lam, log_inv_delta, S)
        for i in range(M):
            a = int(np.argmax(_ucb(models[i], F[idx[t, i]], rho)))
            mu = values[i, labels[idx[t, i]]]
            _pull(choices, cum, t, i, a, mu)
            models[i].add(F[idx[t, i, a]], mu[a] + sigma * noise[t, i, a])
        if (r := _recorded(rec, t)) is not None:
            regret[:, r] = cum
    return regret, choices


def mlp_features(W1, b1, X):
    """(tanh(X W1^T + b1), 1) for every row of X."""
    H = np.tanh(X @ W1.T + b1)
    return np.concatenate([H, np.ones(H.shape[:-1] + (1,))], axis=-1)


def mlp_fit(W1, b1, images, img, task, y, lam, fit_rounds, u, lr):
    """Alternate ridge heads and Adam steps on the mean squared error (minibatches from u); returns W1, b1."""
    W1, b1 = W1.copy(), b1.copy()
    h, D = W1.shape
    mom, sec, step_no = np.zeros((h, D + 1)), np.zeros((h, D + 1)), 0
    for _ in range(fit_rounds):
        heads = np.stack([ridge_fit(mlp_features(W1, b1, images[img[task == a]]), y[task == a], lam)
                          for a in range(task.max() + 1)])
        for q in range(u.shape[0]):
            o = (u[q] * len(y)).astype(np.int64)
            X, th = images[img[o]], heads[task[o]]
            H = np.tanh(X @ W1.T + b1)
            res = (H * th[:, :h]).sum(axis=1) + th[:, h] - y[o]
            gz = 2 * res[:, None] * th[:, :h] * (1 - H**2) / len(o)
            grad = np.concatenate([gz.T @ X, gz.sum(axis=0)[:, None]], axis=1)
            step_no += 1
            mom = 0.9 * mom + 0.1 * grad
            sec = 0.999 * sec + 0.001 * grad**2
            upd = lr * (mom / (1 - 0.9**step_no)) / (np.sqrt(sec / (1 - 0.999**step_no)) + 1e-8)
            W1, b1 = W1 - upd[:, :D], b1 - upd[:, D]
    return W1, b1


def run_mlp_ucb(images, labels, values, idx, noise, sigma, W1_0, b1_0, shared, lam, scale, log_inv_delta, S,
                refit_at, fit_rounds, lr, u, rec):
    T, M, K = idx.shape
    p = W1_0.shape[0] + 1
    nets = [(W1_0.copy(), b1_0.copy()) for _ in range(1 if shared else M)]
    models = [Ridge(p, lam) for _ in range(M)]
    obs_img, obs_y = np.empty((M, T), np.int64), np.empty((M, T))
    cum, regret, choices = _outputs(M, T, rec)
    n_refit = 0
    for t in range(T):
        rho = scale * oful_radius(sigma, p, t, lam, log_inv_delta, S)
        for i in range(M):
            W1, b1 = nets[0 if shared else i]
            a = int(np.argmax(_ucb(models[i], mlp_features(W1, b1, images[idx[t, i]]), rho)))
            mu = values[i, labels[idx[t, i]]]
            _pull(choices, cum, t, i, a, mu)
            obs_img[i, t], obs_y[i, t] = idx[t, i, a], mu[a] + sigma * noise[t, i, a]
            models[i].add(mlp_features(W1, b1, images[idx[t, i, a]]), obs_y[i, t])
        if (r := _recorded(rec, t)) is not None:
            regret[:, r] = cum
        if refit_at[t]:
            n = t + 1
            groups = [list(range(M))] if shared else [[i] for i in range(M)]
            for g_no, group in enumerate(groups):
                img = obs_img[group, :n].ravel()
                y = obs_y[group, :n].ravel()
                task = np.repeat(np.arange(len(group)), n)
                nets[g_no] = mlp_fit(*nets[g_no], images, img, task, y, lam, fit_rounds, u[n_refit], lr)
                for i in group:
                    models[i] = Ridge(p, lam)
                    for s in range(n):
                        models[i].add(mlp_features(*nets[g_no], images[obs_img[i, s]]), obs_y[i, s])
            n_refit += 1
    return regret, choices
