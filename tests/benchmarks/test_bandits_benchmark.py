"""Bandit kernels vs their NumPy twins: rounds per second (all M tasks played) in ``extra_info``.

Run: ``pytest tests/benchmarks/test_bandits_benchmark.py -m bench``.  Sizes: M = 8 tasks, K = 8 arms,
d = 8, k = 2; the finite class has N = 32 maps; the learned representations are refitted 8 times.
"""

import numpy as np
import pytest

from tests.benchmarks.harness import time_kernel
from theorylab.bandits import kernels, reference

M, K, D, KR, N = 8, 8, 8, 2, 32
LOG_INV_DELTA = float(np.log(M / 0.05))


def _env():
    rng = np.random.default_rng(0)
    W = 1.5 * rng.normal(size=(KR, D))
    cands = W[None] + 0.5 * rng.normal(size=(N, KR, D))
    cands[0] = W
    heads = rng.normal(size=(M, KR))      # last, as in model.make_environment
    heads /= np.linalg.norm(heads, axis=1, keepdims=True)
    return W, heads, cands


def _finite_args(T):
    W, heads, cands = _env()
    return (0, T, K, W, kernels.G_TANH, heads, 1.0, cands, True, False, 1.0, 1.0, LOG_INV_DELTA, 1.0, 2.0, 0.0, 0,
            heads, np.array([T]))


def _digit_args(T, shared):
    rng = np.random.default_rng(0)
    images, labels = rng.random((1797, 64)), rng.integers(10, size=1797)
    values, idx, noise = rng.random((M, 10)), rng.integers(1797, size=(T, M, 10)), rng.normal(size=(T, M, 10))
    W1, b1 = rng.normal(size=(16, 64)) / 8.0, np.zeros(16)
    refit = np.zeros(T, bool)
    refit[np.linspace(T // 8, T - 1, 8).astype(int)] = True
    u = rng.random((8, 60, 128))
    return (images, labels, values, idx, noise, 0.1, W1, b1, shared, 1.0, 0.3, LOG_INV_DELTA, 1.0, refit, 2, 0.01,
            u, np.array([T]))


def _learned_args(T):
    W, heads, _ = _env()
    refit = np.zeros(T, bool)
    refit[np.linspace(T // 8, T - 1, 8).astype(int)] = True
    W0 = np.random.default_rng(1).normal(size=(1, KR, D))
    return (0, T, K, W, kernels.G_TANH, heads, 0.5, W0, True, 1.0, 1.0, LOG_INV_DELTA, 1.0, refit, 4, 1.0,
            np.array([T]))


@pytest.mark.parametrize("impl", ["numba", "numpy"])
def test_gfucb_finite_rounds(benchmark, impl):
    """GFUCB's joint confidence set over a finite class (N = 32) with task-wise optimism: 300 rounds (kernel), 30
    (NumPy twin; its joint-optimism branch enumerates all K^M arm tuples, too slow to benchmark at M = 8)."""
    T = 300 if impl == "numba" else 30
    fn = kernels.run_gfucb if impl == "numba" else reference.run_gfucb
    time_kernel(benchmark, fn, _finite_args(T), unit="rounds_per_second", count=T,
                group=f"GFUCB set, task-wise optimism, finite class, M={M} K={K} d={D} k={KR} N={N}",
                compile_with=(kernels.run_gfucb, _finite_args(10)))


@pytest.mark.parametrize("impl", ["numba", "numpy"])
def test_oful_rounds(benchmark, impl):
    """Independent OFUL on the raw d-dimensional contexts: 2000 rounds (kernel), 200 (NumPy twin)."""
    W, heads, _ = _env()
    T = 2000 if impl == "numba" else 200
    fn = kernels.run_linucb if impl == "numba" else reference.run_linucb
    args = (0, T, K, W, kernels.G_TANH, heads, 1.0, np.eye(D), kernels.G_LINEAR, 1.0, 1.0, LOG_INV_DELTA, 1.0,
            np.array([T]))
    time_kernel(benchmark, fn, args, unit="rounds_per_second", count=T, group=f"OFUL raw contexts, M={M} K={K} d={D}",
                compile_with=(kernels.run_linucb, (*args[:1], 10, *args[2:13], np.array([10]))))


@pytest.mark.parametrize("impl", ["numba", "numpy"])
def test_learned_representation_rounds(benchmark, impl):
    """Shared least-squares UCB, learned tanh representation (8 refits, 4 iterations each): 800 / 200 rounds."""
    T = 800 if impl == "numba" else 200
    fn = kernels.run_learned if impl == "numba" else reference.run_learned
    time_kernel(benchmark, fn, _learned_args(T), unit="rounds_per_second", count=T,
                group=f"shared least-squares UCB, tanh representation, M={M} K={K} d={D} k={KR}",
                compile_with=(kernels.run_learned, _learned_args(16)))


@pytest.mark.parametrize("impl", ["numba", "numpy"])
def test_mlp_ucb_rounds(benchmark, impl):
    """Digit bandit, UCB on a shared MLP (64 -> 16, 8 refits x 2 x 60 Adam steps of 128): 400 / 100 rounds."""
    T = 400 if impl == "numba" else 100
    fn = kernels.run_mlp_ucb if impl == "numba" else reference.run_mlp_ucb
    time_kernel(benchmark, fn, _digit_args(T, True), unit="rounds_per_second", count=T,
                group=f"shared-MLP UCB on 8x8 images, M={M} K=10 h=16",
                compile_with=(kernels.run_mlp_ucb, _digit_args(16, True)))
