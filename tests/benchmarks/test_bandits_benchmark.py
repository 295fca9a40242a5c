"""Bandit kernels vs their NumPy twins: rounds per second (all M tasks played) in ``extra_info``.

Run: ``pytest tests/benchmarks/test_bandits_benchmark.py -m bench``.  Sizes: M = 8 tasks, K = 8 arms,
d = 8, k = 2; the finite class has N = 32 maps; the learned representation is refitted 8 times.
"""

import numpy as np
import pytest

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


def _record(benchmark, rounds):
    benchmark.extra_info["rounds_per_second"] = rounds / benchmark.stats.stats.mean


def _finite_args(T):
    W, heads, cands = _env()
    return (0, T, K, W, kernels.G_TANH, heads, 1.0, cands, True, 1.0, 1.0, LOG_INV_DELTA, 1.0, np.array([T]))


def _learned_args(T):
    W, heads, _ = _env()
    refit = np.zeros(T, bool)
    refit[np.linspace(T // 8, T - 1, 8).astype(int)] = True
    W0 = np.random.default_rng(1).normal(size=(1, KR, D))
    return (0, T, K, W, kernels.G_TANH, heads, 0.5, W0, True, 1.0, 1.0, LOG_INV_DELTA, 1.0, refit, 4, 1.0,
            np.array([T]))


@pytest.mark.parametrize("impl", ["numba", "numpy"])
def test_gfucb_finite_rounds(benchmark, impl):
    """GFUCB over a finite class (shared elimination, N = 32): 300 rounds (kernel), 30 (NumPy twin)."""
    T = 300 if impl == "numba" else 30
    fn = kernels.run_finite if impl == "numba" else reference.run_finite
    kernels.run_finite(*_finite_args(10))   # compile
    benchmark.group = f"GFUCB finite class, M={M} K={K} d={D} k={KR} N={N}"
    benchmark.pedantic(fn, args=_finite_args(T), rounds=3, iterations=1)
    _record(benchmark, T)


@pytest.mark.parametrize("impl", ["numba", "numpy"])
def test_oful_rounds(benchmark, impl):
    """Independent OFUL on the raw d-dimensional contexts: 2000 rounds (kernel), 200 (NumPy twin)."""
    W, heads, _ = _env()
    T = 2000 if impl == "numba" else 200
    fn = kernels.run_linucb if impl == "numba" else reference.run_linucb
    args = (0, T, K, W, kernels.G_TANH, heads, 1.0, np.eye(D), kernels.G_LINEAR, 1.0, 1.0, LOG_INV_DELTA, 1.0,
            np.array([T]))
    kernels.run_linucb(*args[:1], 10, *args[2:13], np.array([10]))
    benchmark.group = f"OFUL raw contexts, M={M} K={K} d={D}"
    benchmark.pedantic(fn, args=args, rounds=3, iterations=1)
    _record(benchmark, T)


@pytest.mark.parametrize("impl", ["numba", "numpy"])
def test_learned_representation_rounds(benchmark, impl):
    """GFUCB with a learned tanh representation (8 refits, 4 alternating iterations each): 800 / 200 rounds."""
    T = 800 if impl == "numba" else 200
    fn = kernels.run_learned if impl == "numba" else reference.run_learned
    kernels.run_learned(*_learned_args(16))
    benchmark.group = f"GFUCB learned tanh representation, M={M} K={K} d={D} k={KR}"
    benchmark.pedantic(fn, args=_learned_args(T), rounds=3, iterations=1)
    _record(benchmark, T)
