"""Random-feature attention kernels vs their NumPy twins, and the machine's BLAS matmul rate.

Run: ``pytest tests/benchmarks/test_attention_benchmark.py -m bench``.  Throughput is in each benchmark's
``extra_info`` as GFLOP/s, counting for the features ``n M (2 d1^2 + 4 N d1)`` flops (query, scores, and
the value sum as if every ReLU were active), for the matmul ``2 n^3``.  Default threading for all
(Numba's and BLAS's thread pools).
"""

import numpy as np
import pytest

from theorylab.attention import kernels, model, reference

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
    benchmark(kernels.rfa_features, q, k, WT, out)
    _gflops(benchmark, FEATURE_FLOPS)


def test_rfa_features_numpy_einsum(benchmark):
    q, k, W = _inputs()
    benchmark.group = GROUP
    benchmark.pedantic(reference.rfa_features, args=(q, k, W), rounds=3, iterations=1)
    _gflops(benchmark, FEATURE_FLOPS)


def test_blas_matmul_rate(benchmark):
    """The machine's dense matmul rate (the Gram products run at this speed)."""
    size = 1024
    a = np.random.default_rng(1).standard_normal((size, size))
    benchmark.group = GROUP
    benchmark(np.matmul, a, a)
    _gflops(benchmark, 2 * size**3)


KERNEL_GROUP = "closed-form RFA kernel 300 x 300 sequences, d=N=8"


@pytest.mark.parametrize("impl", ["numba", "numpy"])
def test_rfa_kernel(benchmark, impl):
    rng = np.random.default_rng(2)
    q, k = model.sample_sequences(rng, 300, N, d)
    benchmark.group = KERNEL_GROUP
    if impl == "numba":
        out = np.empty((300, 300))
        kernels.rfa_kernel(q, k, q, k, out)
        benchmark(kernels.rfa_kernel, q, k, q, k, out)
    else:
        benchmark.pedantic(reference.rfa_kernel, args=(q, k, q, k), rounds=3, iterations=1)
    benchmark.extra_info["key_pairs_per_second"] = 300 * 300 * N * N / benchmark.stats.stats.mean
