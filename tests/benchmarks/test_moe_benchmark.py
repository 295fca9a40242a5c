"""Top-K routing kernel vs NumPy (and torch.topk when installed) at T = 8192, E = 64, K = 6.

Run: ``pytest tests/benchmarks/test_moe_benchmark.py -m bench``; throughput is reported in tokens per
second in each benchmark's ``extra_info``.
"""

import numpy as np
import pytest

from theorylab.moe import kernels, reference

T, E, K = 8192, 64, 6


def _inputs():
    rng = np.random.default_rng(0)
    scores = 1.0 / (1.0 + np.exp(-rng.normal(size=(T, E))))
    bias = rng.normal(scale=1e-2, size=E)
    return scores, bias


GROUP = f"top-K routing T={T} E={E} K={K}"


def _record(benchmark):
    benchmark.extra_info["tokens_per_second"] = T / benchmark.stats.stats.mean


def test_route_topk_numba(benchmark):
    scores, bias = _inputs()
    sel, loads = np.empty((T, K), np.int64), np.zeros(E, np.int64)
    kernels.route_topk(scores, bias, K, sel, loads)  # compile / warm up
    benchmark.group = GROUP
    benchmark(kernels.route_topk, scores, bias, K, sel, loads)
    _record(benchmark)


def test_route_topk_numpy_argpartition(benchmark):
    scores, bias = _inputs()
    benchmark.group = GROUP
    benchmark(reference.route_topk_argpartition, scores, bias, K)
    _record(benchmark)


def test_route_topk_numpy_stable_sort(benchmark):
    """The tie-exact NumPy twin used as the test oracle (stable argsort)."""
    scores, bias = _inputs()
    sel, loads = np.empty((T, K), np.int64), np.zeros(E, np.int64)
    benchmark.group = GROUP
    benchmark(reference.route_topk, scores, bias, K, sel, loads)
    _record(benchmark)


def test_route_topk_torch(benchmark):
    torch = pytest.importorskip("torch")
    scores, bias = _inputs()
    s, b = torch.from_numpy(scores), torch.from_numpy(bias)

    def route():
        idx = torch.topk(s + b, K, dim=1).indices
        return idx, torch.bincount(idx.ravel(), minlength=E)

    benchmark.group = GROUP
    benchmark(route)
    _record(benchmark)


def test_router_iteration_all_methods(benchmark):
    """One training iteration of every routing method on the synthetic router (paper-scale batch)."""
    fam = np.array([kernels.FAM_NONE, kernels.FAM_LOSSFREE, kernels.FAM_AUX, kernels.FAM_SINKHORN,
                    kernels.FAM_EC, kernels.FAM_CAPACITY])
    args = (0, 4096, 64, 6, 32, 8, 1.0, 1.0, 0.3, 0.01, 0.002, 10, fam, np.zeros(6, np.int64),
            np.array([0.0, 1e-3, 1e-3, 0.0, 0.0, 0.0]), 10.0, 1e-3, 480, 0.1, 1e-2, 20, 1, 10)
    kernels.run_router(*args)
    benchmark.group = "router simulation, 10 iterations (T=4096, E=64, K=6, 6 methods)"
    benchmark.pedantic(kernels.run_router, args=args, rounds=3, iterations=1)


TRAINED_ARGS = (0, 256, 16, 2, 8, 4, 8, 6.0, 1.0, 0.1, 0.1, 0.1, 0.01, 200,
                np.array([kernels.FAM_NONE, kernels.FAM_LOSSFREE, kernels.FAM_AUX]), np.array([0.0, 1e-3, 1e-2]),
                4096, 100, 1e-8)
TRAINED_GROUP = "trained MoE, 200 SGD steps of 3 variants (T=256, E=16, K=2, d=8, m=4)"


def test_run_trained_numba(benchmark):
    kernels.run_trained(*TRAINED_ARGS)  # compile / warm up
    benchmark.group = TRAINED_GROUP
    benchmark.pedantic(kernels.run_trained, args=TRAINED_ARGS, rounds=3, iterations=1)


def test_run_trained_numpy_twin(benchmark):
    benchmark.group = TRAINED_GROUP
    benchmark.pedantic(reference.run_trained, args=TRAINED_ARGS, rounds=2, iterations=1)
