"""Closed forms of the attention study: target bank, arc-cosine moments, limit kernels, invariant floor.

* The targets are normalised to unit variance exactly (not empirically): Gegenbauer
  polynomials ``C_k^alpha``, ``alpha = (d - 2) / 2``, are orthogonal under the law of
  ``t = <u, v>`` for independent uniform u, v on S^{d-1} (density proportional to
  ``(1 - t^2)^((d - 3) / 2)``), and their norm is known in closed form.
* ``relu_moment`` is ``E relu(U) relu(V)`` for a Gaussian pair with any means, by
  one-dimensional quadrature of a closed-form conditional moment; it is independent
  of the arc-cosine formula the kernels use, and for non-zero means it gives the
  biased-attention limit kernel at a handful of pairs.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate, special

TARGETS = ("corr1", "corr2", "corr3", "corr4", "query", "keys", "ctrl")
TARGET_FORMULAS = {
    **{f"corr{k}": f"sqrt(N) mean_i Q_{k}(<x_0, x_i>)" for k in range(1, 5)},
    "query": "Q_2(<beta, x_0>)",
    "keys": "sqrt(N) mean_i Q_2(<beta, x_i>)",
    "ctrl": "sqrt(d) <x_0, x_1> (key 1 only: not permutation invariant)",
}


def _check_dim(d: int) -> None:
    if d < 3:
        raise ValueError(f"d must be >= 3 for the Gegenbauer targets (got {d})")


def gegenbauer_norm_sq(k: int, d: int) -> float:
    """``E[C_k^alpha(t)^2]`` for ``t = <u, v>``, u, v independent uniform on S^{d-1}, alpha = (d - 2) / 2.

    ``int C_k^2 (1 - t^2)^(alpha - 1/2) dt = pi 2^(1 - 2 alpha) Gamma(k + 2 alpha) / (k! (k + alpha) Gamma(alpha)^2)``,
    divided by the density's normaliser ``B(1/2, (d - 1)/2)``.
    """
    _check_dim(d)
    a = (d - 2) / 2
    log_h = (np.log(np.pi) + (1 - 2 * a) * np.log(2) + special.gammaln(k + 2 * a) - special.gammaln(k + 1)
             - np.log(k + a) - 2 * special.gammaln(a))
    return float(np.exp(log_h - special.betaln(0.5, (d - 1) / 2)))


def gegenbauer_unit(k: int, d: int, t):
    """``Q_k(t)``: the degree-k Gegenbauer polynomial scaled to ``E[Q_k(<u, v>)^2] = 1`` (Q_1(t) = sqrt(d) t)."""
    return special.eval_gegenbauer(k, (d - 2) / 2, t) / np.sqrt(gegenbauer_norm_sq(k, d))


def target_values(name: str, query: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """One target of the bank at every sequence (``query (n, d)``, ``keys (n, N, d)``, unit tokens).

    Every target has mean 0 and variance 1 exactly; ``beta = e_1`` (any fixed unit vector
    gives the same law).
    """
    n, N, d = keys.shape
    _check_dim(d)
    if name.startswith("corr") and name[4:].isdigit() and int(name[4:]) >= 1:
        t = np.einsum("sd,sid->si", query, keys)
        return np.sqrt(N) * gegenbauer_unit(int(name[4:]), d, t).mean(axis=1)
    if name == "query":
        return gegenbauer_unit(2, d, query[:, 0])
    if name == "keys":
        return np.sqrt(N) * gegenbauer_unit(2, d, keys[:, :, 0]).mean(axis=1)
    if name == "ctrl":
        return np.sqrt(d) * np.einsum("sd,sd->s", query, keys[:, 0])
    raise ValueError(f"target must be one of {TARGETS} or corr<k> (got {name!r})")


def target_bank(names, query, keys) -> np.ndarray:
    """``(n, len(names))`` matrix of targets."""
    return np.stack([target_values(name, query, keys) for name in names], axis=1)


def invariant_floor(N: int) -> float:
    """Smallest normalised MSE of any key-permutation-invariant predictor of ``sqrt(d) <x_0, x_1>``.

    The best one is the symmetrisation ``sqrt(d) mean_i <x_0, x_i>``; the N terms are
    uncorrelated with equal variance, so the residual keeps ``1 - 1/N`` of the variance.
    """
    return 1.0 - 1.0 / N


def arccos_j(c):
    """``J(c) = sqrt(1 - c^2) + (pi - arccos c) c`` (vectorised; c clipped to [-1, 1]); J(1) = pi, J(0) = 1, J(-1) = 0."""
    c = np.clip(c, -1.0, 1.0)
    return np.sqrt(1.0 - c * c) + (np.pi - np.arccos(c)) * c


def mlp_kernel(za: np.ndarray, zb: np.ndarray) -> np.ndarray:
    """Infinite-width RFMLP kernel ``E_w relu(<w, z>) relu(<w, z'>) = J(<z, z'>) / (2 pi)`` for unit z, z'."""
    return arccos_j(za @ zb.T) / (2 * np.pi)


