"""Numba helpers for ridge regression kept as an inverse matrix, updated one sample at a time.

Statistics of one ridge regression in dimension p: ``Vinv = (lam I + sum phi phi^T)^{-1}`` (p, p),
``b = sum y phi`` (p,) and the estimate ``theta = Vinv b`` (p,).  Every loop sums in index order, so
results do not depend on which kernel calls them.  Study kernels import these; the result cache's
code digest covers this file for every study (a study's own folder would not be seen by another).
Numba's on-disk cache of a kernel does not notice edits to functions it calls from another file:
after editing this file, delete the ``__pycache__`` folders of the studies that import it.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def dot(u, v):
    s = 0.0
    for l in range(u.shape[0]):
        s += u[l] * v[l]
    return s


@njit(cache=True)
def quad(A, v):
    """v^T A v."""
    s = 0.0
    for l in range(v.shape[0]):
        r = 0.0
        for m in range(v.shape[0]):
            r += A[l, m] * v[m]
        s += v[l] * r
    return s


@njit(cache=True)
def matvec(A, v, out):
    """out = A v."""
    for l in range(A.shape[0]):
        s = 0.0
        for m in range(A.shape[1]):
            s += A[l, m] * v[m]
        out[l] = s


@njit(cache=True)
def ridge_priors(shape, p, lam):
    """Ridge statistics before any data, one per index of the tuple ``shape``:
    (Vinv = I / lam (*shape, p, p), b = 0 (*shape, p), theta = 0 (*shape, p))."""
    Vinv = np.zeros(shape + (p, p))
    flat = Vinv.reshape((-1, p, p))
    for n in range(flat.shape[0]):
        for l in range(p):
            flat[n, l, l] = 1.0 / lam
    return Vinv, np.zeros(shape + (p,)), np.zeros(shape + (p,))


@njit(cache=True)
def sherman_morrison(Vinv, phi, tmp):
    """In place: Vinv <- (V + phi phi^T)^{-1} for symmetric V (O(p^2) instead of a fresh inverse)."""
    p = phi.shape[0]
    denom = 1.0
    for l in range(p):
        s = 0.0
        for m in range(p):
            s += Vinv[l, m] * phi[m]
        tmp[l] = s
        denom += phi[l] * s
    for l in range(p):
        for m in range(p):
            Vinv[l, m] -= tmp[l] * tmp[m] / denom


@njit(cache=True)
def ridge_add(Vinv, b, theta, phi, y, tmp):
    """Add the sample (phi, y) in place: Vinv by Sherman-Morrison, b += y phi, theta = Vinv b."""
    sherman_morrison(Vinv, phi, tmp)
    for l in range(phi.shape[0]):
        b[l] += y * phi[l]
    matvec(Vinv, b, theta)


@njit(cache=True)
def accumulate(V, b, phi, y):
    """Add the sample (phi, y) to raw ridge sums in place: V += phi phi^T, b += y phi."""
    for l in range(phi.shape[0]):
        b[l] += y * phi[l]
        for m in range(phi.shape[0]):
            V[l, m] += phi[l] * phi[m]
