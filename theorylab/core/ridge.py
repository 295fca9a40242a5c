"""Numba helpers for ridge regression kept as an inverse matrix, updated one sample at a time.

Statistics of one ridge regression in dimension p: ``Vinv = (lam I + sum phi phi^T)^{-1}`` (p, p),
``b = sum y phi`` (p,) and the estimate ``theta = Vinv b`` (p,).  Every loop sums in index order, so
results do not depend on which kernel calls them.  Study kernels import these; the result cache's
code digest covers this file for every study (a study's own folder would not be seen by another).
Numba's on-disk cache of a kernel is keyed on the kernel's own file only, so it would serve machine
code built from an older version of these helpers; a kernels file that imports them therefore calls
:func:`drop_stale_compilations` first.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from numba import njit


def drop_stale_compilations(dependent: str) -> list[Path]:
    """Delete Numba's cached compilations of the module file ``dependent`` that are older than this
    file, so they are rebuilt against the current helpers; returns what was deleted.  Call it at the
    dependent's import, before its first compiled call.  A cache that cannot be deleted (read-only
    install) cannot be stale either: nobody edits the files next to it."""
    newest = os.path.getmtime(__file__)
    dependent_path = Path(dependent)
    dropped = []
    for path in (dependent_path.parent / "__pycache__").glob(f"{dependent_path.stem}.*.nb[ic]"):
        try:
            if path.stat().st_mtime < newest:
                path.unlink()
                dropped.append(path)
        except OSError:
            pass
    return dropped


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
    ``Vinv = I / lam`` of shape ``(*shape, p, p)``, ``b = 0`` and ``theta = 0`` of shape ``(*shape, p)``."""
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
