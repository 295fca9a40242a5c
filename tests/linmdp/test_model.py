"""Linear-MDP simulator: validation before compute, determinism, provenance, layout (shared checks in
tests/study_contract.py), and the invariants of the construction."""

import numpy as np

from theorylab.linmdp import model, theory
from tests.study_contract import (test_bad_parameters_raise_naming_them,  # noqa: F401 (shared checks)
                                  test_provenance_and_labelled_layout,
                                  test_same_seed_identical_other_seed_different)

STUDY = "linmdp"

SMALL = dict(tasks=2, episodes=12, states=3, actions=2, horizon=3, rep_dim=2, candidates=4, n_records=5)

SIMULATORS = [(model.simulate_linmdp, model.LinMDPParams(**SMALL)),
              (model.simulate_linmdp, model.LinMDPParams(**SMALL, misspec=0.2, algorithms=("shared", "tabular")))]

BAD_PARAMETERS = [
    (model.LinMDPParams, {"tasks": 0}, "tasks"),
    (model.LinMDPParams, {"episodes": 1}, "episodes"),
    (model.LinMDPParams, {"states": 1}, "states"),
    (model.LinMDPParams, {"horizon": 0}, "horizon"),
    (model.LinMDPParams, {"candidates": 0}, "candidates"),
    (model.LinMDPParams, {"spread": 0.0}, "spread"),
    (model.LinMDPParams, {"misspec": 1.0}, "misspec"),
    (model.LinMDPParams, {"lam": 0.0}, "lam"),
    (model.LinMDPParams, {"delta": 1.0}, "delta"),
    (model.LinMDPParams, {"algorithms": ("shared", "shared")}, "algorithms"),
    (model.LinMDPParams, {"algorithms": ("shared", "q_learning")}, "algorithms"),
    # sizes beyond memory: ridge statistics of every candidate in every task, the class, the tabular features
    (model.LinMDPParams, {"tasks": 64, "candidates": 4096, "rep_dim": 16}, "candidates"),
    (model.LinMDPParams, {"candidates": 4096, "states": 64, "actions": 16, "rep_dim": 16}, "candidates"),
    (model.LinMDPParams, {"tasks": 64, "states": 64, "actions": 16, "candidates": 1}, "states"),
]


def test_tasks_are_linear_mdps_in_the_true_features():
    """Rows are distributions; at eps = 0 the backup of any V is exactly phi* . (theta + mu V) (zero inherent
    Bellman error) and a wrong map of the class cannot represent it."""
    p = model.LinMDPParams(tasks=3, states=5, actions=3, rep_dim=2, candidates=8)
    env = model.make_environment(p, 0)
    np.testing.assert_allclose(env.P.sum(axis=-1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(env.phi.sum(axis=-1), 1.0, rtol=1e-14)
    assert np.all((env.R >= 0) & (env.R <= 1))
    np.testing.assert_array_equal(env.candidates[env.true_index], env.phi)
    V = np.random.default_rng(1).uniform(0, 4, size=5)
    for i in range(3):
        np.testing.assert_allclose(theory.backup(env.P[i], env.R[i], V), env.phi @ (env.theta[i] + env.mu[i] @ V),
                                   rtol=1e-12)
    wrong = [j for j in range(8) if j != env.true_index]
    assert min(theory.projection_residual(env.candidates[j], theory.backup(env.P[0], env.R[0], V))
               for j in wrong) > 1e-2


def test_more_tasks_keep_the_tasks_of_fewer():
    """Common random numbers across M: a run with 4 tasks has the 2-task run's class and tasks as its first two."""
    small = model.make_environment(model.LinMDPParams(tasks=2), 5)
    big = model.make_environment(model.LinMDPParams(tasks=4), 5)
    np.testing.assert_array_equal(small.candidates, big.candidates)
    np.testing.assert_array_equal(small.P, big.P[:2])
    np.testing.assert_array_equal(small.R, big.R[:2])


def test_regret_is_nonnegative_nondecreasing_and_bounded():
    """Per-episode regret rho.(V* - V^pi) lies in [0, H]: cumulative regret is monotone and at most H per episode."""
    ds = model.simulate_linmdp(model.LinMDPParams(**SMALL), 1)
    r = ds.regret.values
    assert np.all(r >= -1e-12) and np.all(np.diff(r, axis=-1) >= -1e-12)
    assert np.all(r <= 3 * ds.episode.values)
    assert np.all(ds.regret_worst >= ds.regret - 1e-12)
    np.testing.assert_allclose(ds.n_kept.sel(algorithm=["oracle", "tabular"]), 1.0)
    np.testing.assert_allclose(ds.frac_true.sel(algorithm="oracle"), 1.0)


def test_misspecified_tasks_stay_within_the_bellman_error_bound():
    """The witness of theory.bellman_witness leaves a remainder <= eps (1 + max V) / 2 <= eps H / 2."""
    p = model.LinMDPParams(tasks=2, states=6, actions=3, horizon=5, misspec=0.2)
    env = model.make_environment(p, 3)
    rng = np.random.default_rng(0)
    for i in range(2):
        for _ in range(20):
            V = rng.uniform(0, p.horizon - 1, size=6)
            w = theory.bellman_witness(env.phi, env.mu[i], env.theta[i], p.misspec, V)
            gap = np.abs(theory.backup(env.P[i], env.R[i], V) - env.phi @ w).max()
            assert gap <= p.misspec * (1 + V.max()) / 2 + 1e-12
            assert gap <= theory.bellman_error_bound(p.misspec, p.horizon) + 1e-12
