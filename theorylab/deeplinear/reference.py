"""Plain-NumPy twins of the two-pathway kernels: the test oracle and the benchmark baseline.

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


def nonlinear_pathway_gd(Wa0, Wb0, target, U, V, lr, n_steps, gate_b, remove_b, act, n_in, n_modes,
                         record_every):
    """Twin of the nonlinear kernel: the whole padded input ``I_H`` is pushed through (unused items
    are zero columns, which every activation keeps at zero), activations by name."""
    f = {0: (lambda z: z, lambda z: np.ones_like(z)),
         1: (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
         2: (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(float))}[act]
    phi, dphi = f
    weights = [[w.copy() for w in Wa0], [w.copy() for w in Wb0]]
    depth, h = len(weights[0]), Wa0.shape[1]
    X = np.eye(h)
    target = np.pad(target, ((0, 0), (0, h - target.shape[1])))
    k_rec, loss_rec, off_rec = [], [], []
    for k in range(n_steps + 1):
        pre, post = [], []
        for layers in weights:
            zs, hs = [], [X]
            for W in layers:
                zs.append(W @ hs[-1])
                hs.append(phi(zs[-1]))
            pre.append(zs)
            post.append(hs)
        out_a, out_b = post[0][-1], post[1][-1]
        gated = k < n_steps and gate_b[k]
        residual = out_a - target + (0.0 if (gated and remove_b) else out_b)
        if k % record_every == 0:
            loss_rec.append(0.5 * np.sum(residual[:, :n_in] ** 2))
            projs = [U.T @ out @ V for out in (out_a, out_b)]
            k_rec.append([np.diag(pr)[:n_modes] for pr in projs])
            block = [pr[:n_modes, :n_modes] - np.diag(np.diag(pr)[:n_modes]) for pr in projs]
            off_rec.append(max(np.abs(b).max() for b in block))
        if k == n_steps:
            final = np.array([U.T @ out_a @ V, U.T @ out_b @ V])
            break
        for p in (0, 1):
            if p == 1 and gated:
                continue
            zs, hs, layers = pre[p], post[p], weights[p]
            delta = residual * dphi(zs[-1])
            grads = [None] * depth
            for l in range(depth - 1, -1, -1):
                grads[l] = delta @ hs[l].T
                if l > 0:
                    delta = (layers[l].T @ delta) * dphi(zs[l - 1])
            for l in range(depth):
                layers[l] = layers[l] - lr * grads[l]
    return np.array(k_rec), np.array(loss_rec), np.array(off_rec), final
