"""Plain-NumPy twin of the dynamics kernel with the explicit N x N coupling matrix: the test oracle.

Written for clarity, not speed: the Hebbian matrix is built from the stored vectors, its
diagonal zeroed, and every update reads the field as one row of ``J sigma``.  Same conventions
as :mod:`theorylab.hebbian.kernels` (shared site draw, one acceptance draw per replica, fair coin
at zero field, ``np.random.RandomState(seed)`` in the kernel's draw order), so for the same
inputs the two give identical spins, overlaps and costs.
"""

from __future__ import annotations

import math

import numpy as np


def coupling_matrix(V: np.ndarray, dtype=np.int64) -> np.ndarray:
    """Integer Hebbian matrix sum_p v_i^p v_j^p with zero diagonal (multiply by c for J).

    ``dtype`` lets large benchmarks store it compactly; the entries must fit (checked).
    """
    V = np.asarray(V, dtype=np.int64)
    J = V @ V.T
    np.fill_diagonal(J, 0)
    if np.abs(J).max(initial=0) > np.iinfo(dtype).max:
        raise ValueError(f"dtype must hold the coupling entries (max {np.abs(J).max()} > {np.iinfo(dtype).max})")
    return J.astype(dtype, copy=False)


def run_dynamics(V, group, xi, sigma, scale, beta, zero_temperature, n_sweeps, seed, J=None):
    """Same signature and outputs as :func:`theorylab.hebbian.kernels.run_dynamics`.

    ``J`` may be passed pre-built (benchmarks reuse it); it must equal :func:`coupling_matrix` (V).
    """
    rng = np.random.RandomState(seed)
    J = coupling_matrix(V) if J is None else J
    xi = np.asarray(xi, dtype=np.int64)
    group = np.asarray(group)
    n_rep, N = sigma.shape
    K = xi.shape[1]

    def record(t):
        s = sigma.astype(np.int64)
        mattis[t] = s @ xi
        O = s @ np.asarray(V, dtype=np.int64)
        for k in range(K):
            example[t, :, k] = O[:, group == k].sum(axis=1)
        energy[t] = [-0.5 * scale * float(row @ (J @ row)) / N for row in s]

    mattis = np.empty((n_sweeps + 1, n_rep, K), np.int64)
    example = np.empty((n_sweeps + 1, n_rep, K), np.int64)
    energy = np.empty((n_sweeps + 1, n_rep))
    record(0)
    for t in range(1, n_sweeps + 1):
        for _ in range(N):
            i = int(rng.random_sample() * N)
            for rep in range(n_rep):
                u = rng.random_sample()
                H = int(J[i] @ sigma[rep].astype(np.int64))
                if zero_temperature:
                    new = 1 if H > 0 else -1 if H < 0 else (1 if u < 0.5 else -1)
                else:
                    new = 1 if u < 0.5 * (1.0 + math.tanh(beta * scale * H)) else -1
                sigma[rep, i] = new
        record(t)
    return mattis, example, energy


def spins_from_index(index: np.ndarray, N: int) -> np.ndarray:
    """Configurations (len(index), N) of the enumeration order of ``single_flip_minima``."""
    index = np.asarray(index, dtype=np.int64)
    bits = (index[:, None] >> np.arange(N - 1)) & 1
    return np.concatenate([np.ones((index.size, 1), np.int64), 2 * bits - 1], axis=1)


def single_flip_minima(V):
    """Twin of :func:`theorylab.hebbian.kernels.single_flip_minima` with the explicit matrix, all
    configurations at once (memory 2^(N-1) x N: small N only)."""
    N = V.shape[0]
    J = coupling_matrix(V)
    sigma = spins_from_index(np.arange(1 << (N - 1)), N)
    return np.all(sigma * (sigma @ J) >= 0, axis=1)
