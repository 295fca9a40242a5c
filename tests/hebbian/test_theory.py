"""Low-storage theory against independent references: brute-force enumeration of the data laws, finite
differences, closed forms, the unsupervised K M-dimensional map, and the realised-network mean field."""

import itertools
import math

import numpy as np
import pytest
from scipy import optimize, special, stats

from theorylab.hebbian import model, theory


def _bruteforce_averages(n, d, M, r, K, beta):
    """E[z tanh(beta h)] and E[xi tanh(beta h)] by enumerating every (xi^mu, B^mu) with B ~ Binomial(M, (1+r)/2)."""
    per = [(xi, b, (d if xi == 0 else (1 - d) / 2) * (stats.binom.pmf(b, M, (1 + r) / 2) if xi != 0 else 1.0))
           for xi in (-1, 0, 1) for b in (range(M + 1) if xi != 0 else [0])]
    R = r * r + (1 - r * r) / M
    F, m = np.zeros(K), np.zeros(K)
    for combo in itertools.product(per, repeat=K):
        xi = np.array([c[0] for c in combo], float)
        z = xi * np.array([(2 * c[1] - M) / M for c in combo])
        w = np.prod([c[2] for c in combo])
        h = z @ n / R
        t = np.sign(h) if math.isinf(beta) else np.tanh(beta * h)
        F += w * z * t
        m += w * xi * t
    return F, m


def test_example_mean_law_moments():
    """Closed form: chi_hat has mean r and second moment R = r^2 + (1 - r^2)/M; probabilities sum to 1."""
    for M, r in [(1, 0.3), (4, 0.5), (15, 0.8), (51, 0.2)]:
        c, p = theory.example_mean_law(M, r)
        assert p.sum() == pytest.approx(1, abs=1e-12)
        assert (c * p).sum() == pytest.approx(r, abs=1e-12)
        assert (c * c * p).sum() == pytest.approx(theory.normalisation(M, r), abs=1e-12)
        assert theory.normalisation(M, r) == pytest.approx(r * r * (1 + theory.dataset_entropy(M, r)))


