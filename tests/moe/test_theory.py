"""Exact comparators (assignment LP, dual prices, Gumbel closed forms) against brute force, the Hungarian
algorithm, Monte-Carlo and finite differences."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from theorylab.moe import kernels, theory


def _gamma(seed, T, E, scale=1.0):
    rng = np.random.default_rng(seed)
    return scale * rng.normal(size=(T, E)) + 0.5 * scale * rng.normal(size=E)


# --- assignment LP ---------------------------------------------------------------------------------

@pytest.mark.parametrize("T, E, K", [(4, 4, 1), (4, 4, 2), (4, 4, 3), (6, 3, 1), (6, 3, 2), (3, 6, 2), (4, 2, 1)])
@pytest.mark.parametrize("seed", range(3))
def test_lp_equals_bruteforce_integer_optimum(T, E, K, seed):
    """Total unimodularity: the box-constrained LP optimum equals the 0/1 optimum found by enumeration."""
    gamma = _gamma(seed, T, E)
    lp = theory.assignment_lp(gamma, K)
    assert lp.value == pytest.approx(theory.assignment_bruteforce(gamma, K), rel=1e-12, abs=1e-12)
    assert lp.integrality_error == 0.0
    L = theory.target_load(T, E, K)
    np.testing.assert_array_equal(lp.x.sum(axis=1), K)
    np.testing.assert_array_equal(lp.x.sum(axis=0), L)


@pytest.mark.parametrize("T, E, K, loads", [(4, 4, 2, [4, 2, 1, 1]), (5, 3, 1, [3, 0, 2]), (4, 5, 3, [4, 4, 2, 1, 1])])
@pytest.mark.parametrize("seed", range(3))
def test_lp_with_prescribed_loads_equals_bruteforce(T, E, K, loads, seed):
    """Unequal expert loads: the LP optimum equals enumeration over assignments with exactly those loads."""
    gamma = _gamma(seed, T, E)
    lp = theory.assignment_lp(gamma, K, np.array(loads))
    assert lp.value == pytest.approx(theory.assignment_bruteforce(gamma, K, np.array(loads)), rel=1e-12, abs=1e-12)
    np.testing.assert_array_equal(lp.x.sum(axis=0), loads)


@pytest.mark.parametrize("K", [1, 3])
@pytest.mark.parametrize("seed", range(3))
def test_topk_routing_is_the_best_routing_with_its_own_loads(K, seed):
    """Everett: top-K of gamma + p maximises affinity among all routings with the loads it produces (LP)."""
    gamma = _gamma(seed, 240, 8)
    bias = np.random.default_rng(seed + 100).normal(scale=0.5, size=8)
    sel, loads = np.empty((240, K), np.int64), np.zeros(8, np.int64)
    kernels.route_topk(gamma, bias, K, sel, loads)
    affinity = np.take_along_axis(gamma, sel, axis=1).sum()
    assert theory.assignment_lp(gamma, K, loads).value == pytest.approx(affinity, rel=1e-12)


def test_prescribed_loads_are_validated():
    with pytest.raises(ValueError, match="loads must be"):
        theory.assignment_lp(np.zeros((4, 4)), 2, np.array([4, 4, 0, 1]))


@pytest.mark.parametrize("seed", range(3))
def test_lp_equals_hungarian_for_k1(seed):
    """K = 1: scipy's linear_sum_assignment on the column-replicated matrix gives the same optimum."""
    gamma = _gamma(seed, 96, 8)
    lp, lsa = theory.assignment_lp(gamma, 1), theory.assignment_lsa(gamma)
    assert lp.value == pytest.approx(lsa.value, rel=1e-12)
    np.testing.assert_array_equal(lsa.x.sum(axis=0), 12)


@pytest.mark.parametrize("T, E, K", [(120, 6, 2), (256, 16, 3)])
def test_lp_dual_prices_are_optimal(T, E, K):
    """Strong duality D(p*) = OPT (1e-9 relative), and x* is a top-K response to p* (clearing prices)."""
    gamma = _gamma(7, T, E)
    lp = theory.assignment_lp(gamma, K)
    assert theory.dual_function(gamma, lp.prices, K) == pytest.approx(lp.value, rel=1e-9)
    W = theory.price_constraints(gamma, lp.sel)
    assert theory.in_price_set(W, lp.prices, atol=1e-9)
    assert np.all(theory.token_gaps(gamma, lp.sel, lp.prices) >= -1e-9)
    assert abs(lp.prices.sum()) < 1e-9


