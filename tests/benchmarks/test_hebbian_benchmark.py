"""Overlap-driven dynamics kernel vs the explicit-matrix NumPy twin at N = 10^4 (K = 3, M = 15, beta = 20).

Run: ``pytest tests/benchmarks/test_hebbian_benchmark.py -m bench``; throughput is reported in spin updates
per second in each benchmark's ``extra_info``.  The twin's matrix (int32, 400 MB) is built once.
"""

import numpy as np
import pytest

from theorylab.hebbian import kernels, model, reference

N, K, M, R_QUALITY, D, BETA = 10_000, 3, 15, 0.8, 0.3, 20.0
GROUP = f"spin updates, N={N} K={K} M={M}"


def _network(protocol):
    rng = np.random.default_rng(0)
    xi, chi = model.draw_dataset(N, K, D, M, R_QUALITY, rng)
    V, group, c = model.stored_vectors(xi, chi, protocol, R_QUALITY)
    sigma = model.initial_state(xi, 1, "cue", rng)
    return xi, V, group, c, sigma


def _record(benchmark, updates):
    benchmark.extra_info["spin_updates_per_second"] = updates / benchmark.stats.stats.mean


@pytest.mark.parametrize("protocol", ["supervised", "unsupervised"])
def test_kernel_overlaps(benchmark, protocol):
    xi, V, group, c, sigma = _network(protocol)
    sweeps = 20
    kernels.run_dynamics(V, group, xi, sigma.copy(), c, BETA, False, 1, 0)   # compile / warm up
    benchmark.group = GROUP
    benchmark.pedantic(lambda: kernels.run_dynamics(V, group, xi, sigma.copy(), c, BETA, False, sweeps, 1),
                       rounds=5, iterations=1)
    _record(benchmark, sweeps * N)


@pytest.fixture(scope="module")
def explicit_matrix():
    xi, V, group, c, sigma = _network("supervised")
    return xi, V, group, c, sigma, reference.coupling_matrix(V, np.int32)


def test_numpy_explicit_matrix(benchmark, explicit_matrix):
    """The test oracle: one row of J sigma per update (one sweep per round)."""
    xi, V, group, c, sigma, J = explicit_matrix
    benchmark.group = GROUP
    benchmark.pedantic(lambda: reference.run_dynamics(V, group, xi, sigma.copy(), c, BETA, False, 1, 1, J=J),
                       rounds=3, iterations=1)
    _record(benchmark, N)


MIN_N = 16   # minima enumeration: 2^15 configurations


@pytest.fixture(scope="module")
def small_network():
    xi, chi = model.draw_dataset(MIN_N, K, 0.3, M, R_QUALITY, np.random.default_rng(0))
    return model.stored_vectors(xi, chi, "supervised", R_QUALITY)[0]


def test_kernel_minima_enumeration(benchmark, small_network):
    kernels.single_flip_minima(small_network)                                   # compile / warm up
    benchmark.group = f"minima enumeration, N={MIN_N} K={K}"
    benchmark.pedantic(lambda: kernels.single_flip_minima(small_network), rounds=5, iterations=1)
    benchmark.extra_info["configurations_per_second"] = 2 ** (MIN_N - 1) / benchmark.stats.stats.mean


def test_numpy_minima_enumeration(benchmark, small_network):
    benchmark.group = f"minima enumeration, N={MIN_N} K={K}"
    benchmark.pedantic(lambda: reference.single_flip_minima(small_network), rounds=3, iterations=1)
    benchmark.extra_info["configurations_per_second"] = 2 ** (MIN_N - 1) / benchmark.stats.stats.mean
