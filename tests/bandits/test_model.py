"""Bandit simulator: validation before compute, determinism, provenance, layout, and model invariants."""

import numpy as np
import pytest
import xarray as xr

from theorylab.bandits import kernels, model
from tests.study_contract import assert_labelled_with_provenance

SMALL = dict(tasks=2, rounds=60, arms=4, dim=5, rep_dim=2, candidates=6, n_records=8, refit_every=16)


@pytest.mark.parametrize("changes, name", [
    ({"rep_class": "kernel"}, "rep_class"),
    ({"tasks": 0}, "tasks"),
    ({"rounds": 4}, "rounds"),
    ({"arms": 1}, "arms"),
    ({"noise": 0.0}, "noise"),
    ({"delta": 1.0}, "delta"),
    ({"lam": 0.5}, "lam"),                                  # the OFUL bound needs lam >= 1
    ({"rep_dim": 9, "dim": 8}, "rep_dim"),
    ({"algorithms": ("gfucb", "gfucb")}, "algorithms"),
    ({"algorithms": ("gfucb", "thompson")}, "algorithms"),
    ({"tasks": 64, "rounds": 100_000, "dim": 16}, "rounds"),  # stored contexts too large
    ({"tasks": 64, "candidates": 4096, "rep_dim": 32, "dim": 32}, "candidates"),
])
def test_bad_parameters_raise_naming_them(changes, name):
    with pytest.raises(ValueError, match=rf"^{name} must"):
        model.BanditParams(**changes)


@pytest.mark.parametrize("rep_class", model.CLASSES)
def test_same_seed_identical_other_seed_different(rep_class):
    p = model.BanditParams(rep_class=rep_class, **SMALL)
    a, b, c = model.simulate_bandits(p, 3), model.simulate_bandits(p, 3), model.simulate_bandits(p, 4)
    xr.testing.assert_identical(a, b)
    assert not np.array_equal(a.regret.values, c.regret.values)


@pytest.mark.parametrize("rep_class", model.CLASSES)
def test_provenance_and_labelled_layout(rep_class):
    p = model.BanditParams(rep_class=rep_class, **SMALL)
    ds = model.simulate_bandits(p, 0)
    assert_labelled_with_provenance(ds, p, "bandits")
    assert list(ds.algorithm.values) == list(model.ALGORITHMS)
    assert ("n_alive" in ds) == (rep_class == "finite")


def test_regret_is_nonnegative_nondecreasing_and_bounded():
    """Pseudo-regret adds max_a mu - mu(a_t) in [0, 2 max |mu|] every round."""
    ds = model.simulate_bandits(model.BanditParams(rep_class="finite", **SMALL), 1)
    r = ds.regret.values
    assert np.all(r >= 0) and np.all(np.diff(r, axis=-1) >= 0)
    assert np.all(ds.regret_worst >= ds.regret)
    # |mu| <= |theta| |tanh(Wx)| <= sqrt(k): at most 2 sqrt(k) per round
    assert np.all(r <= 2 * np.sqrt(2) * ds.t.values)


def test_environment_contains_the_true_representation():
    p = model.BanditParams(rep_class="finite", **SMALL)
    env = model.make_environment(p, 7)
    np.testing.assert_array_equal(env.candidates[env.true_index], env.W_true)
    np.testing.assert_allclose(np.linalg.norm(env.heads, axis=1), 1.0)
    low = model.make_environment(p.replace(rep_class="lowrank"), 7)
    np.testing.assert_allclose(low.W_true @ low.W_true.T, np.eye(2), atol=1e-12)   # orthonormal B
    assert low.g == kernels.G_LINEAR


@pytest.mark.parametrize("rep_class", model.CLASSES)
def test_environment_is_shared_across_the_number_of_tasks(rep_class):
    """Common random numbers across M: the same seed gives the same W* and candidates at every M, and a run
    with more tasks keeps the heads of a run with fewer (so M-comparisons are paired by seed)."""
    few = model.make_environment(model.BanditParams(rep_class=rep_class, **{**SMALL, "tasks": 2}), 5)
    many = model.make_environment(model.BanditParams(rep_class=rep_class, **{**SMALL, "tasks": 16}), 5)
    np.testing.assert_array_equal(few.W_true, many.W_true)
    np.testing.assert_array_equal(few.candidates, many.candidates)
    assert few.true_index == many.true_index
    np.testing.assert_array_equal(few.heads, many.heads[:2])


def test_record_and_refit_schedules():
    rec = model.record_rounds(1000, 20)
    assert {125, 250, 500, 1000} <= set(rec.tolist()) and np.all(np.diff(rec) > 0) and rec[0] == 1
    refit = model.refit_schedule(200, 50)
    assert np.flatnonzero(refit).tolist() == [0, 1, 3, 7, 15, 31, 49, 99, 149, 199]


def test_shared_equals_single_with_one_task():
    """With M = 1 the shared and per-task confidence sets coincide: identical runs, every class."""
    for rep_class in model.CLASSES:
        ds = model.simulate_bandits(model.BanditParams(rep_class=rep_class, **{**SMALL, "tasks": 1}), 2)
        np.testing.assert_array_equal(ds.regret.sel(algorithm="gfucb"), ds.regret.sel(algorithm="single"))
