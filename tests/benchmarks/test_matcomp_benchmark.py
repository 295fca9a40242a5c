"""Matrix-completion kernel (deep matrix completion GD) vs its NumPy twin.  Run: ``pytest tests/benchmarks -m bench``.

N = 100, D = 3, float32, 300 full-batch steps, single-threaded BLAS (as in the sweep workers).
The numba/numpy time ratio is recorded in ``extra_info["numba_over_numpy"]``.
"""

import time

import numpy as np
import pytest

from theorylab.matcomp import kernels, reference
from theorylab.matcomp.model import (gaussian_init, low_rank_target, observation_mask,
                                           sample_observations, single_threaded)

N, DEPTH, STEPS = 100, 3, 300


def _problem(dtype=np.float32):
    rng = np.random.default_rng(0)
    M = low_rank_target(rng, N, 5)
    mask = observation_mask(*sample_observations(rng, N, 2000), N)
    W0 = gaussian_init(rng, N, DEPTH, 1e-3)
    m = mask.sum()
    return (W0.astype(dtype), (mask / m).astype(dtype), (mask * M / m).astype(dtype),
            M.astype(dtype), mask.astype(dtype))


def _numba(W0, S, T, M, mask):
    return kernels.gd_steps(W0, S, T, np.float32(0.2), STEPS)


def _numpy(W0, S, T, M, mask):
    return reference.gd_loop(W0, M, mask, 0.2, STEPS)


@pytest.mark.parametrize("impl", ["numba", "numpy"])
def test_mc_gd_n100_d3_300_steps(benchmark, impl):
    args = _problem()
    fn = _numba if impl == "numba" else _numpy
    fn(*args)  # compile / warm up
    benchmark.group = "mc GD N=100 D=3 float32, 300 steps"
    with single_threaded():
        benchmark.pedantic(fn, args=args, rounds=5, iterations=1)
    benchmark.extra_info["us_per_step"] = benchmark.stats.stats.min / STEPS * 1e6


def test_mc_gd_ratio(benchmark):
    """Both implementations timed back to back (best of 5); the ratio is the recorded number."""
    args = _problem()
    _numba(*args)

    def best(fn):
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            fn(*args)
            times.append(time.perf_counter() - t0)
        return min(times)

    with single_threaded():
        t_numba, t_numpy = best(_numba), best(_numpy)
        benchmark.pedantic(_numba, args=args, rounds=1, iterations=1)
    benchmark.extra_info.update({
        "numba_us_per_step": t_numba / STEPS * 1e6,
        "numpy_us_per_step": t_numpy / STEPS * 1e6,
        "numba_over_numpy": t_numba / t_numpy,
    })
    np.testing.assert_allclose(_numba(*args), _numpy(*args), rtol=1e-3, atol=1e-6)
