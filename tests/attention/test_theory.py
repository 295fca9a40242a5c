"""Closed forms against scipy quadrature and Monte Carlo: Gegenbauer norms, the target bank, the invariant
floor, the arc-cosine moment, the RFA / biased-RFA / MLP limit kernels."""

import numpy as np
import pytest
from scipy import integrate, special

from theorylab.attention import kernels, model, theory


def _mc_tol(x: np.ndarray) -> float:
    """4 standard errors of a sample mean (two-sided chance < 1e-4)."""
    return 4 * x.std() / np.sqrt(x.size)


@pytest.mark.parametrize("d", [3, 4, 6, 8, 16])
@pytest.mark.parametrize("k", range(7))
def test_gegenbauer_norm_matches_quadrature(k, d):
    """Closed-form E[C_k^alpha(t)^2] against scipy.quad of C_k^2 under the density of <u, v> on S^{d-1}."""
    a = (d - 2) / 2
    weight = lambda t: (1 - t * t) ** ((d - 3) / 2)  # noqa: E731
    num, _ = integrate.quad(lambda t: special.eval_gegenbauer(k, a, t) ** 2 * weight(t), -1, 1, epsabs=0, epsrel=1e-12)
    den, _ = integrate.quad(weight, -1, 1, epsabs=0, epsrel=1e-12)
    assert theory.gegenbauer_norm_sq(k, d) == pytest.approx(num / den, rel=1e-9)


def test_gegenbauer_special_cases():
    """d = 3: Legendre, E[P_k^2] = 1/(2k + 1); Q_1(t) = sqrt(d) t for every d."""
    for k in range(6):
        assert theory.gegenbauer_norm_sq(k, 3) == pytest.approx(1 / (2 * k + 1), rel=1e-12)
    t = np.linspace(-1, 1, 11)
    for d in (3, 5, 8):
        np.testing.assert_allclose(theory.gegenbauer_unit(1, d, t), np.sqrt(d) * t, rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="^d must be >= 3"):
        theory.gegenbauer_norm_sq(2, 2)


@pytest.mark.parametrize("N, d", [(4, 3), (6, 8)])
def test_targets_have_mean_zero_unit_variance_and_are_uncorrelated(N, d):
    """Monte Carlo (200k sequences, 4 standard errors): every target has mean 0 and variance 1; the
    correlation targets of different degrees are uncorrelated (Gegenbauer orthogonality)."""
    q, k = model.sample_sequences(np.random.default_rng(N + d), 200_000, N, d)
    f = theory.target_bank(theory.TARGETS, q, k)
    for j, name in enumerate(theory.TARGETS):
        x = f[:, j]
        assert abs(x.mean()) <= _mc_tol(x), name
        assert abs((x**2).mean() - 1) <= _mc_tol(x**2), name
    for a in range(4):
        for b in range(a + 1, 4):
            prod = f[:, a] * f[:, b]
            assert abs(prod.mean()) <= _mc_tol(prod), (a, b)


def test_unknown_target_raises():
    q, k = model.sample_sequences(np.random.default_rng(0), 3, 2, 4)
    with pytest.raises(ValueError, match="^target must be one of"):
        theory.target_values("corr0", q, k)


@pytest.mark.parametrize("N", [2, 4, 8])
def test_invariant_floor_is_attained_by_the_symmetrisation(N):
    """The best invariant predictor of sqrt(d) <x_0, x_1> is sqrt(d) mean_i <x_0, x_i>: error 1 - 1/N (MC)."""
    d = 6
    q, k = model.sample_sequences(np.random.default_rng(N), 200_000, N, d)
    ctrl = theory.target_values("ctrl", q, k)
    sym = np.sqrt(d) * np.einsum("sd,sid->s", q, k) / N
    err = (ctrl - sym) ** 2
    assert abs(err.mean() - theory.invariant_floor(N)) <= _mc_tol(err)
    # and the symmetrisation is invariant while the control is not
    perm = model.permute_keys(np.random.default_rng(1), k[:100])
    assert not np.allclose(theory.target_values("ctrl", q[:100], perm), ctrl[:100])
    np.testing.assert_allclose(np.sqrt(d) * np.einsum("sd,sid->s", q[:100], perm) / N, sym[:100], rtol=1e-12)


