"""Bandit simulators: model invariants (determinism, provenance and validation are the shared checks)."""

import numpy as np
import pytest

from theorylab.bandits import kernels, model
from tests.study_contract import (test_bad_parameters_raise_naming_them,  # noqa: F401 (shared checks)
                                  test_provenance_and_labelled_layout,
                                  test_same_seed_identical_other_seed_different)

STUDY = "bandits"

SMALL = dict(tasks=2, rounds=60, arms=4, dim=5, rep_dim=2, candidates=6, n_records=8, refit_every=16)
SMALL_NET = dict(tasks=2, rounds=40, arms=4, dim=3, rep_dim=1, n_records=8, refit_every=16, net_eps=0.4,
                 algorithms=model.ALGORITHMS)
SMALL_DIGITS = dict(tasks=2, rounds=40, arms=4, hidden=4, steps=5, batch=16, refit_every=16, n_records=8)

BAD_PARAMETERS = [
    (model.BanditParams, {"rep_class": "kernel"}, "rep_class"),
    (model.BanditParams, {"tasks": 0}, "tasks"),
    (model.BanditParams, {"rounds": 4}, "rounds"),
    (model.BanditParams, {"arms": 1}, "arms"),
    (model.BanditParams, {"noise": 0.0}, "noise"),
    (model.BanditParams, {"delta": 1.0}, "delta"),
    (model.BanditParams, {"lam": 0.5}, "lam"),                        # the OFUL bound needs lam >= 1
    (model.BanditParams, {"rep_dim": 9, "dim": 8}, "rep_dim"),
    (model.BanditParams, {"algorithms": ("gfucb", "gfucb")}, "algorithms"),
    (model.BanditParams, {"algorithms": ("gfucb", "thompson")}, "algorithms"),
    (model.BanditParams, {"algorithms": ("gfucb", "shared_ls")}, "algorithms"),   # no continuous W to fit
    (model.BanditParams, {"tasks": 64, "rounds": 100_000, "dim": 16}, "rounds"),  # stored contexts too large
    (model.BanditParams, {"tasks": 64, "candidates": 4096, "rep_dim": 32, "dim": 32}, "candidates"),
    (model.BanditParams, {"rep_class": "lowrank", "rep_dim": 2, "dim": 4}, "rep_dim"),   # net only for lines
    (model.BanditParams, {"rep_class": "lowrank", "rep_dim": 1, "dim": 12, "net_eps": 0.2}, "net_eps"),
    (model.BanditParams, {"rep_class": "neural", "rep_dim": 2, "dim": 8}, "net_eps"),    # 16-dim ball
    (model.BanditParams, {"rep_class": "neural", "rep_dim": 1, "dim": 3, "tasks": 64, "net_eps": 0.03},
     "net_eps"),
    (model.DigitParams, {"tasks": 0}, "tasks"),
    (model.DigitParams, {"dataset": "mnist"}, "dataset"),
    (model.DigitParams, {"hidden": 0}, "hidden"),
    (model.DigitParams, {"algorithms": ("shared_mlp", "shared_mlp")}, "algorithms"),
    (model.DigitParams, {"tasks": 64, "rounds": 20_000, "arms": 64}, "rounds"),
]

SIMULATORS = [(model.simulate_bandits, model.BanditParams(rep_class=c, **SMALL)) for c in ("finite",)]
SIMULATORS += [(model.simulate_bandits, model.BanditParams(rep_class=c, **SMALL_NET)) for c in ("lowrank", "neural")]
SIMULATORS += [(model.simulate_digits, model.DigitParams(**SMALL_DIGITS))]


def test_missing_digit_data_raise_before_compute(monkeypatch):
    """Without the bundled digits file the parameters are refused with one line naming the data set."""
    monkeypatch.setattr(model, "digits_file", lambda: None)
    with pytest.raises(ValueError, match=r"^dataset must be installed locally"):
        model.DigitParams()


def test_digits_are_the_bundled_8x8_images():
    images, labels = model.load_digits()
    assert images.shape == (1797, 64) and images.min() == 0 and images.max() == 1
    assert np.array_equal(np.unique(labels), np.arange(10))


