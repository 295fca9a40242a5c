"""Plain-NumPy twins of the deep matrix-completion kernels (test oracle, benchmark baseline).

One switch point per call, no branching and no transposed tricks: the loop is the
official training loop written out (forward, measure, update), with the kernels' step
indexing: epochs ``0 .. T_sw`` update on task 1, epochs ``T_sw + 1 .. T_sw + n_continue - 2``
on task 2, and the test loss is measured on the forward pass of epoch
``T_sw + n_continue - 1``.  Gradients use the textbook form
``grad_l = (W_{D-1} ... W_{l+1})^T G (W_{l-1} ... W_0)^T`` with ``G = P_Omega(W - M) / m``.
Singular values come from ``np.linalg.svd`` (the kernel uses eigenvalues of ``W^T W``).
"""

from __future__ import annotations

import numpy as np


def end_to_end(Ws: np.ndarray) -> np.ndarray:
    """``W = Ws[D-1] @ ... @ Ws[0]``."""
    W = Ws[0]
    for layer in Ws[1:]:
        W = layer @ W
    return W


def gd_step(Ws: np.ndarray, M: np.ndarray, mask: np.ndarray, lr: float) -> np.ndarray:
    """One full-batch GD step on ``1/(2m) sum_Omega (W - M)^2``; returns the new layers."""
    D = Ws.shape[0]
    m = mask.sum()
    prefix = [Ws[0]]                      # prefix[l] = W_l ... W_0
    for l in range(1, D):
        prefix.append(Ws[l] @ prefix[-1])
    suffix = [None] * D                   # suffix[l] = W_{D-1} ... W_{l+1} (None = identity)
    for l in range(D - 2, -1, -1):
        suffix[l] = Ws[l + 1] if suffix[l + 1] is None else suffix[l + 1] @ Ws[l + 1]
    G = mask * (prefix[-1] - M) / m
    new = np.empty_like(Ws)
    for l in range(D):
        g = G if suffix[l] is None else suffix[l].T @ G
        if l >= 1:
            g = g @ prefix[l - 1].T
        new[l] = Ws[l] - np.asarray(lr, dtype=Ws.dtype) * g
    return new


def gd_single(W0: np.ndarray, M1: np.ndarray, mask1: np.ndarray, M2: np.ndarray,
                 mask2: np.ndarray, lr: float, t_switch: int, n_continue: int,
                 log_every: int = 0, n_sv: int = 10) -> dict[str, np.ndarray | float]:
    """Train on task 1 then task 2 for one ``T_sw``; the test targets are ``M1`` and ``M2``.

    Returns ``test_loss``, ``task1_loss`` (at the switch), ``W_final`` and, when
    ``log_every > 0``, ``sigma[k, r]`` and ``test_traj[k]`` at epochs ``k * log_every``
    up to the final epoch.
    """
    Ws = np.array(W0, copy=True)
    E = t_switch + n_continue - 1
    sigma, traj = [], []
    out: dict[str, np.ndarray | float] = {}
    for epoch in range(E + 1):
        W = end_to_end(Ws)
        if epoch == t_switch + 1:
            out["task1_loss"] = float(np.mean((M1.astype(np.float64) - W) ** 2))
        if log_every and epoch % log_every == 0:
            sigma.append(np.linalg.svd(W.astype(np.float64), compute_uv=False)[:n_sv])
            traj.append(float(np.mean((M2.astype(np.float64) - W) ** 2)))
        if epoch == E:
            out["test_loss"] = float(np.mean((M2.astype(np.float64) - W) ** 2))
            out["W_final"] = W
            break
        if epoch <= t_switch:
            Ws = gd_step(Ws, M1, mask1, lr)
        else:
            Ws = gd_step(Ws, M2, mask2, lr)
    if log_every:
        out["sigma"] = np.array(sigma)
        out["test_traj"] = np.array(traj)
    return out


def gd_loop(Ws: np.ndarray, M: np.ndarray, mask: np.ndarray, lr: float, n_steps: int) -> np.ndarray:
    """``n_steps`` plain GD steps on one task (benchmark baseline)."""
    Ws = np.array(Ws, copy=True)
    for _ in range(n_steps):
        Ws = gd_step(Ws, M, mask, lr)
    return Ws