@pytest.mark.parametrize("s1, s2, rho", [(1.0, 1.0, 0.0), (2.0, 0.5, 0.3), (1.5, 1.5, -0.7), (1.0, 2.0, 0.999)])
def test_relu_moment_zero_mean_matches_arccos_formula(s1, s2, rho):
    """Quadrature of the conditional moment against s1 s2 J(rho) / (2 pi) (independent derivations)."""
    assert theory.relu_moment(0.0, 0.0, s1, s2, rho) == pytest.approx(s1 * s2 * theory.arccos_j(rho) / (2 * np.pi),
                                                                      rel=1e-8)


@pytest.mark.parametrize("m1, m2, s1, s2, rho", [(0.5, -0.3, 1.0, 2.0, 0.4), (2.0, 1.0, 2.0, 2.0, 0.9),
                                                 (-1.0, 0.5, 1.0, 1.0, -0.2)])
def test_relu_moment_with_means_matches_monte_carlo(m1, m2, s1, s2, rho):
    rng = np.random.default_rng(0)
    z = rng.standard_normal((2, 1_000_000))
    u = m1 + s1 * z[0]
    v = m2 + s2 * (rho * z[0] + np.sqrt(1 - rho * rho) * z[1])
    x = np.maximum(u, 0) * np.maximum(v, 0)
    assert abs(theory.relu_moment(m1, m2, s1, s2, rho) - x.mean()) <= _mc_tol(x)


def test_closed_form_kernel_matches_quadrature():
    """kernels.rfa_kernel (arc-cosine closed form) against the quadrature kernel with zero mean."""
    q, k = model.sample_sequences(np.random.default_rng(5), 4, 3, 5)
    K = kernels.rfa_kernel(q, k, q, k, np.empty((4, 4)))
    for a, b in [(0, 0), (0, 1), (2, 3)]:
        assert K[a, b] == pytest.approx(theory.attention_kernel_quad((q[a], k[a]), (q[b], k[b])), rel=1e-8)


@pytest.mark.parametrize("mu", [0.0, 2.0])
def test_feature_gram_converges_to_the_limit_kernel(mu):
    """Monte Carlo over 40000 heads: Phi Phi^T within 5 standard errors of the limit kernel (closed form for
    mu = 0, quadrature for the biased heads W = mu sqrt(d) blockdiag(I, 0) + G)."""
    d, N, M, chunks = 5, 3, 4000, 10
    q, k = model.sample_sequences(np.random.default_rng(7), 3, N, d)
    rng = np.random.default_rng(8)
    grams = np.array([(lambda F: F @ F.T)(model.rfa_features(q, k, model.draw_heads(rng, M, d, mu)))
                      for _ in range(chunks)])     # 10 independent estimates, each from 4000 heads
    mean, se = grams.mean(axis=0), grams.std(axis=0, ddof=1) / np.sqrt(chunks)
    for a, b in [(0, 0), (0, 1), (1, 2)]:
        exact = theory.attention_kernel_quad((q[a], k[a]), (q[b], k[b]), mean_scale=mu * np.sqrt(d))
        assert abs(mean[a, b] - exact) <= 5 * se[a, b], (a, b, mean[a, b], exact, se[a, b])


def test_mlp_kernel_matches_random_features():
    """J(<z, z'>) / (2 pi) against the Gram of 200000 ReLU units (5 standard errors), and 1/2 on the diagonal."""
    q, k = model.sample_sequences(np.random.default_rng(3), 4, 3, 4)
    z = theory.mlp_inputs(q, k)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, rtol=1e-14)
    exact = theory.mlp_kernel(z, z)
    np.testing.assert_allclose(np.diag(exact), 0.5, rtol=1e-14)
    rng = np.random.default_rng(4)
    ests = np.array([(lambda F: F @ F.T)(model.rfmlp_features(z, rng.standard_normal((20_000, z.shape[1]))))
                     for _ in range(10)])
    se = ests.std(axis=0, ddof=1) / np.sqrt(10)
    assert np.all(np.abs(ests.mean(axis=0) - exact) <= 5 * se)
