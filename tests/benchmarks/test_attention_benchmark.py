"""Random-feature attention kernels vs their NumPy twins, and the machine's BLAS matmul rate.

Run: ``pytest tests/benchmarks/test_attention_benchmark.py -m bench``.  Throughput is in each benchmark's
``extra_info`` as GFLOP/s, counting for the features ``n M (2 d1^2 + 4 N d1)`` flops (query, scores, and
the value sum as if every ReLU were active), for the matmul ``2 n^3``.  Everything runs with one Numba
and one BLAS thread, as every sweep task does; on a shared machine add
``--benchmark-timer time.process_time`` (CPU seconds instead of wall time).
"""

import numpy as np
import pytest

from theorylab.attention import kernels, model, reference
from theorylab.core.sweep import single_threaded

n, N, d, M = 2000, 8, 8, 512      # paper-scale d, N, M
D1 = d + 1
FEATURE_FLOPS = n * M * (2 * D1 * D1 + 4 * N * D1)
GROUP = f"RFA features n={n} d=N={d} M={M}"


def _inputs():
    rng = np.random.default_rng(0)
    query, keys = model.sample_sequences(rng, n, N, d)
    return model.augment(query), model.augment(keys), model.draw_heads(rng, M, d)


def _gflops(benchmark, flops):
    benchmark.extra_info["GFLOP/s"] = flops / benchmark.stats.stats.mean / 1e9


def test_rfa_features_numba(benchmark):
    q, k, W = _inputs()
    WT, out = model.heads_last(W), np.empty((n, D1 * M))
    kernels.rfa_features(q, k, WT, out)  # compile / warm up
    benchmark.group = GROUP
    with single_threaded():
        benchmark(kernels.rfa_features, q, k, WT, out)
    _gflops(benchmark, FEATURE_FLOPS)


def test_rfa_features_numpy_einsum(benchmark):
    q, k, W = _inputs()
    benchmark.group = GROUP
    with single_threaded():
        benchmark.pedantic(reference.rfa_features, args=(q, k, W), rounds=3, iterations=1)
    _gflops(benchmark, FEATURE_FLOPS)


def test_blas_matmul_rate(benchmark):
    """The machine's dense matmul rate (the Gram products run at this speed)."""
    size = 1024
    a = np.random.default_rng(1).standard_normal((size, size))
    benchmark.group = GROUP
    with single_threaded():
        benchmark(np.matmul, a, a)
    _gflops(benchmark, 2 * size**3)


KERNEL_GROUP = "closed-form RFA kernel 300 x 300 sequences, d=N=8, one thread"
# flops per key pair: the inner product (2 d), J by the 25-term asin series in Horner form (2 x 25), the
# reduction of |c| > 1/2 (~6), sqrt(1 - c^2) and J g (~6): counted as 2 d + 62 with both sqrts as one flop each
KERNEL_FLOPS_PER_PAIR = 2 * d + 62


@pytest.mark.parametrize("impl", ["numba", "numpy"])
def test_rfa_kernel(benchmark, impl):
    rng = np.random.default_rng(2)
    q, k = model.sample_sequences(rng, 300, N, d)
    benchmark.group = KERNEL_GROUP
    with single_threaded():
        if impl == "numba":
            out = np.empty((300, 300))
            kernels.rfa_kernel(q, k, q, k, out)
            benchmark(kernels.rfa_kernel, q, k, q, k, out)
        else:
            benchmark.pedantic(reference.rfa_kernel, args=(q, k, q, k), rounds=3, iterations=1)
    benchmark.extra_info["key_pairs_per_second"] = 300 * 300 * N * N / benchmark.stats.stats.mean
    _gflops(benchmark, 300 * 300 * N * N * KERNEL_FLOPS_PER_PAIR)


def test_blas_matmul_rate_one_thread(benchmark):
    """The roofline of the one-thread kernels (every sweep task runs single-threaded)."""
    size = 1024
    a = np.random.default_rng(1).standard_normal((size, size))
    benchmark.group = KERNEL_GROUP
    with single_threaded():
        benchmark(np.matmul, a, a)
    _gflops(benchmark, 2 * size**3)


RIDGE_N = 2048
RIDGE_GROUP = f"ridge path n={RIDGE_N}, 9 penalties, 4 targets, one thread"


def _ridge_inputs():
    rng = np.random.default_rng(3)
    F = rng.standard_normal((RIDGE_N + 1000, 3 * RIDGE_N)) / np.sqrt(3 * RIDGE_N)
    G, C = F[:RIDGE_N] @ F[:RIDGE_N].T, F[RIDGE_N:] @ F[:RIDGE_N].T
    y = rng.standard_normal((RIDGE_N + 500, 4))
    return G, C, y[:RIDGE_N], y[RIDGE_N:], rng.standard_normal((500, 4))


