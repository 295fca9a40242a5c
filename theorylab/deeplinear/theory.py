"""Theory of the two-pathway deep linear network: data, gradient flow, invariants.

Under aligned, balanced initialisation gradient descent never couples the modes
of Sigma_yx, and each layer of pathway p carries one scalar per mode (Saxe et al.
2014; Shi et al. 2022).  Gradient flow in time ``t = lr * updates``:

    dp_{p,alpha}/dt = h(p) * Omega_alpha,   Omega_alpha = s_alpha - K_a - K_b,
    K(p) = p (p^2 + c)^((D-1)/2),  h(p) = (p^2 + c)^((D-1)/2),

with ``c = 0`` for the balanced small-init network and ``c = 1`` for the reduced
large-init model.  While both pathways learn, ``H(p_a) - H(p_b)`` with
``H = integral dp / h`` is conserved; that invariant fixes the final split.
"""

from __future__ import annotations

import functools
from typing import Sequence

import numpy as np
from scipy import integrate, optimize
from scipy.integrate import solve_ivp

N_ITEMS = 8
N_FEATURES = 15


@functools.lru_cache(maxsize=1)
def hierarchical_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Items x features targets of the 3-level binary hierarchy, and the SVD of Sigma_yx.

    Features: 1 = all items; 2-3 = halves; 4-7 = pairs; 8-15 = single items.
    Returns ``(Y, U, S, V)`` with ``Sigma_yx = Y^T / 8 = U[:, :8] diag(S) V^T``.
    The SVD is computed once here and reused everywhere (modes 2-3 and 4-7 are
    degenerate, so any other basis would change per-mode diagonals).
    """
    Y = np.zeros((N_ITEMS, N_FEATURES))
    Y[:, 0] = 1.0
    col = 1
    for block in (4, 2, 1):
        for start in range(0, N_ITEMS, block):
            Y[start:start + block, col] = 1.0
            col += 1
    U, S, Vt = np.linalg.svd(Y.T / N_ITEMS)
    for arr in (U, S, Vt):
        arr.setflags(write=False)
    return Y, U, S, Vt.T


def target_strengths() -> np.ndarray:
    """Effective per-mode targets s = 8 S: the loss sums over the 8 items."""
    return N_ITEMS * hierarchical_data()[2]


def strength(p: np.ndarray, depth: int, c: float = 0.0) -> np.ndarray:
    """K(p) = p (p^2 + c)^((D-1)/2)."""
    p = np.asarray(p, dtype=float)
    return p * (p * p + c) ** (0.5 * (depth - 1))


def layer_value(k: np.ndarray, depth: int, c: float = 0.0) -> np.ndarray:
    """Inverse of :func:`strength` for K >= 0 (closed form for c = 0, root solve otherwise)."""
    k = np.asarray(k, dtype=float)
    if c == 0.0:
        return k ** (1.0 / depth)
    flat = [optimize.brentq(lambda p, kk=kk: strength(p, depth, c) - kk, 0.0, max(kk, 1.0))
            if kk > 0 else 0.0 for kk in k.ravel()]
    return np.reshape(flat, k.shape)


def stability_margin(lr: float, depth: int, s_max: float) -> float:
    """``lr * lambda_max`` for the balanced per-mode loss; GD is stable while it is < 2.

    The Hessian of 1/2 Omega^2 with respect to the 2D layer scalars is J J^T with
    |J|^2 = sum over layers of (K / p)^2, largest when one pathway holds the whole
    target (K = s): lambda_max = D s^(2 - 2/D).
    """
    return lr * depth * s_max ** (2.0 - 2.0 / depth)


# --- gradient flow (scipy ground truth) ----------------------------------------------------------

def flow_modes(s: Sequence[float], pa0: Sequence[float], pb0: Sequence[float], depth: int,
               t_eval: np.ndarray, gate: tuple[float, float] | None = None, c: float = 0.0,
               lesion_a: Sequence[bool] | None = None, remove_b: bool = False,
               rtol: float = 1e-10, atol: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    """Integrate the per-mode flow with ``solve_ivp`` (LSODA), piecewise over the deficit window.

    ``gate = (t_on, t_off)`` freezes pathway b for ``t_on <= t < t_off``.
    Returns ``(K_a, K_b)`` of shape ``(len(t_eval), n_modes)``.
    """
    s = np.asarray(s, dtype=float)
    n = s.size
    lesion = np.zeros(n, bool) if lesion_a is None else np.asarray(lesion_a, bool)
    t_eval = np.asarray(t_eval, dtype=float)

    def rhs(_t, y, frozen_b):
        pa, pb = y[:n], y[n:]
        ka = np.where(lesion, 0.0, strength(pa, depth, c))
        kb = 0.0 if (frozen_b and remove_b) else strength(pb, depth, c)
        omega = s - ka - kb
        ha = (pa * pa + c) ** (0.5 * (depth - 1))
        hb = (pb * pb + c) ** (0.5 * (depth - 1))
        return np.concatenate([np.where(lesion, 0.0, ha * omega), np.zeros(n) if frozen_b else hb * omega])

    edges = [t_eval[0], t_eval[-1]]
    if gate is not None:
        edges += [min(max(g, t_eval[0]), t_eval[-1]) for g in gate]
    edges = sorted(set(edges))
    y = np.concatenate([np.asarray(pa0, float), np.asarray(pb0, float)])
    out = np.empty((t_eval.size, 2 * n))
    for lo, hi in zip(edges[:-1], edges[1:]):
        frozen = gate is not None and gate[0] <= lo < gate[1]
        last = hi == edges[-1]
        mask = (t_eval >= lo) & ((t_eval <= hi) if last else (t_eval < hi))
        times = np.append(t_eval[mask], hi) if not last else t_eval[mask]
        sol = integrate.solve_ivp(rhs, (lo, hi), y, method="LSODA", t_eval=times,
                                  args=(frozen,), rtol=rtol, atol=atol)
        if not sol.success:
            raise RuntimeError(f"gradient-flow integration failed on [{lo}, {hi}]: {sol.message}")
        out[mask] = sol.y.T[:mask.sum()]
        y = sol.y[:, -1]
    ka = np.where(lesion, 0.0, strength(out[:, :n], depth, c))
    return ka, strength(out[:, n:], depth, c)


def flow_field(ka: np.ndarray, kb: np.ndarray, s: float, depth: int, c: float = 0.0
               ) -> tuple[np.ndarray, np.ndarray]:
    """(dK_a/dt, dK_b/dt) of the no-deficit flow on a grid: dK/dt = K'(p) h(p) Omega."""
    omega = s - ka - kb

    def rate(k):
        p = layer_value(k, depth, c)
        q = p * p + c
        return (q ** (depth - 1) + (depth - 1) * p * p * q ** (depth - 2)) * omega

    return rate(ka), rate(kb)


