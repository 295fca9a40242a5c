"""Matrix-completion public API: data construction and Dataset layout; validation, determinism and
provenance through the shared checks of tests/study_contract.py."""

import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_allclose

from theorylab.matcomp.model import (CompletionFlowParams, CompletionParams, gaussian_init, identity_init,
                                     low_rank_target, make_problem, sample_observations, simulate_completion,
                                     simulate_completion_flow)
from tests.study_contract import (test_bad_parameters_raise_naming_them,  # noqa: F401 (shared checks)
                                  test_provenance_and_labelled_layout,
                                  test_same_seed_identical_other_seed_different)

STUDY = "matcomp"

SMALL = dict(N=16, depth=2, rank1=3, rank2=2, n_obs=100, lr=0.5, t_switch=(0, 50, 200),
             n_continue=300, log_every=50, n_sv=4)


def test_target_is_rank_r_with_unit_mean_square():
    M = low_rank_target(np.random.default_rng(0), 40, 3)
    assert_allclose(np.linalg.norm(M), 40.0, rtol=1e-12)
    assert np.linalg.matrix_rank(M) == 3


def test_observations_are_distinct_and_nested():
    rows, cols = sample_observations(np.random.default_rng(1), 20, 150)
    flat = rows * 20 + cols
    assert np.unique(flat).size == 150
    r2, c2 = sample_observations(np.random.default_rng(1), 20, 90)
    assert np.array_equal(r2, rows[:90]) and np.array_equal(c2, cols[:90])


def test_subset_mode_uses_one_target_and_nested_masks():
    p = CompletionParams(**{**SMALL, "rank1": 2, "n_obs_deficit": 60})
    prob = make_problem(p, seed=3)
    assert prob.M1 is prob.M2
    assert prob.mask1.sum() == 60 and prob.mask2.sum() == 100
    assert np.all(prob.mask2[prob.mask1 > 0] == 1)


def test_changing_depth_or_rank1_keeps_the_other_random_objects():
    a = make_problem(CompletionParams(**SMALL), seed=4)
    b = make_problem(CompletionParams(**{**SMALL, "depth": 3, "rank1": 5}), seed=4)
    assert np.array_equal(a.M2, b.M2) and np.array_equal(a.mask2, b.mask2)
    # same normal draws, rescaled per depth (init_scale^(1/D)): equal up to one rounding
    assert_allclose(a.W0, b.W0[:2] * (0.001 ** (1 / 2)) / (0.001 ** (1 / 3)), rtol=1e-14)


def test_gaussian_init_norm():
    """||W(0)||_F ~ init_scale sqrt(N); the official code asserts +-20% (N = 100)."""
    W = gaussian_init(np.random.default_rng(5), 100, 3, 1e-3)
    ratio = np.linalg.norm(W[2] @ W[1] @ W[0]) / (1e-3 * 10)
    assert 0.8 < ratio < 1.2


def test_identity_init_is_exactly_balanced():
    Ws = identity_init(np.random.default_rng(6), 10, 3, 1e-2, 1e-5)
    for lo, hi in zip(Ws[:-1], Ws[1:]):
        assert np.array_equal(hi.T @ hi, lo @ lo.T)


def test_dataset_layout_and_provenance():
    ds = simulate_completion(CompletionParams(**SMALL), seed=7)
    assert ds.test_loss.dims == ("t_switch",)
    assert ds.sigma.dims == ("t_switch", "step", "sv")
    assert list(ds.t_switch.values) == [0, 50, 200]
    assert ds.step.values[-1] == 200 + 300 - 1 - (200 + 300 - 1) % 50
    assert ds.attrs["seed"] == 7 and all("units" in var.attrs for var in ds.data_vars.values())
    # the logged curve ends where the final test loss is measured (or NaN after it)
    last = ds.test_traj.sel(t_switch=0).dropna("step")
    assert last.step.values[-1] <= 0 + 300 - 1


def test_logging_off_is_valid():
    CompletionParams(**{**SMALL, "log_every": 0, "t_switch": (0,)})


BAD_PARAMETERS = [
    (CompletionParams, {**SMALL, "N": 1}, "N"),
    (CompletionParams, {**SMALL, "depth": 6}, "depth"),
    (CompletionParams, {**SMALL, "rank1": 17}, "rank1"),
    (CompletionParams, {**SMALL, "n_sv": 20}, "n_sv"),
    (CompletionParams, {**SMALL, "n_obs": 300}, "n_obs"),
    (CompletionParams, {**SMALL, "n_obs_deficit": 100}, "n_obs_deficit"),
    (CompletionParams, {**SMALL, "n_obs_deficit": 50}, "rank1"),          # subset mode needs rank1 == rank2
    (CompletionParams, {**SMALL, "t_switch": (0, 50, 50)}, "t_switch"),
    (CompletionParams, {**SMALL, "t_switch": (-1, 5)}, "t_switch"),
    (CompletionParams, {**SMALL, "lr": 7.0}, "lr"),                       # above the stability estimate 2m / (D N^(2-2/D)) = 6.25
    (CompletionParams, {**SMALL, "lr": 0.0}, "lr"),
    (CompletionParams, {**SMALL, "n_continue": 1}, "n_continue"),
    (CompletionParams, {**SMALL, "dtype": "float16"}, "dtype"),
    (CompletionFlowParams, {"jitter": 1e-4}, "jitter"),
    (CompletionFlowParams, {"switch_time": (0.0, 10.03)}, "switch_time"),
    (CompletionFlowParams, {"log_time": 0.01}, "log_time"),
    (CompletionFlowParams, {"N": 100}, "N"),
    (CompletionFlowParams, {"rank2": 30}, "rank2"),
]

SIMULATORS = [
    (simulate_completion, CompletionParams(**SMALL)),
    (simulate_completion_flow, CompletionFlowParams(N=8, rank1=2, rank2=1, n_obs=40, lr=0.1, switch_time=(0.0, 2.0),
                                                    continue_time=2.0, log_time=0.5, n_sv=2)),
]
