"""Numba kernels of the linear-MDP study against their plain-NumPy twins (oracle: theorylab.linmdp.reference),
an exhaustive search over all deterministic policies, fresh matrix inverses and numpy's own sampler."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from theorylab.linmdp import kernels, model, reference

REC = np.array([1, 3, 7, 12, 20])


def _mdp(seed, M=2, S=3, A=2):
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.full(S, 0.5), size=(M, S, A))
    R = rng.uniform(size=(M, S, A))
    return P, R


def _cum(x):
    c = np.cumsum(x, axis=-1)
    c[..., -1] = 1.0
    return c


def _assert_same(got, want):
    """Counts and regrets: the same choices are made, so floats agree to rounding (inverse vs Sherman-Morrison,
    summation order)."""
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-9)


# --- randomness and sampling ----------------------------------------------------------------------

@njit
def _uniforms(seed, n):
    np.random.seed(seed)   # Numba's generator is seeded from compiled code only
    out = np.empty(n)
    for c in range(n):
        out[c] = np.random.random()
    return out


def test_uniforms_match_randomstate():
    """Oracle: np.random.RandomState(seed).random_sample, the twin's stream."""
    np.testing.assert_array_equal(_uniforms(5, 1000), np.random.RandomState(5).random_sample(1000))


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), u=st.floats(0.0, 1.0, exclude_max=True))
def test_inverse_cdf_matches_searchsorted(seed, u):
    cum = _cum(np.random.default_rng(seed).dirichlet(np.ones(5)))
    assert kernels.inverse_cdf(cum, u) == reference.inverse_cdf(cum, u)


def test_inverse_cdf_samples_the_law():
    """Chi-square goodness of fit of 20000 inverse-CDF draws (df = 5; 30 is far beyond the 0.999 quantile 20.5)."""
    p = np.array([0.05, 0.3, 0.1, 0.25, 0.2, 0.1])
    u = np.random.default_rng(0).uniform(size=20_000)
    counts = np.bincount([kernels.inverse_cdf(_cum(p), x) for x in u], minlength=6)
    chi2 = np.sum((counts - 20_000 * p) ** 2 / (20_000 * p))
    assert chi2 < 30


# --- dynamic programming ---------------------------------------------------------------------------

def test_optimal_values_equal_the_best_deterministic_policy():
    """Exact optimum by enumeration: V*(s) = max over all A^(S H) deterministic policies of V^pi(s)."""
    P, R = _mdp(1, M=1, S=2, A=3)
    H = 3
    Vstar = kernels.optimal_values(P[0], R[0], H)
    best = np.full(2, -np.inf)
    for flat in itertools.product(range(3), repeat=2 * H):
        pol = np.array(flat, np.int64).reshape(H, 2)
        V = kernels.policy_values(P[0], R[0], pol)
        np.testing.assert_allclose(V, reference.policy_values(P[0], R[0], pol), rtol=1e-14)
        best = np.maximum(best, V[0])
    np.testing.assert_allclose(Vstar[0], best, rtol=1e-14)
    np.testing.assert_allclose(Vstar, reference.optimal_values(P[0], R[0], H), rtol=1e-14)


def test_policy_value_matches_monte_carlo():
    """V^pi(s0) of a random policy against the mean of 40000 simulated returns (5 standard errors)."""
    P, R = _mdp(2, M=1, S=4, A=2)
    H = 4
    pol = np.random.default_rng(3).integers(0, 2, size=(H, 4))
    V = kernels.policy_values(P[0], R[0], pol)[0, 0]
    rng = np.random.default_rng(4)
    n = 40_000
    s = np.zeros(n, np.int64)
    ret = np.zeros(n)
    cum = _cum(P[0])
    for h in range(H):
        a = pol[h, s]
        ret += rng.uniform(size=n) < R[0, s, a]
        u = rng.uniform(size=n)
        s = np.minimum((u[:, None] >= cum[s, a]).sum(axis=1), 3)
    assert abs(ret.mean() - V) < 5 * ret.std() / np.sqrt(n)


# --- linear algebra and value iteration ------------------------------------------------------------

def test_lsvi_matches_twin():
    rng = np.random.default_rng(6)
    S, A, d, H = 4, 3, 2, 5
    Phi = rng.dirichlet(np.ones(d), size=(S, A))
    counts = rng.integers(0, 4, size=(S, A, S)).astype(float)
    rsum = rng.uniform(0, 1, size=(S, A)) * counts.sum(axis=2)
    X = Phi.reshape(-1, d)
    Linv = np.linalg.inv(0.1 * np.eye(d) + (X.T * counts.sum(axis=2).reshape(-1)) @ X)
    Q = np.empty((H, S, A))
    V0 = kernels.lsvi(Phi, Linv, counts, rsum, H, 0.7, Q)
    want = reference.lsvi(Phi, Linv, counts, rsum, H, 0.7)
    np.testing.assert_allclose(Q, want, rtol=1e-12)
    np.testing.assert_allclose(V0, want[0].max(axis=1), rtol=1e-12)
    assert np.all(Q <= (H - np.arange(H))[:, None, None] + 1e-12)     # clipped at the steps left


def test_radii_match_twin():
    for args in [(2, 0.0, 0.1, 3.0, 5), (18, 500.0, 1.0, 7.0, 6)]:
        assert kernels.lsvi_radius(*args) == pytest.approx(reference.lsvi_radius(*args), rel=1e-14)
    for args in [(2, 0.0, 0.1, 3.0, 1, 7), (3, 400.0, 0.5, 5.0, 16, 9)]:
        assert kernels.representation_threshold(*args) == pytest.approx(reference.representation_threshold(*args),
                                                                         rel=1e-14)


# --- the whole learner -----------------------------------------------------------------------------

def _learner_args(seed, shared, kind, M=3, S=4, A=2, H=3, N=5, episodes=20, misspec=0.0):
    p = model.LinMDPParams(tasks=M, states=S, actions=A, horizon=H, candidates=N, rep_dim=2, episodes=episodes,
                           misspec=misspec, bonus_scale=0.3)
    env = model.make_environment(p, seed)
    feats, true_index = model.learner_features(env, kind)
    return (seed, episodes, H, env.P, _cum(env.P), env.R, env.rho, _cum(env.rho), np.ascontiguousarray(feats),
            true_index, shared, p.lam, p.bonus_scale, 0.05, float(np.log(M / p.delta)), REC)


@pytest.mark.parametrize("seed, shared, kind", [(0, True, "shared"), (1, False, "single"), (2, True, "shared"),
                                                (3, False, "oracle"), (4, False, "tabular")])
def test_run_lsvi_matches_twin(seed, shared, kind):
    """The whole learner, Numba against NumPy, with a small representation threshold (rep_scale 0.05) so that
    the confidence set shrinks and the choice among maps is exercised."""
    args = _learner_args(seed, shared, kind)
    got = kernels.run_lsvi(*args)
    want = reference.run_lsvi(*args)
    _assert_same(got, want)
    kept = got[1]
    if kind in ("shared", "single"):
        assert kept.min() < kept.max(), "the representation set never changed: the choice is not exercised"


def test_run_lsvi_matches_twin_misspecified():
    args = _learner_args(7, True, "shared", misspec=0.3)
    _assert_same(kernels.run_lsvi(*args), reference.run_lsvi(*args))