def test_regret_is_nonnegative_nondecreasing_and_bounded():
    """Pseudo-regret adds max_a mu - mu(a_t) in [0, 2 max |mu|] every round."""
    ds = model.simulate_bandits(model.BanditParams(rep_class="finite", **SMALL), 1)
    r = ds.regret.values
    assert np.all(r >= 0) and np.all(np.diff(r, axis=-1) >= 0)
    assert np.all(ds.regret_worst >= ds.regret)
    # |mu| <= |theta| |tanh(Wx)| <= sqrt(k): at most 2 sqrt(k) per round
    assert np.all(r <= 2 * np.sqrt(2) * ds.t.values)
    dig = model.simulate_digits(model.DigitParams(**SMALL_DIGITS), 1).regret.values
    assert np.all(dig >= 0) and np.all(np.diff(dig, axis=-1) >= 0) and np.all(dig <= dig.shape[-1] * 0 + 40)


def test_environment_contains_the_true_representation():
    p = model.BanditParams(rep_class="finite", **SMALL)
    env = model.make_environment(p, 7)
    np.testing.assert_array_equal(env.candidates[env.true_index], env.W_true)
    np.testing.assert_allclose(np.linalg.norm(env.heads, axis=1), 1.0)
    assert env.eps_f == 0.0


@pytest.mark.parametrize("rep_class", ["lowrank", "neural"])
def test_net_environment_names_its_closest_member(rep_class):
    """The closest net point is within net_eps of W*, and its carried heads keep |theta| <= 1."""
    p = model.BanditParams(rep_class=rep_class, **{**SMALL_NET, "net_eps": 0.25})
    env = model.make_environment(p, 3)
    from theorylab.bandits import theory
    dist = theory.net_distance(rep_class, env.W_true[None], env.candidates)[0]
    assert dist[env.true_index] == dist.min() <= 0.25 and env.eps_f == 0.25
    assert np.all(np.linalg.norm(env.near_heads, axis=1) <= 1 + 1e-12)
    if rep_class == "lowrank":
        assert env.g == kernels.G_LINEAR
    else:
        assert np.linalg.norm(env.W_true) == pytest.approx(p.gain)


@pytest.mark.parametrize("rep_class", model.CLASSES)
def test_environment_is_shared_across_the_number_of_tasks(rep_class):
    """Common random numbers across M: the same seed gives the same W* and candidates at every M, and a run
    with more tasks keeps the heads of a run with fewer (so M-comparisons are paired by seed)."""
    small = SMALL if rep_class == "finite" else SMALL_NET
    few = model.make_environment(model.BanditParams(rep_class=rep_class, **{**small, "tasks": 2}), 5)
    many = model.make_environment(model.BanditParams(rep_class=rep_class, **{**small, "tasks": 16}), 5)
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
        small = SMALL if rep_class == "finite" else SMALL_NET
        ds = model.simulate_bandits(model.BanditParams(rep_class=rep_class, **{**small, "tasks": 1}), 2)
        np.testing.assert_array_equal(ds.regret.sel(algorithm="gfucb"), ds.regret.sel(algorithm="single"))
    dig = model.simulate_digits(model.DigitParams(**{**SMALL_DIGITS, "tasks": 1}), 2)
    np.testing.assert_array_equal(dig.regret.sel(algorithm="shared_mlp"), dig.regret.sel(algorithm="task_mlp"))


def test_coverage_fails_when_the_radius_is_too_small():
    """The coverage flag can fail: at beta_scale 0.05 the set loses the true function in most runs, at the
    theoretical radius it keeps it (finite class, 4 seeds)."""
    base = dict(SMALL, rounds=150, tasks=4)
    small = [model.simulate_bandits(model.BanditParams(rep_class="finite", beta_scale=0.05, **base), s)
             .covered.sel(algorithm="gfucb").isel(t=-1).item() for s in range(4)]
    full = [model.simulate_bandits(model.BanditParams(rep_class="finite", **base), s)
            .covered.sel(algorithm="gfucb").isel(t=-1).item() for s in range(4)]
    assert np.mean(small) < 0.5 and np.mean(full) == 1.0