def test_max_margin_prices_route_with_exact_balance():
    """An interior optimal dual (positive margin) routes every token to its x*-set: exact balance, no ties."""
    gamma = _gamma(3, 240, 8, scale=0.5)
    lp = theory.assignment_lp(gamma, 2)
    W = theory.price_constraints(gamma, lp.sel)
    p, margin = theory.max_margin_prices(W)
    assert margin > 0
    assert np.all(theory.token_gaps(gamma, lp.sel, p) >= margin - 1e-12)
    sel = np.empty((240, 2), np.int64)
    loads = np.zeros(8, np.int64)
    kernels.route_topk(gamma, p, 2, sel, loads)
    np.testing.assert_array_equal(loads, 60)
    np.testing.assert_array_equal(np.sort(sel, axis=1), lp.sel)
    assert theory.dual_function(gamma, p, 2) == pytest.approx(lp.value, rel=1e-12)


def test_price_ranges_are_attained():
    """Shortest-path ranges of p_k - p_0 over the optimal duals equal the LP max / min of p_k - p_0."""
    gamma = _gamma(5, 160, 5, scale=0.5)
    lp = theory.assignment_lp(gamma, 2)
    W = theory.price_constraints(gamma, lp.sel)
    lo, hi = theory.price_ranges(W, ref=0)
    E = 5
    pairs = [(k, j) for k in range(E) for j in range(E) if k != j and np.isfinite(W[k, j])]
    A = np.zeros((len(pairs), E))
    for r, (k, j) in enumerate(pairs):
        A[r, j], A[r, k] = 1.0, -1.0
    b = np.array([W[k, j] for k, j in pairs])
    fix = np.eye(E)[:1]
    for k in range(1, E):
        c = np.zeros(E)
        c[k] = 1.0
        for sign, target in ((1.0, lo[k]), (-1.0, hi[k])):
            res = linprog(sign * c, A_ub=A, b_ub=b, A_eq=fix, b_eq=[0.0], bounds=[(None, None)] * E,
                          method="highs")
            assert sign * res.fun == pytest.approx(target, abs=1e-9)
    rel = lp.prices - lp.prices[0]
    assert np.all(lo - 1e-9 <= rel) and np.all(rel <= hi + 1e-9)


# --- the dual function -----------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), K=st.integers(1, 3), shift=st.floats(-5, 5))
def test_dual_function_properties(seed, K, shift):
    """Weak duality, shift invariance (E L = K T) and the subgradient inequality with g = A(p) - L."""
    T, E = 24, 6
    gamma = _gamma(seed, T, E)
    rng = np.random.default_rng(seed + 1)
    p, q = rng.normal(size=E), rng.normal(size=E)
    L = theory.target_load(T, E, K)
    opt = theory.assignment_lp(gamma, K).value
    d_p = theory.dual_function(gamma, p, K)
    assert d_p >= opt - 1e-9
    assert theory.dual_function(gamma, p + shift, K) == pytest.approx(d_p, rel=1e-12, abs=1e-9)
    sel = np.empty((T, K), np.int64)
    loads = np.zeros(E, np.int64)
    kernels.route_topk(gamma, p, K, sel, loads)
    assert theory.dual_function(gamma, q, K) >= d_p + np.dot(loads - L, q - p) - 1e-9


def test_lagrangian_bruteforce_equals_dual_function():
    """The enumeration over X and the sorted closed form S_K agree (they separate over tokens)."""
    gamma = _gamma(1, 4, 5)
    p = np.random.default_rng(2).normal(size=5)
    assert theory.lagrangian_bruteforce(gamma[:, :4], p[:4], 2) == pytest.approx(
        theory.dual_function(gamma[:, :4], p[:4], 2), rel=1e-14)


def test_sizes_are_validated():
    with pytest.raises(ValueError, match="tokens \\* top_k must be divisible by experts"):
        theory.target_load(10, 4, 1)
    with pytest.raises(ValueError, match="tokens and experts must keep"):
        theory.assignment_bruteforce(np.zeros((12, 8)), 4)


# --- Gumbel K = 1 testbed --------------------------------------------------------------------------

