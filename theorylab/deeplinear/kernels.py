"""Numba kernels of the two-pathway deep linear network.

Arrays in, arrays out; no Python objects.  Time is counted in updates: update
``k`` maps state ``k`` to state ``k + 1``, and ``gate_b[k]`` freezes pathway b
during update ``k`` (one definition of the deficit window for every kernel).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _strength(p, c, depth):
    """Per-mode end-to-end strength K(p) = p (p^2 + c)^((D-1)/2) and layer gain h(p) = (p^2 + c)^((D-1)/2)."""
    h = (p * p + c) ** (0.5 * (depth - 1))
    return p * h, h


@njit(cache=True)
def mode_map(s, pa0, pb0, depth, c, lr, n_steps, gate_b, remove_b, lesion_a, record_every):
    """Per-mode gradient map of two competing pathways, vectorised over modes (or initial conditions).

    For each entry i: ``Omega = s - K_a - K_b`` (K_a dropped where ``lesion_a``; K_b
    dropped while gated if ``remove_b``), then ``p_a += lr h(p_a) Omega`` unless
    lesioned and ``p_b += lr h(p_b) Omega`` unless gated.  ``c = 0`` is the balanced
    small-init model, which is exactly GD on the aligned network; ``c = 1`` is the
    reduced large-init model of Shi et al. (2022).

    Returns ``(K_a, K_b)``, each ``(n_steps // record_every + 1, n)``, recorded at
    updates 0, record_every, ...
    """
    n = s.shape[0]
    n_rec = n_steps // record_every + 1
    ka_rec = np.empty((n_rec, n))
    kb_rec = np.empty((n_rec, n))
    pa = pa0.copy()
    pb = pb0.copy()
    for i in range(n):
        ka_rec[0, i], _ = _strength(pa[i], c, depth)
        kb_rec[0, i], _ = _strength(pb[i], c, depth)
    r = 1
    for k in range(n_steps):
        gated = gate_b[k]
        for i in range(n):
            ka, ha = _strength(pa[i], c, depth)
            kb, hb = _strength(pb[i], c, depth)
            omega = s[i]
            if not lesion_a[i]:
                omega -= ka
            if not (gated and remove_b):
                omega -= kb
            if not lesion_a[i]:
                pa[i] += lr * ha * omega
            if not gated:
                pb[i] += lr * hb * omega
        if (k + 1) % record_every == 0:
            for i in range(n):
                ka_rec[r, i], _ = _strength(pa[i], c, depth)
                kb_rec[r, i], _ = _strength(pb[i], c, depth)
            r += 1
    return ka_rec, kb_rec


@njit(cache=True)
def _chain(W, out_prefix, out_suffix):
    """Prefix products P_l = W_{l-1} ... W_0 (P_0 = I) and suffix products S_l = W_{D-1} ... W_{l+1} (S_{D-1} = I)."""
    depth, h, _ = W.shape
    eye = np.eye(h)
    out_prefix[0] = eye
    for l in range(1, depth + 1):
        out_prefix[l] = W[l - 1] @ out_prefix[l - 1] if l > 1 else W[0]
    out_suffix[depth - 1] = eye
    for l in range(depth - 2, -1, -1):
        out_suffix[l] = out_suffix[l + 1] @ W[l + 1] if l < depth - 2 else W[depth - 1]


@njit(cache=True)
def _record(Ua, Va, omega, n_modes, k_out, row, col):
    """K = diag(U^T Omega V)[:n_modes]; also returns the largest off-diagonal |entry| of that block."""
    proj = Ua.T @ omega @ Va
    worst = 0.0
    for a in range(n_modes):
        k_out[row, col, a] = proj[a, a]
        for b in range(n_modes):
            if a != b and abs(proj[a, b]) > worst:
                worst = abs(proj[a, b])
    return worst


@njit(cache=True)
def pathway_gd(Wa0, Wb0, target, U, V, lr, n_steps, gate_b, remove_b, lesion, proj_u, proj_v,
               n_modes, record_every):
    """Full-batch GD on 1/2 ||(Omega_a + Omega_b) - target||_F^2 for two deep linear pathways.

    Inputs are one-hot items (X = I), so the prediction matrix is the end-to-end
    map ``Omega_p = W_{D-1} ... W_0`` itself.  All layers are padded to ``H x H``;
    ``target`` holds Sigma_yx-scaled targets in its top-left ``n_out x n_in`` block.
    With ``lesion``, pathway a's output is ``proj_u Omega_a proj_v`` (a mode removed
    in the SVD basis) and its gradient flows through the same projection.

    Returns ``(K, loss, offdiag, final)``: ``K[r, p, a]`` = diag(U^T Omega_p V)[a]
    for pathway p in (a, b) at record r; the loss; the largest off-diagonal entry
    of U^T Omega_p V (zero under aligned initialisation); the final U^T Omega_p V.
    """
    depth, h, _ = Wa0.shape
    Ws = np.empty((2, depth, h, h))
    Ws[0] = Wa0
    Ws[1] = Wb0
    prefix = np.empty((2, depth + 1, h, h))
    suffix = np.empty((2, depth, h, h))
    n_rec = n_steps // record_every + 1
    k_rec = np.empty((n_rec, 2, n_modes))
    loss_rec = np.empty(n_rec)
    offdiag_rec = np.empty(n_rec)
    final = np.empty((2, h, h))
    r = 0
    for k in range(n_steps + 1):
        for p in range(2):
            _chain(Ws[p], prefix[p], suffix[p])
        omega_a = prefix[0, depth]
        if lesion:
            omega_a = proj_u @ omega_a @ proj_v
        omega_b = prefix[1, depth]
        gated = k < n_steps and gate_b[k]
        residual = omega_a - target
        if not (gated and remove_b):
            residual = residual + omega_b
        if k % record_every == 0:
            loss_rec[r] = 0.5 * np.sum(residual * residual)
            off_a = _record(U, V, omega_a, n_modes, k_rec, r, 0)
            off_b = _record(U, V, omega_b, n_modes, k_rec, r, 1)
            offdiag_rec[r] = max(off_a, off_b)
            r += 1
        if k == n_steps:
            final[0] = U.T @ omega_a @ V
            final[1] = U.T @ omega_b @ V
            break
        for p in range(2):
            if p == 1 and gated:
                continue
            g = residual
            if p == 0 and lesion:
                g = proj_u.T @ residual @ proj_v.T
            for l in range(depth):
                grad = suffix[p, l].T @ g @ prefix[p, l].T
                Ws[p, l] -= lr * grad
    return k_rec, loss_rec, offdiag_rec, final


# --- nonlinear pathways ---------------------------------------------------------------------------

LINEAR, TANH, RELU = 0, 1, 2   # activation codes of :func:`nonlinear_pathway_gd`


@njit(cache=True)
def _activate(z, act):
    if act == TANH:
        return np.tanh(z)
    if act == RELU:
        return z if z > 0.0 else 0.0
    return z


@njit(cache=True)
def _slope(z, act):
    """Derivative of the activation at the pre-activation ``z`` (ReLU: 0 at z = 0)."""
    if act == TANH:
        t = np.tanh(z)
        return 1.0 - t * t
    if act == RELU:
        return 1.0 if z > 0.0 else 0.0
    return 1.0


@njit(cache=True)
def nonlinear_pathway_gd(Wa0, Wb0, target, U, V, lr, n_steps, gate_b, remove_b, act, n_in, n_modes,
                         record_every):
    """Full-batch GD of two pathways with an activation after every layer, the output layer included.

    Pathway p maps the one-hot items (columns of ``I[:, :n_in]``) through
    ``H_l = act(W_l H_{l-1})``; the prediction is ``Y_a + Y_b`` with ``Y_p = H_D`` (``H x n_in``),
    the loss ``1/2 ||Y_a + Y_b - target||_F^2`` (``target`` is ``H x n_in``).  Backpropagation:
    ``delta_D = R * act'(Z_D)``, ``grad_l = delta_l H_{l-1}^T``,
    ``delta_{l-1} = (W_l^T delta_l) * act'(Z_{l-1})``.  ``gate_b[k]`` freezes pathway b during update
    ``k`` (its output still predicts unless ``remove_b``).  Only the ``n_in`` item columns are
    propagated, so a step costs ``O(D H^2 n_in)``.  With ``act = LINEAR`` this is
    :func:`pathway_gd` without a lesion.

    Returns ``(K, loss, offdiag, final)`` as :func:`pathway_gd`, with ``Y_p`` in place of
    ``Omega_p``: ``K[r, p, a] = (U^T Y_p V)[a, a]``.
    """
    depth, h, _ = Wa0.shape
    Ws = np.empty((2, depth, h, h))
    Ws[0] = Wa0
    Ws[1] = Wb0
    Z = np.zeros((2, depth, h, n_in))      # pre-activations
    Hs = np.zeros((2, depth + 1, h, n_in))  # Hs[p, 0] = the one-hot inputs
    for p in range(2):
        for i in range(n_in):
            Hs[p, 0, i, i] = 1.0
    grads = np.empty((depth, h, h))
    n_rec = n_steps // record_every + 1
    k_rec = np.empty((n_rec, 2, n_modes))
    loss_rec = np.empty(n_rec)
    offdiag_rec = np.empty(n_rec)
    final = np.zeros((2, h, h))
    Vin = V[:n_in, :n_in].copy()
    r = 0
    for k in range(n_steps + 1):
        for p in range(2):
            for l in range(depth):
                np.dot(Ws[p, l], Hs[p, l], Z[p, l])
                for i in range(h):
                    for j in range(n_in):
                        Hs[p, l + 1, i, j] = _activate(Z[p, l, i, j], act)
        gated = k < n_steps and gate_b[k]
        residual = Hs[0, depth] - target
        if not (gated and remove_b):
            residual = residual + Hs[1, depth]
        if k % record_every == 0:
            loss_rec[r] = 0.5 * np.sum(residual * residual)
            worst = 0.0
            for p in range(2):
                proj = U.T @ Hs[p, depth] @ Vin
                for a in range(n_modes):
                    k_rec[r, p, a] = proj[a, a]
                    for b in range(n_modes):
                        if a != b and abs(proj[a, b]) > worst:
                            worst = abs(proj[a, b])
            offdiag_rec[r] = worst
            r += 1
        if k == n_steps:
            for p in range(2):
                final[p, :, :n_in] = U.T @ Hs[p, depth] @ Vin
            break
        for p in range(2):
            if p == 1 and gated:
                continue
            delta = np.empty((h, n_in))
            for i in range(h):
                for j in range(n_in):
                    delta[i, j] = residual[i, j] * _slope(Z[p, depth - 1, i, j], act)
            for l in range(depth - 1, -1, -1):
                np.dot(delta, Hs[p, l].T, grads[l])
                if l > 0:
                    back = Ws[p, l].T @ delta
                    for i in range(h):
                        for j in range(n_in):
                            delta[i, j] = back[i, j] * _slope(Z[p, l - 1, i, j], act)
            for l in range(depth):
                Ws[p, l] -= lr * grads[l]
    return k_rec, loss_rec, offdiag_rec, final