def mlp_inputs(query: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """RFMLP input ``z = (x_0, x_1, ..., x_N, 1) / sqrt(N + 2)``: unit norm for unit tokens."""
    n, N, _ = keys.shape
    z = np.concatenate([query, keys.reshape(n, -1), np.ones((n, 1))], axis=1)
    return z / np.sqrt(N + 2)


def relu_moment(m1: float, m2: float, s1: float, s2: float, rho: float) -> float:
    """``E relu(U) relu(V)``, (U, V) Gaussian with means m, standard deviations s > 0, correlation rho.

    Conditioning on U = m1 + s1 z, ``E[relu(V) | z] = mc Phi(mc / sc) + sc phi(mc / sc)`` with
    ``mc = m2 + s2 rho z``, ``sc = s2 sqrt(1 - rho^2)``; the remaining integral over z > -m1/s1
    is done by adaptive quadrature (|rho| = 1 handled as the limit sc -> 0).
    """
    sc = s2 * math.sqrt(max(0.0, 1.0 - rho * rho))
    pdf = lambda x: math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)  # noqa: E731

    def integrand(z):
        mc = m2 + s2 * rho * z
        cond = max(mc, 0.0) if sc == 0 else mc * special.ndtr(mc / sc) + sc * pdf(mc / sc)
        return (m1 + s1 * z) * cond * pdf(z)

    z0 = -m1 / s1
    value, _ = integrate.quad(integrand, z0, np.inf, epsabs=1e-13, epsrel=1e-11, limit=200)
    return float(value)


def attention_kernel_quad(x: tuple[np.ndarray, np.ndarray], y: tuple[np.ndarray, np.ndarray],
                          mean_scale: float = 0.0) -> float:
    """Limit kernel of (biased) RFA for one pair of sequences by quadrature.

    ``W = mean_scale * blockdiag(I_d, 0) + G``, G standard Gaussian:
    ``K(X, Y) = (1/N^2) sum_ij E[relu(u_i) relu(v_j)] <x~_i, y~_j>``, the pre-activations
    ``u_i = <W, x~_0 x~_i^T>`` having mean ``mean_scale <x_0, x_i>``, variance
    ``|x~_0|^2 |x~_i|^2`` and covariance ``<x~_0, y~_0><x~_i, y~_j>``.  Tokens of any norm.
    """
    aug = lambda v: np.append(v, 1.0)  # noqa: E731
    (x0, xk), (y0, yk) = x, y
    N = xk.shape[0]
    total = 0.0
    for i in range(N):
        for j in range(N):
            a, b = aug(xk[i]), aug(yk[j])
            s1 = np.linalg.norm(aug(x0)) * np.linalg.norm(a)
            s2 = np.linalg.norm(aug(y0)) * np.linalg.norm(b)
            rho = float(aug(x0) @ aug(y0)) * float(a @ b) / (s1 * s2)
            moment = relu_moment(mean_scale * float(x0 @ xk[i]), mean_scale * float(y0 @ yk[j]), s1, s2,
                                 float(np.clip(rho, -1.0, 1.0)))
            total += moment * float(a @ b)
    return total / N**2
