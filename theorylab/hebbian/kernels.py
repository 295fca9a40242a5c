"""Numba kernel of the multitasking Hebbian network: asynchronous Glauber and sign dynamics.

The couplings are never built.  Both training protocols are Hebbian sums over P stored
integer vectors v^p, ``J_ij = c sum_p v_i^p v_j^p`` for i != j (J_ii = 0):

* supervised:   P = K vectors v^mu = xi^mu s^mu, s^mu = sum_a chi^{mu,a} (integers in [-M, M]);
* unsupervised: P = K M vectors v^{mu,a} = eta^{mu,a} = chi^{mu,a} xi^mu.

The kernel keeps the integer overlaps ``O_p = sum_j v_j^p sigma_j``; the field on spin i is
``h_i = c H_i`` with the integer ``H_i = sum_p v_i^p O_p - D_i sigma_i``, ``D_i = sum_p (v_i^p)^2``
(the second term removes the self-coupling).  One update costs O(P) and a sweep O(N P) —
O(N K) for the supervised network — against O(N^2) with an explicit matrix.  Integer arithmetic
makes zero fields exact, so the zero-temperature tie rule (a fair coin) fires on exactly the same
updates as in the NumPy twin.

Conventions shared with :mod:`theorylab.hebbian.reference`:

* a sweep is N updates; each update draws one uniform u for the site ``i = floor(u N)``, shared by
  all replicas (independent Markov chains on the same data that visit sites in the same order),
  then one uniform per replica for its acceptance;
* heat bath at inverse temperature beta: sigma_i = +1 with probability (1 + tanh(beta h_i))/2;
  zero temperature: sigma_i = sign(h_i), a fair coin when h_i = 0;
* randomness is Numba's Mersenne Twister seeded inside the kernel with ``np.random.seed`` and
  drawn only through ``np.random.random()``: bit-identical to ``np.random.RandomState(seed)``
  drawn in the same order.  No ``prange``: results do not depend on the thread count.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def overlaps(V, sigma):
    """O[rep, p] = sum_j V[j, p] sigma[rep, j] as exact integers."""
    n_rep, N = sigma.shape
    P = V.shape[1]
    O = np.zeros((n_rep, P), np.int64)
    for rep in range(n_rep):
        for j in range(N):
            s = sigma[rep, j]
            for p in range(P):
                O[rep, p] += V[j, p] * s
    return O


@njit(cache=True)
def _record(O, X, group, K, scale, D_total, N, mattis, example, energy, t):
    n_rep, P = O.shape
    for rep in range(n_rep):
        sq = 0
        for k in range(K):
            mattis[t, rep, k] = X[rep, k]
            example[t, rep, k] = 0
        for p in range(P):
            example[t, rep, group[p]] += O[rep, p]
            sq += O[rep, p] * O[rep, p]
        # H / N = -(c / 2N) (sum_p O_p^2 - sum_i D_i): the diagonal is excluded
        energy[t, rep] = -0.5 * scale * (sq - D_total) / N


@njit(cache=True)
def run_dynamics(V, group, xi, sigma, scale, beta, zero_temperature, n_sweeps, seed):
    """Run ``n_sweeps`` asynchronous sweeps of every replica in ``sigma`` (n_rep, N), in place.

    ``V`` (N, P) integer stored vectors, ``group[p]`` the archetype of vector p, ``xi`` (N, K)
    archetypes (for the Mattis overlaps only), ``scale`` the coupling constant c.  Returns, at
    sweeps 0..n_sweeps (0 = initial state): the Mattis sums ``X_mu = sum_i xi_i^mu sigma_i``,
    the example sums ``sum_{p in mu} O_p = sum_i xi_i^mu s_i^mu sigma_i`` (both int64,
    (n_sweeps + 1, n_rep, K)) and the cost per neuron H / N (float, (n_sweeps + 1, n_rep)).
    """
    np.random.seed(seed)
    N, P = V.shape
    K = xi.shape[1]
    n_rep = sigma.shape[0]
    D = np.zeros(N, np.int64)
    for i in range(N):
        for p in range(P):
            D[i] += V[i, p] * V[i, p]
    D_total = D.sum()
    O = overlaps(V, sigma)
    X = np.zeros((n_rep, K), np.int64)
    for rep in range(n_rep):
        for i in range(N):
            for k in range(K):
                X[rep, k] += xi[i, k] * sigma[rep, i]
    mattis = np.empty((n_sweeps + 1, n_rep, K), np.int64)
    example = np.empty((n_sweeps + 1, n_rep, K), np.int64)
    energy = np.empty((n_sweeps + 1, n_rep))
    _record(O, X, group, K, scale, D_total, N, mattis, example, energy, 0)
    bh = beta * scale
    for t in range(1, n_sweeps + 1):
        for _ in range(N):
            i = int(np.random.random() * N)
            for rep in range(n_rep):
                u = np.random.random()
                old = sigma[rep, i]
                H = -D[i] * old
                for p in range(P):
                    H += V[i, p] * O[rep, p]
                if zero_temperature:
                    if H > 0:
                        new = 1
                    elif H < 0:
                        new = -1
                    else:
                        new = 1 if u < 0.5 else -1
                else:
                    new = 1 if u < 0.5 * (1.0 + math.tanh(bh * H)) else -1
                if new != old:
                    sigma[rep, i] = new
                    for p in range(P):
                        O[rep, p] += 2 * new * V[i, p]
                    for k in range(K):
                        X[rep, k] += 2 * new * xi[i, k]
        _record(O, X, group, K, scale, D_total, N, mattis, example, energy, t)
    return mattis, example, energy


@njit(cache=True)
def single_flip_minima(V):
    """Exhaustive search for the cost function's single-flip local minima (small N).

    Configuration c in [0, 2^(N-1)) has sigma_0 = +1 and sigma_i = +1 iff bit i - 1 of c is set (the
    cost is even under sigma -> -sigma, so half the hypercube suffices).  Returns a boolean mask over c:
    True where no single flip lowers H, i.e. sigma_i H_i >= 0 for every i with the integer field
    H_i = sum_p V[i, p] O_p - D_i sigma_i.  O(N P) per configuration.
    """
    N, P = V.shape
    total = 1 << (N - 1)
    D = np.zeros(N, np.int64)
    for i in range(N):
        for p in range(P):
            D[i] += V[i, p] * V[i, p]
    stable = np.zeros(total, np.bool_)
    sigma = np.empty(N, np.int64)
    O = np.empty(P, np.int64)
    for c in range(total):
        sigma[0] = 1
        for i in range(1, N):
            sigma[i] = 1 if (c >> (i - 1)) & 1 else -1
        for p in range(P):
            O[p] = 0
        for j in range(N):
            for p in range(P):
                O[p] += V[j, p] * sigma[j]
        ok = True
        for i in range(N):
            H = -D[i] * sigma[i]
            for p in range(P):
                H += V[i, p] * O[p]
            if H * sigma[i] < 0:
                ok = False
                break
        stable[c] = ok
    return stable