@pytest.mark.parametrize("d, M, r, K", [(0.3, 3, 0.6, 2), (0.5, 4, 0.5, 2), (0.2, 5, 0.8, 3), (0.6, 1, 0.4, 3)])
@pytest.mark.parametrize("beta", [3.0, math.inf])
def test_reduced_law_equals_bruteforce_enumeration(d, M, r, K, beta):
    """Oracle: enumeration over (xi, B) per pattern; the (z, E[xi|z]) reduction is exact, ties included (M even)."""
    rng = np.random.default_rng(1)
    for _ in range(3):
        n = rng.uniform(0.05, 0.6, size=K)
        F, m = theory.sc_map(n, theory.joint_grid(d, M, r, K), beta)
        F_bf, m_bf = _bruteforce_averages(n, d, M, r, K, beta)
        np.testing.assert_allclose(F, F_bf, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(m, m_bf, rtol=1e-12, atol=1e-14)


def test_jacobian_equals_finite_differences():
    """Oracle: central differences of the self-consistency map (step 1e-6, error O(1e-12))."""
    grid = theory.joint_grid(0.4, 7, 0.7, 3)
    n = np.array([0.3, 0.15, 0.05])
    J = theory.jacobian(n, grid, 6.0)
    eps = 1e-6
    fd = np.column_stack([(theory.sc_map(n + eps * e, grid, 6.0)[0] - theory.sc_map(n - eps * e, grid, 6.0)[0])
                          / (2 * eps) for e in np.eye(3)])
    np.testing.assert_allclose(J, fd, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("K", [2, 3, 4])
def test_zero_temperature_pure_network_is_the_power_law(K):
    """Closed form: with noiseless examples (r = 1) the T = 0 solution from the cue is (1 - d) d^(k-1) for d < d_K."""
    d_K = theory.hierarchy_limit(K)
    for d in np.linspace(0.05, min(d_K, 0.95) - 0.02, 6):
        sol = theory.retrieval(d, 1, 1.0, K, math.inf)
        np.testing.assert_allclose(sol.m, theory.hierarchical_amplitudes(d, K), atol=1e-14)
        assert sol.residual == 0.0


def test_hierarchy_limit_closed_forms():
    """d_3 = (sqrt 5 - 1)/2; d_K solves 1 - 2d + d^K = 0 and tends to 1/2; no limit for K <= 2."""
    assert theory.hierarchy_limit(3) == pytest.approx((math.sqrt(5) - 1) / 2, abs=1e-9)
    for K in (4, 6, 12):
        x = theory.hierarchy_limit(K)
        assert 1 - 2 * x + x ** K == pytest.approx(0, abs=1e-9)
    assert theory.hierarchy_limit(12) == pytest.approx(0.5, abs=1e-3)
    assert theory.hierarchy_limit(2) == 1.0
    # beyond d_K the zero-temperature solution leaves the power law (the weaker archetypes overrule the first)
    sol = theory.retrieval(0.7, 1, 1.0, 3, math.inf)
    assert sol.m[0] < 0.3 - 1e-3


@pytest.mark.parametrize("M, r", [(1, 1.0), (5, 0.6), (15, 0.8)])
def test_retrieval_threshold_is_beta_one_over_one_minus_d(M, r):
    """Closed form: the linearised map is beta (1 - d) n, so retrieval starts at beta = 1/(1 - d) for any M, r."""
    d = 0.4
    bc = theory.critical_beta(d)
    assert theory.symmetric_solution(d, M, r, 2, 0.98 * bc)[0] == 0.0
    assert theory.symmetric_solution(d, M, r, 2, 1.02 * bc)[0] > 1e-3
    assert np.abs(theory.retrieval(d, M, r, 2, 0.95 * bc).m).max() < 1e-6
    assert theory.retrieval(d, M, r, 2, 1.1 * bc).m[0] > 1e-2


@pytest.mark.parametrize("beta", [2.5, 4.0, 5.0, 8.0, 10.0, 20.0, 40.0])
def test_retrieval_is_a_converged_stable_fixed_point(beta):
    """Fixed-point and stability conditions checked directly on the phase experiment's grid (K = 3, M = 15,
    r = 0.8): |F(n) - n| <= 1e-10 and every Jacobian eigenvalue below 1 off the paramagnet.  Next to marginal
    stability (e.g. d = 0.6, beta = 4, where the cue's two-pattern saddle has eigenvalue 1.02 and the parallel
    state 0.985) a short iteration stops unconverged or the polish lands on the saddle."""
    for d in np.arange(0.1, 0.95, 0.1):
        sol = theory.retrieval(d, 15, 0.8, 3, beta)
        assert sol.residual <= 1e-10, (d, sol)
        if beta * (1 - d) > 1 + 1e-9:
            assert sol.lambda_max < 1 and sol.lambda_example < 1, (d, sol)


def test_cue_reaches_the_parallel_state_beyond_d_par_at_low_beta():
    """At beta = 4 the parallel state is stable from d_par = 0.58 on (splitting eigenvalue 0.985 at d = 0.6), and
    the cue's two-pattern mixture is a saddle: the solution reached is the parallel one, not a hierarchy."""
    assert theory.parallel_boundary(4.0, 15, 0.8, 3) < 0.6
    sol = theory.retrieval(0.6, 15, 0.8, 3, 4.0)
    assert theory.classify(sol.m, theory.ZERO, 1e-9) == "parallel"


def test_parallel_state_near_the_critical_line_is_stable_iff_d_above_two_thirds():
    """Closed form (cubic expansion of the pure network's symmetric solution near beta (1 - d) = 1):
    lambda_asym - 1 = beta^3 n^2 (1 - d) (2 (1 - d) - 2/3), so stable iff d > 2/3."""
    for d, stable in [(0.6, False), (0.64, False), (0.69, True), (0.75, True)]:
        beta = 1.01 * theory.critical_beta(d)
        _, _, lam_asym, _ = theory.symmetric_solution(d, 1, 1.0, 3, beta)
        assert (lam_asym < 1) == stable


def test_parallel_boundary_is_where_the_splitting_eigenvalue_crosses_one():
    """Root check: lambda_asym(d_par) = 1; stable just above, unstable just below."""
    for beta, M, r in [(10.0, 1, 1.0), (20.0, 15, 0.8)]:
        d_par = theory.parallel_boundary(beta, M, r, 3)
        assert theory.symmetric_solution(d_par, M, r, 3, beta)[2] == pytest.approx(1.0, abs=1e-6)
        assert theory.symmetric_solution(d_par + 0.01, M, r, 3, beta)[2] < 1
        assert theory.symmetric_solution(d_par - 0.01, M, r, 3, beta)[2] > 1


def _unsupervised_map(q, d, M, r, beta):
    """K = 1 unsupervised self-consistency over all 3 x 2^M (xi, chi) states: q_a = E[xi chi_a tanh(beta h)],
    h = (1/(R M)) sum_b xi chi_b q_b."""
    R = r * r + (1 - r * r) / M
    out = np.zeros(M)
    for xi in (-1, 1):
        for chi in itertools.product((-1, 1), repeat=M):
            chi = np.array(chi, float)
            w = (1 - d) / 2 * np.prod(np.where(chi > 0, (1 + r) / 2, (1 - r) / 2))
            out += w * xi * chi * np.tanh(beta * xi * chi @ q / (R * M))
    return out


def test_unsupervised_map_has_the_supervised_solution_and_the_stated_example_modes():
    """Oracle: the unsupervised K M-dimensional map written out explicitly (K = 1, M = 4).  Its solution has all
    example overlaps equal to the supervised n; its Jacobian (finite differences) has the supervised eigenvalue
    on the symmetric mode and lambda_ex, M - 1 times, on the others."""
    d, M, r, beta = 0.3, 4, 0.6, 4.0
    sup = theory.retrieval(d, M, r, 1, beta)
    q = optimize.fixed_point(lambda x: _unsupervised_map(x, d, M, r, beta), np.full(M, 0.3), xtol=1e-13,
                             maxiter=5000)
    np.testing.assert_allclose(q, sup.n[0], rtol=1e-9)
    eps = 1e-6
    J = np.column_stack([(_unsupervised_map(q + eps * e, d, M, r, beta) - _unsupervised_map(q - eps * e, d, M, r, beta))
                         / (2 * eps) for e in np.eye(M)])
    ev = np.sort(np.linalg.eigvalsh((J + J.T) / 2))
    grid = theory.joint_grid(d, M, r, 1)
    lam_ex = theory.example_mode_eigenvalues(sup.n, grid, beta, M)[0]
    np.testing.assert_allclose(ev, np.sort([sup.lambda_max] + [lam_ex] * (M - 1)), rtol=1e-6)
    assert abs(lam_ex - sup.lambda_max) > 0.1                 # the two kinds of mode are told apart


def test_accuracy_laws():
    """Exact binomial accuracy against a direct sum; the Gaussian SNR form approaches it for many examples."""
    M, r = 9, 0.35
    b = np.arange(M + 1)
    want = stats.binom.pmf(b, M, (1 + r) / 2)[2 * b > M].sum()
    assert theory.archetype_accuracy(M, r) == pytest.approx(want, abs=1e-14)
    assert theory.archetype_accuracy(4, r) == pytest.approx(
        stats.binom.pmf([3, 4], 4, (1 + r) / 2).sum() + 0.5 * stats.binom.pmf(2, 4, (1 + r) / 2), abs=1e-14)
    assert abs(theory.snr_accuracy(401, 0.1) - theory.archetype_accuracy(401, 0.1)) < 3e-3
    assert theory.snr_accuracy(1, 1.0) == 1.0
    level = special.ndtr(1.0)
    for r in (0.2, 0.3, 0.5):
        M = theory.exact_learning_threshold(r, 1.0)
        assert theory.archetype_accuracy(M, r) >= level > (theory.archetype_accuracy(M - 2, r) if M > 1 else 0)
        assert theory.learning_threshold(r, 1.0) == pytest.approx((1 - r * r) / (r * r))


def test_realised_network_mean_field_converges_to_the_theory():
    """Large-N limit: the mean-field fixed point of a realised network approaches the N -> infinity solution
    within 3 / ((1 - lambda) sqrt N) (the finite-size band of the claims)."""
    N, K, d, M, r, beta = 60_000, 2, 0.3, 5, 0.8, 10.0
    rng = np.random.default_rng(0)
    xi, chi = model.draw_dataset(N, K, d, M, r, rng)
    V, _, c = model.stored_vectors(xi, chi, "supervised", r)
    sol = theory.retrieval(d, M, r, K, beta)
    start = model.initial_state(xi, 1, "cue", rng)[0]
    m, _ = theory.sample_mean_field(V, c, xi, beta, start)
    band = 3 / ((1 - sol.lambda_max) * math.sqrt(N))
    np.testing.assert_allclose(np.sort(np.abs(m))[::-1], sol.m, atol=band)


def test_cost_and_loss_formulas_on_a_configuration():
    """Identity on a realised network: H/N = -(1/2R) sum n^2 and the loss = sum (1 + a)/2 - |m| up to O(1/N)."""
    N, K, d, M, r = 20_000, 3, 0.4, 3, 0.7
    rng = np.random.default_rng(2)
    xi, chi = model.draw_dataset(N, K, d, M, r, rng)
    sigma = np.where(rng.random(N) < 0.8, xi[:, 0], 1).astype(float)
    sigma[sigma == 0] = 1
    chi_hat = chi.mean(axis=2)
    n = (xi * chi_hat).T @ sigma / N
    m = xi.T @ sigma / N
    R = theory.normalisation(M, r)
    V, _, c = model.stored_vectors(xi, chi, "supervised", r)
    Vf = V.astype(float)
    H = -0.5 * c * (np.sum((Vf.T @ sigma) ** 2) - np.sum(Vf ** 2)) / N
    assert H == pytest.approx(theory.cost(n, R), abs=K * M * M / (R * M * M * N))   # diagonal term O(K/N)
    loss = sum(min(np.sum((xi[:, k] - sigma) ** 2), np.sum((xi[:, k] + sigma) ** 2)) / (2 * N) for k in range(K))
    a = np.count_nonzero(xi, axis=0) / N
    assert loss == pytest.approx(np.sum((1 + a) / 2 - np.abs(m)), abs=1e-12)
    assert theory.sse_loss(m, d) == pytest.approx(loss, abs=3 * K / math.sqrt(N))


@pytest.mark.parametrize("m, state", [
    ((0.0, 0.0, 0.0), "paramagnetic"),
    ((0.9, 0.0, 0.0), "pure"),
    ((0.9, 0.08, 0.0), "partial hierarchy"),
    ((0.47, 0.27, 0.15), "hierarchical"),
    ((0.3, 0.3, 0.0), "symmetric mixture"),
    ((0.2795, 0.2795, 0.1855), "partially symmetric mixture"),
    ((0.3, 0.2, 0.2), "partially symmetric mixture"),
    ((0.163, 0.163, 0.163), "parallel"),
    ((0.5,), "pure"),
])
def test_state_classifier(m, state):
    assert theory.classify(m, theory.ZERO, theory.ZERO) == state


def test_state_classifier_tolerances_chain_ties_and_ignore_order():
    """Monte-Carlo tolerances: gaps within the resolution are ties (chained), amplitudes below it zero."""
    assert theory.classify((0.20, 0.17, 0.14), 0.01, 0.035) == "parallel"          # two gaps of 0.03 chain
    assert theory.classify((0.20, 0.17, 0.14), 0.01, 0.02) == "hierarchical"
    assert theory.classify((0.005, 0.3, 0.3), 0.01, 0.01) == "symmetric mixture"  # any order, signs ignored
    assert theory.classify((-0.3, 0.3, 0.2), 0.01, 0.01) == "partially symmetric mixture"


def test_self_consistent_states_at_beta_20():
    """The states the solver reaches from the cue (K = 3, M = 15, r = 0.8): a partially symmetric mixture
    between the hierarchy and the parallel state."""
    def state(d):
        return theory.classify(np.abs(theory.retrieval(d, 15, 0.8, 3, 20.0).m), theory.ZERO, theory.ZERO)
    assert state(0.1) == "partial hierarchy"
    assert state(0.5) == "hierarchical"
    assert state(0.65) == "partially symmetric mixture"
    assert state(0.8) == "parallel"


def test_loss_helpers_against_brute_force():
    """Loss, loss minima and the loss's global minimum against enumeration of every configuration (N = 10)."""
    from theorylab.hebbian import reference
    xi, _ = model.draw_dataset(10, 3, 0.3, 1, 1.0, np.random.default_rng(5))
    sigma = reference.spins_from_index(np.arange(1 << 9), 10)
    sigma = np.concatenate([sigma, -sigma])
    loss = np.array([sum(min(np.sum((xi[:, k] - s) ** 2), np.sum((xi[:, k] + s) ** 2)) for k in range(3)) / 20
                     for s in sigma])
    np.testing.assert_allclose(model.loss_of(sigma, xi, 10), loss)
    assert model.global_loss_minimum(xi, 10) == pytest.approx(loss.min())
    best = np.ones(sigma.shape[0], bool)
    for i in range(10):
        flipped = sigma.copy()
        flipped[:, i] *= -1
        best &= model.loss_of(flipped, xi, 10) >= loss - 1e-12
    np.testing.assert_array_equal(model.is_loss_minimum(sigma, xi), best)


def test_competing_sites_bound():
    from theorylab.hebbian.claims import competing_sites
    assert competing_sites(0.85, 3) == pytest.approx(6 * 0.15 ** 3)
    assert competing_sites(0.5, 2) == 0.0
