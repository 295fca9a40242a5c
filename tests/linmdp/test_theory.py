"""Closed forms of the linear-MDP study against exact optima: the inherent Bellman error of the shared map
as a linear program (scipy.optimize.linprog), value iteration against the Numba kernel."""

import numpy as np
import pytest
from scipy.optimize import linprog

from theorylab.linmdp import kernels, model, theory


def sup_norm_fit(Phi: np.ndarray, target: np.ndarray) -> float:
    """Exact optimum min_w max_(s, a) |target - Phi w| as a linear program in (w, t): minimise t subject to
    -t <= target - Phi w <= t."""
    X = Phi.reshape(-1, Phi.shape[-1])
    y = target.reshape(-1)
    n, d = X.shape
    c = np.r_[np.zeros(d), 1.0]
    A = np.block([[-X, -np.ones((n, 1))], [X, -np.ones((n, 1))]])
    b = np.r_[-y, y]
    res = linprog(c, A_ub=A, b_ub=b, bounds=[(None, None)] * d + [(0, None)], method="highs")
    assert res.status == 0
    return float(res.fun)


@pytest.mark.parametrize("eps", [0.0, 0.05, 0.3])
def test_inherent_bellman_error_within_the_stated_bound(eps):
    """For V in [0, H - 1]^S (including every task's V*_{h+1}), the best sup-norm fit of T V on phi* is <= eps H / 2
    (0 at eps = 0); the simulator's least-squares sup and rms residuals bracket that exact optimum."""
    p = model.LinMDPParams(tasks=2, states=6, actions=3, horizon=5, misspec=eps, candidates=6)
    env = model.make_environment(p, 2)
    rng = np.random.default_rng(0)
    worst = 0.0
    for i in range(p.tasks):
        values = list(theory.optimal_values(env.P[i], env.R[i], p.horizon)[1:]) + \
            list(rng.uniform(0, p.horizon - 1, size=(10, p.states)))
        for V in values:
            target = theory.backup(env.P[i], env.R[i], V)
            exact = sup_norm_fit(env.phi, target)
            assert theory.projection_residual(env.phi, target, "sup") >= exact - 1e-9      # an upper bound
            assert theory.projection_residual(env.phi, target, "rms") <= exact + 1e-9      # a lower bound
            worst = max(worst, exact)
    assert worst <= theory.bellman_error_bound(eps, p.horizon) + 1e-9
    if eps == 0:
        assert worst < 1e-9
    else:
        assert worst > 0.05 * theory.bellman_error_bound(eps, p.horizon)   # the mixture really is misspecified


def test_wrong_maps_have_large_bellman_error():
    """Negative control of the class: every other map of Phi has an inherent Bellman error far above phi*'s 0."""
    p = model.LinMDPParams(tasks=1, states=6, actions=3, horizon=5, candidates=10)
    env = model.make_environment(p, 4)
    target = theory.backup(env.P[0], env.R[0], theory.optimal_values(env.P[0], env.R[0], p.horizon)[1])
    wrong = [c for j, c in enumerate(env.candidates) if j != env.true_index]
    errors = [sup_norm_fit(c, target) for c in wrong]
    assert min(errors) > 0.05
    for c, err in zip(wrong, errors):
        assert theory.projection_residual(c, target, "rms") <= err + 1e-9


def test_value_iteration_matches_kernel():
    p = model.LinMDPParams(tasks=3, states=5, actions=4, horizon=6, candidates=4)
    env = model.make_environment(p, 1)
    for i in range(3):
        np.testing.assert_allclose(theory.optimal_values(env.P[i], env.R[i], 6),
                                   kernels.optimal_values(env.P[i], env.R[i], 6), rtol=1e-13)


def test_projection_residual_closed_form():
    """A target in the span has residual 0; adding a component orthogonal to the span adds its sup norm."""
    rng = np.random.default_rng(3)
    Phi = rng.dirichlet(np.ones(2), size=(4, 3))
    X = Phi.reshape(-1, 2)
    w = np.array([0.3, -1.2])
    assert theory.projection_residual(Phi, Phi @ w) < 1e-12
    q, _ = np.linalg.qr(np.c_[X, rng.normal(size=12)])
    ortho = q[:, 2].reshape(4, 3)
    np.testing.assert_allclose(theory.projection_residual(Phi, Phi @ w + ortho), np.abs(ortho).max(), rtol=1e-9)


def test_simulator_bounds_bracket_the_exact_error():
    """The Dataset's upper bound for phi* and lower bound for the wrong maps against the linear program's exact
    sup-norm errors over the same value functions."""
    p = model.LinMDPParams(tasks=2, states=5, actions=3, horizon=4, misspec=0.1, candidates=4)
    env = model.make_environment(p, 1)
    upper, lower = model.bellman_residuals(p, env, 0)
    values = model.bellman_test_values(p, env, 0)

    def exact(Phi):
        return max(sup_norm_fit(Phi, theory.backup(env.P[i], env.R[i], V)) for i in range(2) for V in values[i])

    true_error = exact(env.phi)
    assert true_error - 1e-9 <= upper <= theory.bellman_error_bound(0.1, 4) + 1e-12
    assert lower <= min(exact(c) for j, c in enumerate(env.candidates) if j != env.true_index) + 1e-9
    assert lower > 0.05


def test_bellman_error_bound():
    assert theory.bellman_error_bound(0.0, 5) == 0.0
    assert theory.bellman_error_bound(0.1, 6) == pytest.approx(0.3)
