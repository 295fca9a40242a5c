"""Matrix-completion kernels vs the NumPy twin and a BLAS matmul.  Run: ``pytest tests/benchmarks -m bench``.

N = 100, D = 3, m = 2000, float32, 300 full-batch steps, single-threaded BLAS (as in the sweep
workers).  Three implementations of the same trajectory: the sparse-residual kernel (the loss
reads W only at the m observed entries), the dense kernel (the whole end-to-end matrix every
step) and the NumPy twin.  ``extra_info`` records microseconds per step, the ratios, and the
sparse kernel's GFLOP/s next to one N x N BLAS matmul's.
"""

import time

import numpy as np
import pytest

from theorylab.core.sweep import single_threaded
from theorylab.matcomp import kernels, reference
from theorylab.matcomp.model import gaussian_init, low_rank_target, observation_mask, sample_observations


N, DEPTH, M_OBS, STEPS = 100, 3, 2000, 300
LR = np.float32(0.2)


def _problem():
    rng = np.random.default_rng(0)
    M = low_rank_target(rng, N, 5)
    mask = observation_mask(*sample_observations(rng, N, M_OBS), N)
    W0 = gaussian_init(rng, N, DEPTH, 1e-3).astype(np.float32)
    rows, cols = np.nonzero(mask)
    sparse = (W0, rows.astype(np.int64), cols.astype(np.int64), (M[rows, cols] / M_OBS).astype(np.float32),
              np.float32(1.0 / M_OBS), LR, STEPS)
    dense = (W0, (mask / M_OBS).astype(np.float32), (mask * M / M_OBS).astype(np.float32), LR, STEPS)
    twin = (W0, M.astype(np.float32), mask.astype(np.float32), 0.2, STEPS)
    return sparse, dense, twin


IMPLS = {"sparse": (kernels.gd_steps_sparse, 0), "dense": (kernels.gd_steps, 1), "numpy": (reference.gd_loop, 2)}


def _best(fn, args, rounds=5):
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t0)
    return min(times)


def sparse_step_flops() -> float:
    """Floating-point operations of one sparse-residual step at depth 3: three N x N products
    (forward prefix, two backward) and three m-term sums of length-N rows (residual, A^T G, update)."""
    return 3 * 2.0 * N ** 3 + 3 * 2.0 * M_OBS * N


@pytest.mark.parametrize("impl", list(IMPLS))
def test_matcomp_gd_n100_d3_300_steps(benchmark, impl):
    fn, which = IMPLS[impl]
    args = _problem()[which]
    fn(*args)  # compile / warm up
    benchmark.group = "matcomp GD N=100 D=3 m=2000 float32, 300 steps"
    with single_threaded():
        benchmark.pedantic(fn, args=args, rounds=5, iterations=1)
    benchmark.extra_info["us_per_step"] = benchmark.stats.stats.min / STEPS * 1e6


def test_matcomp_ratios_and_gflops(benchmark):
    """All three back to back (best of 5), a BLAS matmul for scale; the trajectories agree."""
    sparse, dense, twin = _problem()
    kernels.gd_steps_sparse(*sparse)
    kernels.gd_steps(*dense)
    A = np.random.default_rng(1).standard_normal((N, N)).astype(np.float32)
    out = np.empty_like(A)
    with single_threaded():
        t_sparse, t_dense, t_twin = (_best(kernels.gd_steps_sparse, sparse), _best(kernels.gd_steps, dense),
                                     _best(reference.gd_loop, twin))
        t_mm = _best(lambda: [np.dot(A, A, out) for _ in range(1000)], ()) / 1000
        benchmark.pedantic(kernels.gd_steps_sparse, args=sparse, rounds=1, iterations=1)
    step = t_sparse / STEPS
    benchmark.extra_info.update({
        "sparse_us_per_step": step * 1e6,
        "dense_us_per_step": t_dense / STEPS * 1e6,
        "numpy_us_per_step": t_twin / STEPS * 1e6,
        "dense_over_sparse": t_dense / t_sparse,
        "numpy_over_sparse": t_twin / t_sparse,
        "sparse_gflops": sparse_step_flops() / step / 1e9,
        "blas_matmul_gflops": 2.0 * N ** 3 / t_mm / 1e9,
    })
    got = kernels.gd_steps_sparse(*sparse)
    np.testing.assert_allclose(got, kernels.gd_steps(*dense), rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(got, reference.gd_loop(*twin), rtol=1e-3, atol=1e-6)