def test_ridge_cholesky_path(benchmark):
    """One Cholesky factorisation per penalty (n^3 / 3 flops each), shared by the targets: the study's solver."""
    G, C, y, yv, ft = _ridge_inputs()
    benchmark.group = RIDGE_GROUP
    with single_threaded():
        benchmark.pedantic(model.ridge_errors, args=(G, C, y, yv, ft, (RIDGE_N,), model.LAMS), rounds=3,
                           iterations=1)
    _gflops(benchmark, len(model.LAMS) * RIDGE_N**3 / 3)


def test_ridge_one_eigendecomposition(benchmark):
    """The alternative: one symmetric eigendecomposition serving every penalty (then only O(n^2) per penalty)."""
    G, *_ = _ridge_inputs()
    benchmark.group = RIDGE_GROUP
    with single_threaded():
        benchmark.pedantic(np.linalg.eigh, args=(G,), rounds=2, iterations=1)


def test_blas_matmul_rate_ridge_size(benchmark):
    a = np.random.default_rng(1).standard_normal((RIDGE_N, RIDGE_N))
    benchmark.group = RIDGE_GROUP
    with single_threaded():
        benchmark.pedantic(np.matmul, args=(a, a), rounds=3, iterations=1)
    _gflops(benchmark, 2 * RIDGE_N**3)


PRIMAL_N, PRIMAL_P, PRIMAL_EVAL = 4096, 2304, 1000   # n > p = (d + 1) M with d = 8, M = 256
PRIMAL_GROUP = f"ridge n={PRIMAL_N} > p={PRIMAL_P} features, 9 penalties, 4 targets, one thread"
# primal flops: the feature Gram F^T F (n p^2, symmetric rank-k update) and nine p^3 / 3 factorisations;
# the solves, the evaluation products and the training fit are O(p^2 + n p) per penalty and are not counted
PRIMAL_FLOPS = PRIMAL_N * PRIMAL_P**2 + len(model.LAMS) * PRIMAL_P**3 / 3


def _primal_inputs():
    rng = np.random.default_rng(4)
    F = rng.standard_normal((PRIMAL_N + PRIMAL_EVAL, PRIMAL_P)) / np.sqrt(PRIMAL_P)
    y = rng.standard_normal((PRIMAL_N + 500, 4))
    return F, y[:PRIMAL_N], y[PRIMAL_N:], rng.standard_normal((PRIMAL_EVAL - 500, 4))


def test_ridge_primal_path(benchmark):
    """The primal path for n > p: one p x p feature Gram, one Cholesky factorisation per penalty."""
    F, y, yv, ft = _primal_inputs()
    benchmark.group = PRIMAL_GROUP
    with single_threaded():
        benchmark.pedantic(model.ridge_errors_primal, args=(lambda a, b: F[a:b], F[PRIMAL_N:], y, yv, ft,
                                                            (PRIMAL_N,), model.LAMS), rounds=3, iterations=1)
    _gflops(benchmark, PRIMAL_FLOPS)


def test_ridge_dual_path_same_problem(benchmark):
    """The twin: the dual path on the same problem (n x n Gram, nine n^3 / 3 factorisations)."""
    F, y, yv, ft = _primal_inputs()
    benchmark.group = PRIMAL_GROUP
    with single_threaded():
        def dual():
            tr = F[:PRIMAL_N]
            return model.ridge_errors(tr @ tr.T, F[PRIMAL_N:] @ tr.T, y, yv, ft, (PRIMAL_N,), model.LAMS)
        benchmark.pedantic(dual, rounds=2, iterations=1)
    _gflops(benchmark, PRIMAL_N**2 * PRIMAL_P + len(model.LAMS) * PRIMAL_N**3 / 3)


def test_ridge_primal_one_eigendecomposition(benchmark):
    """The alternative for the primal path: one eigendecomposition of the p x p Gram serving every penalty."""
    F, *_ = _primal_inputs()
    A = F[:PRIMAL_N].T @ F[:PRIMAL_N]
    benchmark.group = PRIMAL_GROUP
    with single_threaded():
        benchmark.pedantic(np.linalg.eigh, args=(A,), rounds=2, iterations=1)


def test_blas_matmul_rate_primal_size(benchmark):
    a = np.random.default_rng(1).standard_normal((PRIMAL_P, PRIMAL_P))
    benchmark.group = PRIMAL_GROUP
    with single_threaded():
        benchmark.pedantic(np.matmul, args=(a, a), rounds=3, iterations=1)
    _gflops(benchmark, 2 * PRIMAL_P**3)
