"""PSR simulators: validation before compute, determinism, provenance and layout (shared checks), and model
invariants."""

import math

import numpy as np
import pytest

from theorylab.psr import kernels, model
from tests.study_contract import (assert_labelled_with_provenance,
                                  test_bad_parameters_raise_naming_them,  # noqa: F401 (shared checks)
                                  test_provenance_and_labelled_layout,
                                  test_same_seed_identical_other_seed_different)

STUDY = "psr"

SMALL = dict(shared_points=21, horizon=3)
SMALL_UP = dict(SMALL, tasks=2, iterations=40)
SMALL_DOWN = dict(SMALL, upstream_tasks=2, upstream_iterations=20, iterations=30)

BAD_PARAMETERS = [
    (model.FamilyParams, {"family": "reward"}, "family"),
    (model.FamilyParams, {"shared_low": 0.9, "shared_high": 0.8}, "shared_high"),
    (model.FamilyParams, {"shared_low": 0.4}, "shared_low"),                 # p <= 1/2 would make actions ambiguous
    (model.FamilyParams, {"task_levels": (0.7, 0.7)}, "task_levels"),
    (model.FamilyParams, {"task_levels": (0.7, 1.0)}, "task_levels"),
    (model.FamilyParams, {"horizon": 6}, "horizon"),
    (model.FamilyParams, {"shared_points": 2001, "horizon": 5}, "shared_points"),   # leaf table too large
    (model.BracketingParams, {"etas": (0.1, 0.01)}, "etas"),
    (model.BracketingParams, {"shared_points": 1001}, "shared_points"),      # pairwise distances too large
    (model.BracketingParams, {"core_tasks": 0}, "core_tasks"),
    (model.UpstreamParams, {"learner": "ppo"}, "learner"),
    (model.UpstreamParams, {"learner": "omle"}, "learner"),                 # the optimistic learner's old name
    (model.UpstreamParams, {"tasks": 0}, "tasks"),
    (model.UpstreamParams, {"tasks": 12, "task_levels": (0.6, 0.7, 0.8, 0.9)}, "tasks"),   # 4^12 tuples
    (model.UpstreamParams, {"identical_tasks": True, "learner": "omle-optimistic"}, "learner"),
    (model.UpstreamParams, {"shared_true": 0.97}, "shared_true"),
    (model.UpstreamParams, {"delta": 1.0}, "delta"),
    (model.UpstreamParams, {"epsilon": 0.0}, "epsilon"),
    (model.DownstreamParams, {"target_level": 3}, "target_level"),
    (model.DownstreamParams, {"target_goal": 2}, "target_goal"),
    (model.DownstreamParams, {"upstream_iterations": -1}, "upstream_iterations"),
    (model.ExactParams, {"horizon": 3}, "horizon"),                         # 2^42 policies
]

SIMULATORS = [   # the bracketing counts do not depend on the seed: checked on their own below
    *[(model.simulate_upstream, model.UpstreamParams(**SMALL_UP, learner=lr)) for lr in model.LEARNERS],
    (model.simulate_upstream, model.UpstreamParams(**SMALL_UP, identical_tasks=True)),
    (model.simulate_downstream, model.DownstreamParams(**SMALL_DOWN)),
    (model.simulate_exact, model.ExactParams(instances=2)),
]


def test_bracketing_is_deterministic_with_provenance():
    params = model.BracketingParams(**SMALL, max_tasks=4)
    a, b = model.simulate_bracketing(params, 0), model.simulate_bracketing(params, 1)
    assert_labelled_with_provenance(a, params, STUDY)
    for v in a.data_vars:
        np.testing.assert_array_equal(a[v].values, b[v].values)


def test_one_task_umt_psr_equals_single_task():
    """N = 1: the joint class is the single-task class and beta is the same: identical curves."""
    a = model.simulate_upstream(model.UpstreamParams(**dict(SMALL_UP, tasks=1)), 5)
    b = model.simulate_upstream(model.UpstreamParams(**dict(SMALL_UP, tasks=1), learner="single-task"), 5)
    for name in ("width", "width_max", "value_error_max", "subopt_out", "covered", "plausible_shared", "beta"):
        np.testing.assert_array_equal(a[name].values, b[name].values)