def _gumbel_batches(offsets, p, sigma, T, n, seed=0):
    """D_n(p) and A_n(p) over n batches drawn by the kernel generator (the Monte-Carlo side)."""
    kernels.seed_rng(seed)
    E = offsets.size
    scores = np.empty((T, E))
    duals, loads = np.empty(n), np.empty((n, E))
    for b in range(n):
        kernels.offset_noise_batch(offsets, sigma, kernels.NOISE_GUMBEL, scores)
        sel = np.empty((T, 1), np.int64)
        a = np.zeros(E, np.int64)
        topsum = kernels.route_topk(scores, p, 1, sel, a)
        duals[b] = kernels.dual_value(topsum, p, T // E)
        loads[b] = a
    return duals, loads


def test_gumbel_objective_and_gradient_match_monte_carlo():
    """F(p) = E D_n(p) and grad F = E A(p) - L; tolerance 4 Monte-Carlo standard errors (2000 batches)."""
    offsets = np.array([0.3, -0.2, 0.5, 0.0, -0.6])
    p = np.array([0.1, 0.2, -0.3, 0.0, 0.4])
    T, sigma, n = 40, 0.8, 2000
    duals, loads = _gumbel_batches(offsets, p, sigma, T, n)
    se = duals.std(ddof=1) / np.sqrt(n)
    assert abs(duals.mean() - theory.gumbel_objective(offsets, p, sigma, T)) < 4 * se
    se_g = loads.std(axis=0, ddof=1) / np.sqrt(n)
    assert np.all(np.abs(loads.mean(axis=0) - T // 5 - theory.gumbel_gradient(offsets, p, sigma, T)) < 4 * se_g)


def test_gumbel_optimum_hessian_and_strong_convexity():
    """p* = -c zeroes the gradient; the Hessian equals finite differences of the closed-form gradient; on the
    subspace orthogonal to 1 its eigenvalues at p* all equal mu = L / sigma; F - F* >= mu_low/2 |P(p - p*)|^2."""
    rng = np.random.default_rng(0)
    E, T, sigma = 6, 120, 0.7
    c = rng.normal(scale=0.5, size=E)
    p_star = theory.gumbel_optimum(c)
    np.testing.assert_allclose(theory.gumbel_gradient(c, p_star, sigma, T), 0.0, atol=1e-10)
    p = rng.normal(scale=0.3, size=E)
    h = 1e-6
    fd = np.array([(theory.gumbel_gradient(c, p + h * e, sigma, T) - theory.gumbel_gradient(c, p - h * e, sigma, T))
                   / (2 * h) for e in np.eye(E)])
    np.testing.assert_allclose(theory.gumbel_hessian(c, p, sigma, T), fd, rtol=1e-6, atol=1e-6)
    basis = np.linalg.qr(np.eye(E) - 1.0 / E)[0][:, :E - 1]
    eig = np.linalg.eigvalsh(basis.T @ theory.gumbel_hessian(c, p_star, sigma, T) @ basis)
    np.testing.assert_allclose(eig, theory.gumbel_strong_convexity(T, E, sigma), rtol=1e-10)
    f_star = theory.gumbel_objective(c, p_star, sigma, T)
    for _ in range(50):
        q = p_star + rng.normal(scale=0.3, size=E)
        d = q - p_star
        d -= d.mean()   # F is constant along 1, so only the component orthogonal to 1 counts
        # Taylor with integral remainder: the curvature along the segment is at least its smallest
        # lower bound T min_k pi_k / sigma (sampled finely; pi varies smoothly on this scale)
        segment = [p_star + t * (q - p_star) for t in np.linspace(0, 1, 21)]
        mu_low = min(theory.strong_convexity_lower(c, s, sigma, T) for s in segment)
        assert theory.gumbel_objective(c, q, sigma, T) - f_star >= 0.5 * mu_low * d @ d - 1e-9


def test_gumbel_gradient_variance_at_optimum():
    """G^2 = E ||A - L||^2 at p* equals T (1 - 1/E) (multinomial); 4 standard errors over 3000 batches."""
    c = np.array([0.2, -0.4, 0.1, 0.3])
    _, loads = _gumbel_batches(c, theory.gumbel_optimum(c), 1.0, 32, 3000, seed=3)
    sq = ((loads - 8) ** 2).sum(axis=1)
    assert abs(sq.mean() - theory.gumbel_grad_sq(32, 4)) < 4 * sq.std(ddof=1) / np.sqrt(sq.size)


def test_noise_floor_matches_multinomial_monte_carlo():
    """Expected MaxVio of balanced multinomial top-K loads; Gaussian approximation within 5% at L = 128."""
    rng = np.random.default_rng(0)
    T, E, K = 1024, 16, 2
    L = T * K // E
    draws = []
    for _ in range(400):
        loads = np.zeros(E, int)
        for row in rng.random((T, E)).argsort(axis=1)[:, :K].T:
            loads += np.bincount(row, minlength=E)
        draws.append((loads.max() - L) / L)
    assert theory.expected_max_normal(2) == pytest.approx(1 / np.sqrt(np.pi), rel=1e-9)
    # 400 draws: standard error ~1.5% of the mean; 5% also covers the Gaussian approximation of the tail
    assert np.mean(draws) == pytest.approx(theory.noise_floor_maxvio(T, E, K), rel=0.05)


def test_regret_bound_formula():
    """Closed form at N = e: G^2 / (2 mu) (1 + ln e) = G^2 / mu."""
    assert theory.regret_bound(224.0, 32.0, np.e) == pytest.approx(224 / 64 * 2)
