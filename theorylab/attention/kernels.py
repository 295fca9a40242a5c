"""Numba kernels of random-feature attention: the feature map and the infinite-head kernel.

Arrays in, arrays out; no randomness (the frozen query-key matrices are drawn by
:mod:`theorylab.attention.model` and passed in), so ``prange`` over samples is
deterministic: every output entry is computed by one thread in a fixed order, and
the result does not depend on the number of threads.

Conventions: tokens lie on the unit sphere of R^d and are augmented with a constant,
``x~ = (x, 1)`` in R^(d+1) (``d1 = d + 1``); a sequence has one query ``x_0`` and ``N``
keys ``x_1..x_N`` (the keys are also the values).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def rfa_features(query, keys, WT, out):
    """Random-feature attention features, ``out[s, b M + m] = phi_b(X_s; W_m) / sqrt(M)``.

    ``phi(X; W) = (1/N) sum_i relu(x~_0^T W x~_i) x~_i``.  Shapes: ``query (n, d1)``,
    ``keys (n, N, d1)`` (both augmented), ``WT (d1, d1, M)`` C-contiguous with
    ``WT[a, b, m] = W_m[a, b]`` (heads last: every inner loop runs over heads with unit
    stride and vectorises), ``out (n, d1 M)``: feature ``b M + m`` is coordinate b of head m.
    Cost ``O(n M d1 (d1 + 2 N))``; one sample's ``(d1, M)`` queries at a time, so the
    ``(n, M, d1)`` query tensor is never formed.
    """
    n, N, d1 = keys.shape
    M = WT.shape[2]
    W2 = WT.reshape(d1, d1 * M)
    scale = 1.0 / (N * np.sqrt(M))
    for s in prange(n):
        q = np.zeros(d1 * M)            # q[b M + m] = (W_m^T x~_0)_b
        att = np.empty(M)
        for a in range(d1):
            xa = query[s, a]
            for j in range(d1 * M):
                q[j] += xa * W2[a, j]
        row = out[s]
        for j in range(d1 * M):
            row[j] = 0.0
        for i in range(N):
            for m in range(M):
                att[m] = 0.0
            for b in range(d1):
                kb = keys[s, i, b]
                for m in range(M):
                    att[m] += q[b * M + m] * kb
            for m in range(M):       # relu(x~_0^T W_m x~_i) / N, and the 1/sqrt(M) of the stacked map
                pre = att[m]
                att[m] = (pre if pre > 0.0 else 0.0) * scale
            for b in range(d1):
                kb = keys[s, i, b]
                base = b * M
                for m in range(M):
                    row[base + m] += att[m] * kb
    return out


# Taylor coefficients of asin(x) = sum_k binom(2k, k) / (4^k (2k + 1)) x^(2k + 1), exact rationals rounded
# once; for |x| <= 1/2 the terms after k = 24 sum to < 2e-18, below float64 rounding of asin(1/2)
ASIN_SERIES = np.array([float(Fraction(math.comb(2 * k, k), 4**k * (2 * k + 1))) for k in range(25)])
HALF_PI = 0.5 * np.pi


@njit(cache=True, inline="always")
def _asin_half(x):
    """``asin(x)`` for ``|x| <= 1/2`` by the Taylor series (Horner in ``x^2``): only multiply-adds, so loops vectorise."""
    z = x * x
    p = ASIN_SERIES[24]
    for k in range(23, -1, -1):
        p = p * z + ASIN_SERIES[k]
    return x * p


@njit(cache=True, inline="always")
def arccos_j(c):
    """``J(c) = sqrt(1 - c^2) + (pi - arccos c) c``, c clipped to [-1, 1] (rounding can exceed 1).

    ``pi - arccos c = pi/2 + asin c``; for ``|c| > 1/2``, ``asin |c| = pi/2 - 2 asin(sqrt((1 - |c|) / 2))``
    keeps the series argument at most 1/2.  No library call and no data-dependent branch that
    cannot become a select, so a loop of J vectorises (SIMD sqrt); absolute error < 1e-15 against libm.
    """
    if c > 1.0:
        c = 1.0
    elif c < -1.0:
        c = -1.0
    a = abs(c)
    small = a <= 0.5
    s = _asin_half(a if small else math.sqrt(0.5 * (1.0 - a)))
    r = s if small else HALF_PI - 2.0 * s
    return math.sqrt(1.0 - c * c) + (HALF_PI + (r if c >= 0.0 else -r)) * c


@njit(cache=True)
def _rfa_kernel_entry(a0, ak, b0, bkT, g):
    """K(X, X') of two sequences (raw, unit-norm tokens): (1/N^2) sum_ij (2/pi) J(g0 G_ij / 4) G_ij.

    ``bkT (d, N)``: the keys of X' transposed, so the key-pair inner products ``G_ij = 1 + <x_i, x'_j>``
    are built along j with unit stride; ``g`` scratch of ``N^2``.  J is mapped over the whole
    ``N^2`` block in one loop (vectorised) before the sequential sum, which fixes the summation order.
    """
    N, d = ak.shape
    g0 = 1.0
    for t in range(d):
        g0 += a0[t] * b0[t]
    for i in range(N):
        row = g[i * N:(i + 1) * N]
        for j in range(N):
            row[j] = 1.0
        for t in range(d):
            x = ak[i, t]
            for j in range(N):
                row[j] += x * bkT[t, j]
    h = 0.25 * g0
    v = g[N * N:]
    for k in range(N * N):
        v[k] = arccos_j(h * g[k]) * g[k]
    acc = 0.0
    for k in range(N * N):
        acc += v[k]
    return acc * (2.0 / np.pi) / (N * N)


@njit(parallel=True, cache=True)
def rfa_kernel(a_query, a_keys, b_query, b_keys, out):
    """Infinite-head RFA kernel matrix ``out[a, b] = K(X_a, X'_b)`` in closed form.

    Inputs are the raw tokens (not augmented): ``a_query (na, d)``, ``a_keys (na, N, d)``,
    likewise for b.  ``K = E_W <phi(X; W), phi(X'; W)>`` for W with i.i.d. N(0, 1) entries
    (degree-1 arc-cosine kernel of the pairs ``x~_0 x~_i^T``).  Cost ``O(na nb N^2 d)``.
    """
    na = a_query.shape[0]
    nb = b_query.shape[0]
    N = a_keys.shape[1]
    bkT = np.ascontiguousarray(b_keys.transpose(0, 2, 1))
    for a in prange(na):
        g = np.empty(2 * N * N)
        for b in range(nb):
            out[a, b] = _rfa_kernel_entry(a_query[a], a_keys[a], b_query[b], bkT[b], g)
    return out


@njit(cache=True)
def _rfa_kernel_lower_row(query, keys, keysT, out, a, g):
    for b in range(a + 1):
        v = _rfa_kernel_entry(query[a], keys[a], query[b], keysT[b], g)
        out[a, b] = v
        out[b, a] = v


@njit(parallel=True, cache=True)
def rfa_kernel_sym(query, keys, out):
    """``rfa_kernel(X, X)`` computing each pair once; rows h and n-1-h share a task to balance the triangle."""
    n = query.shape[0]
    N = keys.shape[1]
    keysT = np.ascontiguousarray(keys.transpose(0, 2, 1))
    for h in prange((n + 1) // 2):
        g = np.empty(2 * N * N)
        _rfa_kernel_lower_row(query, keys, keysT, out, h, g)
        if n - 1 - h != h:
            _rfa_kernel_lower_row(query, keys, keysT, out, n - 1 - h, g)
    return out
