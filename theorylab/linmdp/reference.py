"""Plain-NumPy twins of the linear-MDP kernels: the test oracle and the benchmark baseline.

Written from the model's equations rather than from the kernels: ridge statistics are kept as raw
sums (``lam I + sum phi phi^T``, ``sum phi y``) and inverted afresh with ``np.linalg.inv`` instead of
Sherman-Morrison updates; the test loss is the full ridge objective at its minimiser (the kernels
use the shortcut ``sum y^2 - b^T Linv b``); value iteration and policy evaluation are vectorised
over states and actions; sampling uses ``np.searchsorted`` on the cumulative laws.  Randomness is
``np.random.RandomState(seed).random_sample`` drawn in the kernels' order.
"""

from __future__ import annotations

import numpy as np


def optimal_values(P: np.ndarray, R: np.ndarray, H: int) -> np.ndarray:
    V = np.zeros((H + 1, R.shape[0]))
    for h in range(H - 1, -1, -1):
        V[h] = (R + P @ V[h + 1]).max(axis=1)
    return V


def policy_values(P: np.ndarray, R: np.ndarray, policy: np.ndarray) -> np.ndarray:
    H, S = policy.shape
    V = np.zeros((H + 1, S))
    rows = np.arange(S)
    for h in range(H - 1, -1, -1):
        V[h] = R[rows, policy[h]] + P[rows, policy[h]] @ V[h + 1]
    return V


def inverse_cdf(cum: np.ndarray, u: float) -> int:
    return int(min(np.searchsorted(cum, u, side="right"), cum.shape[0] - 1))


def lsvi_radius(d, n, lam, log_n_over_delta, H):
    return H * np.sqrt(d * np.log(1 + n / (lam * d)) + 2 * log_n_over_delta)


def representation_threshold(d, n, lam, log_n_over_delta, tasks, outputs):
    return outputs * (0.25 * (2 * (log_n_over_delta + np.log(outputs)) + tasks * d * np.log(1 + n / (lam * d)))
                      + lam * tasks * d)


class Ridge:
    """Ridge regression of a target vector y (one head per target) on phi, kept as raw sums."""

    def __init__(self, d: int, lam: float, outputs: int):
        self.lam, self.G, self.c, self.yy = lam, np.zeros((d, d)), np.zeros((d, outputs)), 0.0

    def add(self, phi: np.ndarray, y: np.ndarray) -> None:
        self.G += np.outer(phi, phi)
        self.c += np.outer(phi, y)
        self.yy += y @ y

    def inverse(self) -> np.ndarray:
        return np.linalg.inv(self.lam * np.eye(len(self.c)) + self.G)

    def loss(self) -> float:
        """sum over targets of min_w sum (y_c - w . phi)^2 + lam |w|^2, evaluated at the minimisers."""
        W = self.inverse() @ self.c
        return self.yy - 2 * np.sum(W * self.c) + np.sum(W * (self.G @ W)) + self.lam * np.sum(W * W)


def lsvi(Phi, Linv, counts, rsum, H, coef):
    """Optimistic LSVI on all transitions (time-homogeneous MDP); returns Q (H, S, A)."""
    S, A, d = Phi.shape
    X = Phi.reshape(S * A, d)
    bonus = coef * np.sqrt(np.einsum("nd,de,ne->n", X, Linv, X)).reshape(S, A)
    Q = np.empty((H, S, A))
    V = np.zeros(S)
    for h in range(H - 1, -1, -1):
        targets = rsum + counts @ V
        w = Linv @ (X.T @ targets.reshape(-1))
        Q[h] = np.minimum(H - h, Phi @ w + bonus)
        V = Q[h].max(axis=1)
    return Q


def run_lsvi(seed, episodes, H, P, Pcum, R, rho, rho_cum, feats, true_index, shared, lam,
             bonus_scale, rep_scale, log_inv_delta, rec):
    """Twin of :func:`theorylab.linmdp.kernels.run_lsvi` (same arguments, same outputs)."""
    M, S, A, _ = P.shape
    N, _, _, d = feats.shape
    rs = np.random.RandomState(seed)
    v_opt = np.array([rho @ optimal_values(P[i], R[i], H)[0] for i in range(M)])
    ridge = [[Ridge(d, lam, S + 1) for _ in range(N)] for _ in range(M)]
    counts = np.zeros((M, S, A, S))
    rsum = np.zeros((M, S, A))
    groups = [list(range(M))] if shared else [[i] for i in range(M)]
    log_n = np.log(N) + log_inv_delta
    cum, hits, misses, n_kept = np.zeros(M), np.zeros(M), np.zeros(M), np.zeros(M)
    true_in = np.ones(M, bool)
    policy = np.zeros((M, H, S), np.int64)
    pick = np.zeros(M, np.int64)
    regret, kept_rec, hits_rec, miss_rec = (np.zeros((M, len(rec))) for _ in range(4))
    mc = np.zeros((M, 4))
    r = 0
    for k in range(episodes):
        U = rs.random_sample((M, 1 + 2 * H))
        n = float(k * H)
        coef = bonus_scale * lsvi_radius(d, n, lam, log_n, H)
        loss = np.array([[ridge[i][j].loss() for j in range(N)] for i in range(M)])
        inverses = [[ridge[i][j].inverse() for j in range(N)] for i in range(M)]
        for grp in groups:
            total = loss[grp].sum(axis=0)
            beta = rep_scale * representation_threshold(d, n, lam, log_n, len(grp), S + 1)
            kept = np.flatnonzero(total <= total.min() + beta)
            Qs = {j: [lsvi(feats[j], inverses[i][j], counts[i], rsum[i], H, coef) for i in grp] for j in kept}
            values = np.array([sum(rho @ q[0].max(axis=1) for q in Qs[j]) for j in kept])
            choice = int(kept[np.argmax(values)])
            for q, i in zip(Qs[choice], grp):
                pick[i] = choice
                n_kept[i] = len(kept)
                true_in[i] = true_index < 0 or true_index in kept
                policy[i] = q.argmax(axis=2)
        for i in range(M):
            vp = rho @ policy_values(P[i], R[i], policy[i])[0]
            cum[i] += v_opt[i] - vp
            hits[i] += pick[i] == true_index
            misses[i] += not true_in[i]
            s = inverse_cdf(rho_cum, U[i, 0])
            ret = 0.0
            for h in range(H):
                a = policy[i, h, s]
                rew = float(U[i, 1 + 2 * h] < R[i, s, a])
                s2 = inverse_cdf(Pcum[i, s, a], U[i, 2 + 2 * h])
                ret += rew
                counts[i, s, a, s2] += 1
                rsum[i, s, a] += rew
                y = np.zeros(S + 1)
                y[0], y[1 + s2] = rew, 1.0
                for j in range(N):
                    ridge[i][j].add(feats[j, s, a], y)
                s = s2
            mc[i] += [ret, vp, ret - vp, (ret - vp) ** 2]
        if r < len(rec) and rec[r] == k + 1:
            regret[:, r], kept_rec[:, r], hits_rec[:, r], miss_rec[:, r] = cum, n_kept, hits, misses
            r += 1
    return regret, kept_rec, hits_rec, miss_rec, mc
