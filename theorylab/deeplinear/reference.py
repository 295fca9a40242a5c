"""Plain-NumPy twins of the Model A kernels: the test oracle and the benchmark baseline.

Written for clarity, not speed: explicit layer lists and ``np.linalg.multi_dot``.
Same conventions as :mod:`theorylab.deeplinear.kernels` (update ``k`` is gated by ``gate_b[k]``).
"""

from __future__ import annotations

import numpy as np


def mode_map(s, pa0, pb0, depth, c, lr, n_steps, gate_b, remove_b, lesion_a, record_every):
    s = np.asarray(s, float)
    pa, pb = np.array(pa0, float), np.array(pb0, float)
    lesion = np.asarray(lesion_a, bool)

    def strength(p):
        gain = (p * p + c) ** (0.5 * (depth - 1))
        return p * gain, gain

    ka_rec, kb_rec = [strength(pa)[0]], [strength(pb)[0]]
    for k in range(n_steps):
        (ka, ha), (kb, hb) = strength(pa), strength(pb)
        omega = s - np.where(lesion, 0.0, ka) - (0.0 if (gate_b[k] and remove_b) else kb)
        pa = pa + np.where(lesion, 0.0, lr * ha * omega)
        if not gate_b[k]:
            pb = pb + lr * hb * omega
        if (k + 1) % record_every == 0:
            ka_rec.append(strength(pa)[0])
            kb_rec.append(strength(pb)[0])
    return np.array(ka_rec), np.array(kb_rec)


def _product(layers):
    return layers[0] if len(layers) == 1 else np.linalg.multi_dot(layers[::-1])


def pathway_gd(Wa0, Wb0, target, U, V, lr, n_steps, gate_b, remove_b, lesion, proj_u, proj_v,
               n_modes, record_every):
    weights = [[w.copy() for w in Wa0], [w.copy() for w in Wb0]]
    depth, h = len(weights[0]), Wa0.shape[1]
    eye = np.eye(h)
    k_rec, loss_rec, off_rec = [], [], []
    for k in range(n_steps + 1):
        omega_a = _product(weights[0])
        if lesion:
            omega_a = proj_u @ omega_a @ proj_v
        omega_b = _product(weights[1])
        gated = k < n_steps and gate_b[k]
        residual = omega_a - target + (0.0 if (gated and remove_b) else omega_b)
        if k % record_every == 0:
            loss_rec.append(0.5 * np.sum(residual ** 2))
            projs = [U.T @ om @ V for om in (omega_a, omega_b)]
            k_rec.append([np.diag(pr)[:n_modes] for pr in projs])
            block = [pr[:n_modes, :n_modes] - np.diag(np.diag(pr)[:n_modes]) for pr in projs]
            off_rec.append(max(np.abs(b).max() for b in block))
        if k == n_steps:
            final = np.array([U.T @ omega_a @ V, U.T @ omega_b @ V])
            break
        for p in (0, 1):
            if p == 1 and gated:
                continue
            grad_out = proj_u.T @ residual @ proj_v.T if (p == 0 and lesion) else residual
            layers = weights[p]
            grads = []
            for l in range(depth):
                above = _product(layers[l + 1:]) if l + 1 < depth else eye
                below = _product(layers[:l]) if l > 0 else eye
                grads.append(above.T @ grad_out @ below.T)
            for l in range(depth):
                layers[l] = layers[l] - lr * grads[l]
    return np.array(k_rec), np.array(loss_rec), np.array(off_rec), final


# ================================================================================================
# Model B: deep matrix completion with a task switch
#
# Plain-NumPy twin of :mod:`theorylab.deeplinear.mc_kernels` (test oracle, benchmark baseline).
#
# One switch point per call, no branching and no transposed tricks: the loop is the
# official training loop written out (forward, measure, update), with the same P8 step
# indexing as the kernel: epochs ``0 .. T_sw`` update on task 1, epochs
# ``T_sw + 1 .. T_sw + n_continue - 2`` on task 2, and the test loss is measured on the
# forward pass of epoch ``T_sw + n_continue - 1``.  Gradients use the textbook form
# ``grad_l = (W_{D-1} ... W_{l+1})^T G (W_{l-1} ... W_0)^T`` with ``G = P_Omega(W - M) / m``.
# Singular values come from ``np.linalg.svd`` (the kernel uses eigenvalues of ``W^T W``).
# ================================================================================================

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


def mc_gd_single(W0: np.ndarray, M1: np.ndarray, mask1: np.ndarray, M2: np.ndarray,
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
