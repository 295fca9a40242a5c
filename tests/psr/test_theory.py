"""Closed forms (class sizes, radii, crossing readout), the greedy bracket cover against an independent envelope
computation, the PSR form against the POMDP it comes from, and the exhaustive references' guards."""

import math

import numpy as np
import pytest

from theorylab.psr import kernels, model, reference, theory


def test_class_sizes_and_radii_closed_forms():
    assert theory.log_joint_size(351, 3, 8) == pytest.approx(math.log(351) + 8 * math.log(3), rel=1e-15)
    assert theory.log_product_size(351, 3, 8) == pytest.approx(8 * math.log(1053), rel=1e-15)
    assert theory.beta_joint(351, 3, 8, 0.1) == pytest.approx(math.log(351 * 3 ** 8 / 0.1), rel=1e-14)
    assert theory.beta_single(351, 3, 8, 0.1) == pytest.approx(math.log(1053 * 8 / 0.1), rel=1e-14)
    # one task: the joint class is the single-task class
    assert theory.beta_joint(351, 3, 1, 0.1) == pytest.approx(theory.beta_single(351, 3, 1, 0.1), rel=1e-15)
    # a + N b against N (a + b): the joint class is smaller for every N >= 2
    for n in range(2, 20):
        assert theory.log_joint_size(351, 3, n) < theory.log_product_size(351, 3, n)
    # per-task radius of the joint learner tends to log g_t
    assert theory.beta_joint(351, 3, 10 ** 6, 0.1) / 10 ** 6 == pytest.approx(math.log(3), rel=1e-4)


def test_crossing_is_exact_on_power_laws():
    """Log-log interpolation is exact for y = c x^-1/2: the crossing of level e is (c / e)^2."""
    x = np.arange(1, 2001, dtype=float)
    y = 3.0 / np.sqrt(x)
    assert theory.crossing(x, y, 0.1) == pytest.approx(900.0, rel=1e-12)
    assert theory.crossing(x, y, 0.0801) == pytest.approx((3 / 0.0801) ** 2, rel=1e-12)
    assert math.isnan(theory.crossing(x, y, 1e-3))
    assert theory.crossing(x, y, 5.0) == 1.0


@pytest.mark.parametrize("eta", [0.003, 0.02, 0.1])
def test_shared_groups_is_a_valid_maximal_cover(eta):
    """Each greedy run's bracket (envelope of its models, per level) has width <= eta by the NumPy recursion, and
    adding the next grid point would exceed eta for some level (maximal runs)."""
    p = model.FamilyParams(shared_points=41, horizon=3)
    table = p.table()
    P = table.leaf_p.reshape(table.g_s, table.g_t, -1)
    groups = theory.shared_groups(table.leaf_p, table.g_s, table.g_t, eta, 3)

    def width(a, b):
        return max(reference.policy_l1(P[a:b + 1, t].max(0) - P[a:b + 1, t].min(0), 3, 2, 3) for t in range(table.g_t))

    starts, start = [0], 0
    for s in range(1, table.g_s):
        if width(start, s) > eta:
            starts.append(s)
            start = s
    assert groups == len(starts)
    bounds = starts + [table.g_s]
    for a, b in zip(bounds[:-1], bounds[1:]):
        assert width(a, b - 1) <= eta
        if b < table.g_s:
            assert width(a, b) > eta


def test_shared_groups_counts_every_point_below_the_separation():
    p = model.FamilyParams(shared_points=21, horizon=3)
    table = p.table()
    D = kernels.distance_matrix(table.leaf_p, 3, 2, 3)
    sep = D[~np.eye(D.shape[0], dtype=bool)].min()
    assert theory.shared_groups(table.leaf_p, table.g_s, table.g_t, 0.5 * sep, 3) == table.g_s


@pytest.mark.parametrize("family", ["transition", "emission"])
def test_psr_form_reproduces_the_pomdp(family):
    """M[a, o] E = E T[a] diag(E[o]) (E^+ E = I); rank S; 1^T M[a, o] psi = psi[o]; psi0 = E mu is a distribution."""
    T, E, mu = model.pomdp(0.8, 0.7, 0.8)
    psi0, ops = model.to_psr(T, E, mu)
    assert psi0.sum() == pytest.approx(1.0, abs=1e-15) and np.all(psi0 > 0)
    for a in range(model.A):
        for o in range(model.O):
            np.testing.assert_allclose(ops[a, o] @ E, E @ T[a] @ np.diag(E[o]), atol=1e-15)
            assert np.linalg.matrix_rank(ops[a, o]) == model.S
            assert (ops[a, o] @ (E @ mu)).sum() == pytest.approx((E @ mu)[o], rel=1e-14)
    assert np.allclose(T.sum(axis=1), 1) and np.allclose(E.sum(axis=0), 1)


def test_to_psr_rejects_rank_deficient_emissions():
    T, E, mu = model.pomdp(0.8, 0.7, 0.8)
    E[:, 1] = E[:, 0]
    with pytest.raises(ValueError, match="^E must have full column rank"):
        model.to_psr(T, E, mu)


def test_enumerations_refuse_large_problems():
    T, E, mu = model.pomdp(0.8, 0.7, 0.8)
    with pytest.raises(ValueError, match="^horizon must keep"):
        theory.optimal_value_bruteforce(T, E, mu, np.ones((3, 2)), 3)
    with pytest.raises(ValueError, match="^horizon must keep"):
        theory.policy_l1_bruteforce(np.ones(3 ** 4 * 8), 4, 2, 3)


def test_optimal_value_closed_form_with_perfect_observations_and_transitions():
    """p = 1, alpha = 1: the state is observed and actions are certain; from s = 1 with goal 0 and no switching cost
    the optimum switches once: return 0 + (H - 1) (reward 1 per step in the goal state)."""
    T, E, mu = model.pomdp(1.0, 1.0, 0.0)    # start in state 1
    E = np.vstack([E[:2], np.full((1, 2), 0.0)])
    E[2] = 1e-12                              # keep E full rank and every column a distribution
    E /= E.sum(axis=0)
    psi0, ops = model.to_psr(T, E, mu)
    value, _ = kernels.plan(psi0, ops, model.reward_table(0, 0.0), 4)
    assert value == pytest.approx(3.0, abs=1e-9)


def test_core_task_count_matches_enumeration_of_tuples():
    """Oracle: enumerate every N-tuple over M models and count those using at most m distinct models."""
    import itertools

    for M, N, m in ((5, 4, 2), (4, 5, 3), (6, 3, 1), (3, 2, 4)):
        want = sum(len(set(t)) <= m for t in itertools.product(range(M), repeat=N))
        assert theory.core_task_tuples(M, N, m) == want
    assert theory.surjections(5, 3) == 150 and theory.surjections(4, 4) == 24 and theory.surjections(3, 4) == 0
