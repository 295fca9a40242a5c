"""Closed forms of the linear-MDP study: Bellman backups, the inherent Bellman error of a feature map,
and exact optimal values.

Construction (time-homogeneous, so the step index only enters through the value range H - h):
task i has ``P_i(.|s, a) = (1 - eps) phi*(s, a)^T mu_i + eps Pt_i(.|s, a)`` and reward mean
``r_i(s, a) = (1 - eps) phi*(s, a) . theta_i + eps rt_i(s, a)`` with ``phi*(s, a)`` in the probability
simplex of R^k, the rows of ``mu_i`` distributions over states, ``theta_i`` and ``rt_i`` in [0, 1] and
``Pt_i`` an arbitrary transition law.  For any V with values in [0, H - 1] the Bellman backup is

    r_i + P_i V = phi* . w + eps (rt_i + Pt_i V - c),   w = (1 - eps)(theta_i + mu_i V) + eps c 1,

with c = (1 + max V) / 2 (phi* sums to one, so phi* . c 1 = c), and the remainder lies in
[-eps c, eps c]: the inherent Bellman error of phi* is at most eps H / 2 and exactly 0 at eps = 0
(a linear MDP).
"""

from __future__ import annotations

import numpy as np


def backup(P: np.ndarray, R: np.ndarray, V: np.ndarray) -> np.ndarray:
    """(T V)(s, a) = R(s, a) + sum_t P(s, a, t) V(t) for one task, shape (S, A)."""
    return R + P @ V


def projection_residual(Phi: np.ndarray, target: np.ndarray, norm: str = "sup") -> float:
    """Residual of target on span(Phi) at the least-squares w: its largest |.| over (s, a) (``sup``), or its
    root mean square (``rms``).

    The best sup-norm fit error of target on span(Phi) lies between the two: ``sup`` is the error of one
    particular w (an upper bound) and, for every w, max |r| >= rms(r) >= the least-squares rms (a lower bound).
    """
    X = Phi.reshape(-1, Phi.shape[-1])
    y = target.reshape(-1)
    w = np.linalg.lstsq(X, y, rcond=None)[0]
    r = y - X @ w
    if norm == "sup":
        return float(np.max(np.abs(r)))
    if norm == "rms":
        return float(np.sqrt(np.mean(r * r)))
    raise ValueError(f"norm must be 'sup' or 'rms' (got {norm!r})")


def bellman_error_bound(eps: float, horizon: int) -> float:
    """eps H / 2: the inherent Bellman error of phi* under the construction above."""
    return eps * horizon / 2.0


def bellman_witness(phi: np.ndarray, mu: np.ndarray, theta: np.ndarray, eps: float, V: np.ndarray) -> np.ndarray:
    """The weight vector w of the module docstring for the value function V (its remainder is <= eps c)."""
    c = (1.0 + V.max()) / 2.0
    return (1.0 - eps) * (theta + mu @ V) + eps * c


def largest_residual(Phi: np.ndarray, P: np.ndarray, R: np.ndarray, values: list[np.ndarray],
                     norm: str = "sup") -> float:
    """max over tasks and value functions of the least-squares residual of T V on span(Phi) (see
    :func:`projection_residual` for ``norm``).

    ``P`` (M, S, A, S), ``R`` (M, S, A), ``values[i]`` an (n, S) stack of value functions for task i.
    """
    worst = 0.0
    for i in range(P.shape[0]):
        for V in values[i]:
            worst = max(worst, projection_residual(Phi, backup(P[i], R[i], V), norm))
    return worst


def optimal_values(P: np.ndarray, R: np.ndarray, horizon: int) -> np.ndarray:
    """V*[h, s] by backward induction, vectorised over states and actions (V*[H] = 0)."""
    V = np.zeros((horizon + 1, R.shape[0]))
    for h in range(horizon - 1, -1, -1):
        V[h] = backup(P, R, V[h + 1]).max(axis=1)
    return V
