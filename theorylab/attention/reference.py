"""Plain-NumPy twins of the attention kernels: the test oracle and the benchmark baseline.

Written from the definitions, not from the kernels: the features as three einsums
over an explicit (chunk, M, d1) query tensor, the infinite-head kernel from the
general degree-1 arc-cosine formula applied to the pair matrices ``x~_0 x~_i^T``
(no unit-norm shortcut).
"""

from __future__ import annotations

import numpy as np


def rfa_features(query, keys, W, chunk: int = 256):
    """``phi_b(X; W_m) / sqrt(M)`` for every sample, coordinate b and head m, as ``(n, d1 M)`` (index b M + m).

    ``chunk`` samples at a time (the einsums hold a ``(chunk, M, d1)`` query tensor).
    """
    n, N, d1 = keys.shape
    M = W.shape[0]
    out = np.empty((n, d1 * M))
    for start in range(0, n, chunk):
        sl = slice(start, start + chunk)
        q = np.einsum("sa,mab->smb", query[sl], W)           # W_m^T x~_0 for every head
        pre = np.einsum("smb,sib->smi", q, keys[sl])          # x~_0^T W_m x~_i
        att = np.maximum(pre, 0.0) / N                        # ReLU attention divided by N
        out[sl] = np.einsum("smi,sib->sbm", att, keys[sl]).reshape(-1, d1 * M)
    return out / np.sqrt(M)


def arccos_kernel(norm_a, norm_b, inner):
    """``E relu(<G, A>) relu(<G, B>)`` for a standard Gaussian G: ``|A||B| / (2 pi) J(cos)``."""
    cos = np.clip(inner / (norm_a * norm_b), -1.0, 1.0)
    theta = np.arccos(cos)
    return norm_a * norm_b / (2 * np.pi) * (np.sin(theta) + (np.pi - theta) * cos)


def rfa_kernel(a_query, a_keys, b_query, b_keys):
    """``K(X, X') = (1/N^2) sum_ij kappa(x~_0 x~_i^T, x~'_0 x~'_j^T) <x~_i, x~'_j>`` from the pair matrices."""
    aug = lambda x: np.concatenate([x, np.ones(x.shape[:-1] + (1,))], axis=-1)  # noqa: E731
    a0, ak, b0, bk = aug(a_query), aug(a_keys), aug(b_query), aug(b_keys)
    N = ak.shape[1]
    pa = np.einsum("ap,aiq->aipq", a0, ak).reshape(a0.shape[0], N, -1)   # vec(x~_0 x~_i^T)
    pb = np.einsum("bp,bjq->bjpq", b0, bk).reshape(b0.shape[0], N, -1)
    inner = np.einsum("aix,bjx->abij", pa, pb)
    na = np.linalg.norm(pa, axis=-1)[:, None, :, None]
    nb = np.linalg.norm(pb, axis=-1)[None, :, None, :]
    values = np.einsum("aix,bjx->abij", ak, bk)
    return (arccos_kernel(na, nb, inner) * values).sum(axis=(2, 3)) / N**2