def test_upstream_invariants():
    """Width in [0, 1] (a TV distance) with the largest task component between the mean and N times it; value
    errors and output suboptimality >= 0; the plausible shared set shrinks overall (not monotonically: the set is
    relative to the current maximum likelihood, not intersected over time); episodes = H k.  The optimistic
    baseline has gap >= subopt >= 0 while covered and no width."""
    ds = model.simulate_upstream(model.UpstreamParams(**dict(SMALL_UP, iterations=80)), 1)
    assert bool(ds.covered.all())
    w, wmax = ds.width.values, ds.width_max.values
    assert np.all((w >= 0) & (w <= 1)) and np.all((wmax >= w - 1e-15) & (wmax <= 2 * w + 1e-15))
    assert np.all(ds.value_error_max.values >= 0) and np.all(ds.subopt_out.values >= -1e-12)
    assert np.all(ds.subopt_out_max.values >= ds.subopt_out.values - 1e-15) and np.isnan(ds.gap.values).all()
    opt = model.simulate_upstream(model.UpstreamParams(**dict(SMALL_UP, iterations=80), learner="omle-optimistic"), 1)
    assert np.all(opt.subopt.values >= -1e-12) and np.all(opt.gap.values >= opt.subopt.values - 1e-12)
    assert np.isnan(opt.width.values).all()
    n = ds.plausible_shared.values
    assert n[0] == 21 and np.all((n >= 1) & (n <= 21)) and n[-1] < n[0]
    np.testing.assert_array_equal(ds.episodes.values, 3 * ds.iteration.values)
    assert float(ds.beta) == pytest.approx(np.log(21) + 2 * np.log(3) + np.log(10), rel=1e-12)


def test_identical_tasks_pool_into_one_class():
    """N identical tasks: one true model, the radius of the single-task class, every task explores with the
    same pair (largest component = mean)."""
    ds = model.simulate_upstream(model.UpstreamParams(**dict(SMALL_UP, tasks=3), identical_tasks=True), 2)
    assert float(ds.beta) == pytest.approx(np.log(21 * 3) + np.log(10), rel=1e-12)
    np.testing.assert_allclose(ds.width.values, ds.width_max.values, rtol=1e-15)   # (w + w + w) / 3
    np.testing.assert_array_equal(ds.subopt_out.values, ds.subopt_out_max.values)


def test_tv_table_is_half_the_policy_l1_distance():
    table = model.FamilyParams(**SMALL).table()
    tv = model.tv_table(table)
    assert tv[0, 5] == pytest.approx(0.5 * model.kernels.policy_l1(np.abs(table.leaf_p[0] - table.leaf_p[5]), 3,
                                                                     model.A, model.O), rel=1e-14)
    assert model.tv_table(table) is tv and not tv.flags.writeable


def test_downstream_without_upstream_data_is_learning_from_scratch():
    ds = model.simulate_downstream(model.DownstreamParams(**dict(SMALL_DOWN, upstream_iterations=0)), 2)
    for name in ("gap", "subopt", "covered", "beta", "log_class_size"):
        np.testing.assert_array_equal(ds[name].sel(learner="transfer").values, ds[name].sel(learner="scratch").values)
    assert float(ds.log_class_size.sel(learner="transfer")) == math.log(21 * 3)   # every shared value plausible


def test_downstream_violated_similarity_excludes_the_target():
    """A target whose shared parameter is far from the upstream tasks' fails the similarity constraint."""
    ds = model.simulate_downstream(model.DownstreamParams(**dict(SMALL_DOWN, upstream_iterations=200,
                                                                  target_shift=-15)), 0)
    assert not bool(ds.target_in_class)
    assert not bool(ds.covered.sel(learner="transfer").any())
    assert bool(ds.covered.sel(learner="scratch").all())


def test_class_table_holds_every_candidate_and_leaf_laws():
    p = model.FamilyParams(**SMALL)
    table = p.table()
    assert table.psi0.shape == (21 * 3, 3)
    n_sequences = model.A ** (p.horizon - 1)
    np.testing.assert_allclose(table.leaf_p.sum(axis=1), n_sequences, rtol=1e-12)
    T, E, mu = model.pomdp(table.shared[4], table.levels[2], p.initial)
    psi0, ops = model.to_psr(T, E, mu)
    np.testing.assert_array_equal(table.psi0[4 * 3 + 2], psi0)
    assert model.class_table(*[getattr(p, f) for f in model.FamilyParams.fields()]) is table   # cached
    with pytest.raises(ValueError):
        table.psi0[0, 0] = 1.0   # read-only: shared by every simulation of the sweep


def test_true_values_are_the_per_candidate_policy_values():
    """Evaluating each distinct optimal policy once gives the same numbers, bit for bit, as evaluating every
    candidate's policy."""
    table = model.FamilyParams(**SMALL).table()
    for ti, goal in ((4, 0), (31, 1)):
        _, pols = model.optimal_policies(table, goal, 0.2)
        R = model.reward_table(goal, 0.2)
        want = [kernels.policy_value(table.psi0[ti], table.ops[ti], R, pol, table.horizon) for pol in pols]
        np.testing.assert_array_equal(model.true_values(table, ti, goal, 0.2), want)
