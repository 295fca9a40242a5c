"""Numba kernels against their NumPy twins (oracle: theorylab.attention.reference, written from the
definitions) and against closed-form values."""

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theorylab.attention import kernels, model, reference

# float64 sums of <= ~100 products of O(1) numbers in different orders: ~1e-15 relative
RTOL = 1e-12


def _data(seed, n=40, N=5, d=4, M=12, mu=0.0):
    rng = np.random.default_rng(seed)
    query, keys = model.sample_sequences(rng, n, N, d)
    return query, keys, model.draw_heads(rng, M, d, mu)


@pytest.mark.parametrize("n, N, d, M, mu", [(40, 5, 4, 12, 0.0), (17, 1, 3, 3, 0.0), (33, 8, 8, 64, 2.0),
                                            (5, 16, 6, 1, 0.5)])
def test_rfa_features_match_einsum_twin(n, N, d, M, mu):
    """Oracle: reference.rfa_features (three einsums over the explicit query tensor), every layout index."""
    query, keys, W = _data(n + N, n, N, d, M, mu)
    got = model.rfa_features(query, keys, W)
    want = reference.rfa_features(model.augment(query), model.augment(keys), W, chunk=7)
    assert got.shape == (n, (d + 1) * M)
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL * np.abs(want).max())


def test_rfa_features_one_head_by_hand():
    """Closed form for one head and W = I: phi = (1/N) sum_i relu(1 + <x_0, x_i>) (x_i, 1)."""
    query, keys, _ = _data(3, n=6, N=4, d=5, M=1)
    W = np.eye(6)[None]
    phi = model.rfa_features(query, keys, W)
    pre = 1 + np.einsum("sd,sid->si", query, keys)          # >= 0 on the unit sphere
    want = np.einsum("si,sid->sd", pre, model.augment(keys)) / 4   # 1/N, M = 1
    np.testing.assert_allclose(phi, want, rtol=RTOL)


def test_rfa_features_do_not_depend_on_thread_count():
    """prange over samples: bit-identical results with 1 and 2 threads (serial == parallel)."""
    query, keys, W = _data(5, n=64, N=6, d=5, M=32)
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = model.rfa_features(query, keys, W)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = model.rfa_features(query, keys, W)
    finally:
        numba.set_num_threads(old)
    np.testing.assert_array_equal(one, two)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), N=st.integers(2, 7), d=st.integers(3, 6), scale=st.floats(0.1, 10.0))
def test_rfa_features_invariances(seed, N, d, scale):
    """Exact properties: key-permutation invariance, positive homogeneity of ReLU in W (phi(cW) = c phi(W))."""
    query, keys, W = _data(seed, n=6, N=N, d=d, M=5, mu=1.0)
    base = model.rfa_features(query, keys, W)
    perm = model.permute_keys(np.random.default_rng(seed), keys)
    np.testing.assert_allclose(model.rfa_features(query, perm, W), base, rtol=RTOL, atol=RTOL * np.abs(base).max())
    np.testing.assert_allclose(model.rfa_features(query, keys, scale * W), scale * base, rtol=RTOL,
                               atol=RTOL * scale * np.abs(base).max())


def test_arccos_j_closed_values():
    """J(1) = pi, J(0) = 1, J(-1) = 0; arguments rounded past +-1 are clipped."""
    assert kernels.arccos_j(1.0) == pytest.approx(np.pi, rel=1e-15)
    assert kernels.arccos_j(0.0) == pytest.approx(1.0, rel=1e-15)
    assert kernels.arccos_j(-1.0) == pytest.approx(0.0, abs=1e-15)
    assert kernels.arccos_j(1.0 + 1e-12) == kernels.arccos_j(1.0)
    assert kernels.arccos_j(-1.0 - 1e-12) == kernels.arccos_j(-1.0)


def test_arccos_j_matches_libm_arccos():
    """Oracle: NumPy's libm arccos. The kernel's J is a Taylor series of asin; its absolute error stays at float64
    rounding (|J| <= pi) everywhere on [-1, 1], including around the branch point |c| = 1/2 and near +-1."""
    c = np.concatenate([np.linspace(-1, 1, 200_001), 0.5 + np.arange(-50, 51) * 1e-15,
                        -0.5 + np.arange(-50, 51) * 1e-15, 1 - np.logspace(-16, -1, 300),
                        -1 + np.logspace(-16, -1, 300)])
    want = np.sqrt(1 - c * c) + (np.pi - np.arccos(c)) * c
    got = np.array([kernels.arccos_j(x) for x in c])
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-15)


@pytest.mark.parametrize("N, d", [(1, 3), (4, 5), (8, 8)])
def test_rfa_kernel_matches_pair_matrix_twin(N, d):
    """Oracle: reference.rfa_kernel, the general arc-cosine formula on vec(x~_0 x~_i^T) (no unit-norm shortcut)."""
    qa, ka, _ = _data(1, n=9, N=N, d=d)
    qb, kb, _ = _data(2, n=7, N=N, d=d)
    got = kernels.rfa_kernel(qa, ka, qb, kb, np.empty((9, 7)))
    np.testing.assert_allclose(got, reference.rfa_kernel(qa, ka, qb, kb), rtol=RTOL)


@pytest.mark.parametrize("n", [1, 2, 3, 8, 11])
def test_rfa_kernel_sym_equals_full(n):
    """Each pair once (rows h and n-1-h paired): identical to the full evaluation, exactly symmetric."""
    q, k, _ = _data(n, n=n, N=3, d=4)
    full = kernels.rfa_kernel(q, k, q, k, np.empty((n, n)))
    sym = kernels.rfa_kernel_sym(q, k, np.full((n, n), np.nan))
    np.testing.assert_array_equal(sym, sym.T)
    np.testing.assert_allclose(sym, full, rtol=1e-15, atol=0)


def test_rfa_kernel_diagonal_bound():
    """K(X, X) <= 4, with equality when all keys coincide (c = 1, J = pi, <x~_i, x~_j> = 2)."""
    q, k, _ = _data(4, n=30, N=6, d=5)
    diag = np.diag(kernels.rfa_kernel_sym(q, k, np.empty((30, 30))))
    assert np.all(diag <= 4 + 1e-12)
    same = np.repeat(k[:, :1], 6, axis=1)
    np.testing.assert_allclose(np.diag(kernels.rfa_kernel_sym(q, same, np.empty((30, 30)))), 4.0, rtol=1e-14)