# --- learning times -------------------------------------------------------------------------------

def half_time(depth: int, s: float, k0: float) -> float:
    """Time for K_a + K_b to reach s/2 from 2 k0 with two symmetric plastic pathways (c = 0).

    t_half = integral_{2 k0}^{s/2} dK / [2 D (K/2)^(2 - 2/D) (s - K)], by quadrature.
    """
    if not 0 < 2 * k0 < s / 2:
        raise ValueError(f"k0 must be in (0, s/4) (got {k0})")

    def integrand(k):
        return 1.0 / (2 * depth * (k / 2) ** (2 - 2 / depth) * (s - k))

    value, _ = integrate.quad(integrand, 2 * k0, s / 2, limit=200, epsabs=0, epsrel=1e-12)
    return float(value)


# --- competition invariant (c = 0) -----------------------------------------------------------------

def invariant_h(p: np.ndarray, depth: int) -> np.ndarray:
    """H(p) = integral dp / p^(D-1): p (D = 1), log p (D = 2), p^(2-D) / (2-D) (D >= 3)."""
    p = np.asarray(p, dtype=float)
    if depth == 1:
        return p
    if depth == 2:
        return np.log(p)
    return p ** (2 - depth) / (2 - depth)


def _invariant_h_inverse(h: float, depth: int) -> float:
    if depth == 1:
        return h
    if depth == 2:
        return float(np.exp(h))
    return float(((2 - depth) * h) ** (1.0 / (2 - depth)))


def final_split(ka: float, kb: float, s: float, depth: int) -> tuple[float, float]:
    """Long-time (K_a, K_b) once both pathways learn from state (ka, kb) (c = 0, positive strengths).

    The flow conserves I = H(p_a) - H(p_b) and ends on K_a + K_b = s: a 1-D root in p_b.
    """
    pa, pb = layer_value(np.array([ka, kb]), depth)
    invariant = float(invariant_h(pa, depth) - invariant_h(pb, depth))
    p_max = float(layer_value(np.array(s), depth))

    def pa_of(pb_: float) -> float:
        h = invariant + float(invariant_h(pb_, depth))
        if depth >= 3 and h >= 0:  # H < 0 for D >= 3, so p_a would be unbounded: far past the target
            return 10.0 * p_max
        return _invariant_h_inverse(h, depth)

    def excess(pb_: float) -> float:
        return float(strength(pa_of(pb_), depth) + strength(pb_, depth) - s)

    # b's share is bracketed by [1e-12 s, s] (or by p_a >= 0 for D = 1)
    lo = max(0.0, -invariant) if depth == 1 else (1e-12 * s) ** (1.0 / depth)
    if not excess(lo) < 0 < excess(p_max):
        raise ValueError(f"no final split in the bracket for (ka, kb) = ({ka}, {kb}), s = {s}")
    root = optimize.brentq(excess, lo, p_max, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)
    return float(strength(pa_of(root), depth)), float(strength(root, depth))
