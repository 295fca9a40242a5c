"""Bound scalings and log-covering numbers against their closed forms."""

import numpy as np
import pytest

from theorylab.bandits import theory

T = np.array([10.0, 100.0, 1000.0])


def test_per_task_bound_single_task_limit_and_m_dependence():
    """M = 1 gives sqrt(T d_E beta_T(1)); the per-task scale falls with M towards sqrt(T d_E k log(...))."""
    log_cov, lid = np.log(128.0), np.log(20.0)
    one = theory.per_task_bound_scaling(T, 1, 2, 1.0, log_cov, lid)
    d_e = 2 * np.log1p(T / 2)
    np.testing.assert_allclose(one, np.sqrt(T * d_e * (d_e + 2 * (log_cov + lid))), rtol=1e-14)
    values = [theory.per_task_bound_scaling(T, m, 2, 1.0, log_cov, lid) for m in (1, 4, 16, 1024)]
    assert np.all(np.diff(np.array(values), axis=0) < 0)
    np.testing.assert_allclose(values[-1], np.sqrt(T * d_e * d_e), rtol=0.02)


def test_log_covering():
    assert theory.log_covering("finite", 128, 8, 2, 100.0) == pytest.approx(np.log(128))
    assert theory.log_covering("lowrank", 1, 8, 2, 100.0) == pytest.approx(16 * np.log(101))


def _random_members(rep_class, n, dim, rep_dim, radius, rng):
    if rep_class == "lowrank":
        U = rng.normal(size=(n, rep_dim, dim))
        return U / np.linalg.norm(U, axis=-1, keepdims=True)
    W = rng.normal(size=(n, rep_dim * dim))
    W *= radius * rng.random(n)[:, None] ** (1 / (rep_dim * dim)) / np.linalg.norm(W, axis=1, keepdims=True)
    # half of them on the boundary sphere, where a grid covers worst
    W[: n // 2] *= radius / np.linalg.norm(W[: n // 2], axis=1, keepdims=True)
    return W.reshape(n, rep_dim, dim)


@pytest.mark.parametrize("rep_class, dim, rep_dim, eps", [("lowrank", 4, 1, 0.2), ("lowrank", 4, 1, 0.25),
                                                          ("lowrank", 3, 1, 0.1), ("neural", 3, 1, 0.2),
                                                          ("neural", 3, 1, 0.25), ("neural", 2, 2, 0.3)])
def test_epsilon_net_covers_phi_at_the_stated_eps(rep_class, dim, rep_dim, eps):
    """Max over 20000 random members of Phi (uniform lines; uniform ball plus its boundary sphere) of the
    distance to the nearest net point is at most eps; and the net is not trivially dense (a net at 1.6 eps
    leaves some member farther than eps, so the check can fail)."""
    rng = np.random.default_rng(0)
    pts = _random_members(rep_class, 20000, dim, rep_dim, 1.5, rng)
    net = theory.epsilon_net(rep_class, dim, rep_dim, eps, 1.5)
    assert len(net) <= theory.net_size_bound(rep_class, dim, rep_dim, eps, 1.5)
    gap = np.concatenate([theory.net_distance(rep_class, c, net).min(axis=1) for c in np.array_split(pts, 10)])
    assert gap.max() <= eps
    coarse = theory.epsilon_net(rep_class, dim, rep_dim, 1.6 * eps, 1.5)
    gap_coarse = np.concatenate([theory.net_distance(rep_class, c, coarse).min(axis=1)
                                 for c in np.array_split(pts, 10)])
    assert gap_coarse.max() > eps


def test_net_distance_bounds_the_reward_change():
    """The metric is what the radius assumes: |theta . phi_u(x) - theta' . phi_v(x)| <= |theta| dist(u, v)
    for unit x, with theta' = (v . u) theta for lines and theta' = theta for tanh maps."""
    rng = np.random.default_rng(1)
    for rep_class in ("lowrank", "neural"):
        A = _random_members(rep_class, 300, 4, 1, 1.5, rng)
        B = _random_members(rep_class, 300, 4, 1, 1.5, rng)
        X = rng.normal(size=(300, 4))
        X /= np.linalg.norm(X, axis=1, keepdims=True)
        dist = np.diag(theory.net_distance(rep_class, A, B))
        fa, fb = np.einsum("nkd,nd->n", A, X), np.einsum("nkd,nd->n", B, X)
        if rep_class == "lowrank":
            diff = fa - np.einsum("nkd,nkd->n", A, B) * fb
        else:
            diff = np.tanh(fa) - np.tanh(fb)
        assert np.all(np.abs(diff) <= dist + 1e-12)


def test_oful_bound_closed_form():
    """Abbasi-Yadkori et al. (2011) Thm. 3 with L = 1: 4 sqrt(T k log(lam + T/k)) sqrt(beta)."""
    got = theory.oful_regret_bound(100.0, 0.5, 2, 1.0, np.log(20.0), 1.0)
    want = 4 * np.sqrt(100 * 2 * np.log(1 + 50)) * (1 + 0.5 * np.sqrt(2 * np.log(20) + 2 * np.log(1 + 50)))
    assert got == pytest.approx(want, rel=1e-14)
    bound = theory.oful_regret_bound(T, 0.5, 2, 1.0, 3.0, 1.0)
    assert np.all(np.diff(bound / np.sqrt(T)) > 0) and np.all(np.diff(bound / T) < 0)   # sqrt(T) log T
