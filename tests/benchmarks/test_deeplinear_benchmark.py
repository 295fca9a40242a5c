"""Two-pathway kernels vs their NumPy twins.  Run: ``pytest tests/benchmarks -m bench``."""

import numpy as np
import pytest

from theorylab.deeplinear import kernels, model, reference, theory


def _pathway_args(width=100, depth=4, n_steps=100):
    p = model.PathwayParams(depth=depth, width=width)
    Y, U, _, V = theory.hierarchical_data()
    W0, _ = model.aligned_init(depth, width, p.init_scale, p.init_noise, np.random.default_rng(0))
    pad = lambda a: model._padded(a, width)  # noqa: E731
    gate = np.zeros(n_steps, np.bool_)
    return (W0, W0.copy(), pad(Y.T), pad(U), pad(V), 0.01, n_steps, gate, False, False,
            np.eye(width), np.eye(width), 8, 1)


def _map_args(n=100, n_steps=2000):
    rng = np.random.default_rng(0)
    return (np.full(n, 10.0), 0.01 * rng.standard_normal(n), 0.01 * rng.standard_normal(n), 8, 1.0,
            0.001, n_steps, np.zeros(n_steps, np.bool_), False, np.zeros(n, np.bool_), 10)


@pytest.mark.parametrize("impl", ["numba", "numpy"])
def test_pathway_gd_h100_d4_100_updates(benchmark, impl):
    args = _pathway_args()
    fn = kernels.pathway_gd if impl == "numba" else reference.pathway_gd
    fn(*args)  # compile / warm up
    benchmark.group = "pathway_gd H=100 D=4, 100 updates"
    benchmark(fn, *args)


@pytest.mark.parametrize("impl", ["numba", "numpy"])
def test_mode_map_100_inits_2000_updates(benchmark, impl):
    args = _map_args()
    fn = kernels.mode_map if impl == "numba" else reference.mode_map
    fn(*args)
    benchmark.group = "mode_map 100 inits, 2000 updates"
    benchmark(fn, *args)


def _nonlinear_args(width=100, depth=3, n_steps=100):
    args = list(_pathway_args(width, depth, n_steps))
    Y, _, _, _ = theory.hierarchical_data()
    target = model._padded(Y.T, width)[:, :8].copy()
    # (Wa, Wb, target, U, V, lr, n_steps, gate, remove_b, act, n_in, n_modes, record_every)
    return (args[0], args[1], target, args[3], args[4], 0.01, n_steps, args[7], False, kernels.TANH, 8, 8, 1)


@pytest.mark.parametrize("impl", ["numba", "numpy"])
def test_nonlinear_pathway_gd_h100_d3_100_updates(benchmark, impl):
    args = _nonlinear_args()
    fn = kernels.nonlinear_pathway_gd if impl == "numba" else reference.nonlinear_pathway_gd
    fn(*args)
    benchmark.group = "nonlinear_pathway_gd tanh H=100 D=3, 100 updates"
    benchmark(fn, *args)
