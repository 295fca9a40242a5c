"""The overlap-driven dynamics kernel against its explicit-matrix NumPy twin, the couplings' definition and
exact enumeration of the Boltzmann distribution."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theorylab.hebbian import kernels, model, reference, theory


def _network(seed, N=60, K=3, d=0.3, M=3, r=0.6, protocol="supervised", n_rep=3, init="random"):
    rng = np.random.default_rng(seed)
    xi, chi = model.draw_dataset(N, K, d, M, r, rng)
    V, group, c = model.stored_vectors(xi, chi, protocol, r)
    sigma = model.initial_state(xi, n_rep, init, rng)
    return xi, chi, V, group, c, sigma


@pytest.mark.parametrize("protocol", ["supervised", "unsupervised"])
@pytest.mark.parametrize("beta, zero_T", [(0.0, True), (0.7, False), (5.0, False)])
@pytest.mark.parametrize("seed", range(3))
def test_kernel_equals_explicit_matrix_twin(protocol, beta, zero_T, seed):
    """Oracle: reference.run_dynamics (explicit N x N Hebbian matrix, same Mersenne-Twister draws).
    Spins, Mattis and example sums agree exactly (integer fields); the cost to float64 rounding."""
    xi, _, V, group, c, sigma = _network(seed, protocol=protocol, d=0.5 if zero_T else 0.3)
    s_kernel, s_ref = sigma.copy(), sigma.copy()
    out_k = kernels.run_dynamics(V, group, xi, s_kernel, c, beta, zero_T, 6, 100 + seed)
    out_r = reference.run_dynamics(V, group, xi, s_ref, c, beta, zero_T, 6, 100 + seed)
    np.testing.assert_array_equal(s_kernel, s_ref)
    np.testing.assert_array_equal(out_k[0], out_r[0])
    np.testing.assert_array_equal(out_k[1], out_r[1])
    np.testing.assert_allclose(out_k[2], out_r[2], rtol=1e-14, atol=1e-15)
    assert not np.array_equal(s_kernel, sigma)          # the dynamics did move


@pytest.mark.parametrize("protocol", ["supervised", "unsupervised"])
def test_stored_vectors_reproduce_the_hebbian_couplings(protocol):
    """Closed form: c (V V^T, zero diagonal) equals the definition written with the examples eta = chi xi."""
    xi, chi, V, _, c, _ = _network(1, N=40, K=2, M=4, r=0.5, protocol=protocol)
    N, K, M = chi.shape
    R = theory.normalisation(M, 0.5)
    eta = (chi * xi[:, :, None]).astype(float)            # (N, K, M)
    if protocol == "supervised":
        s = eta.sum(axis=2)
        J = s @ s.T / (N * R * M * M)
    else:
        flat = eta.reshape(N, K * M)
        J = flat @ flat.T / (N * R * M)
    np.fill_diagonal(J, 0.0)
    np.testing.assert_allclose(c * reference.coupling_matrix(V), J, rtol=1e-13, atol=1e-15)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), N=st.integers(5, 40), P=st.integers(1, 6), reps=st.integers(1, 3))
def test_overlaps_are_exact_integer_products(seed, N, P, reps):
    """Invariant: O = sigma V as exact integers, for any stored integer vectors."""
    rng = np.random.default_rng(seed)
    V = rng.integers(-7, 8, size=(N, P)).astype(np.int32)
    sigma = np.where(rng.random((reps, N)) < 0.5, 1, -1).astype(np.int8)
    np.testing.assert_array_equal(kernels.overlaps(V, sigma), sigma.astype(np.int64) @ V)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), protocol=st.sampled_from(["supervised", "unsupervised"]),
       d=st.sampled_from([0.0, 0.3, 0.7]))
def test_zero_temperature_never_raises_the_cost(seed, protocol, d):
    """Invariant of asynchronous sign dynamics with symmetric J and J_ii = 0: H is non-increasing
    (a tie flips a spin with zero field, which leaves H unchanged)."""
    xi, _, V, group, c, sigma = _network(seed % 1000, N=80, d=d, protocol=protocol, n_rep=2)
    _, _, energy = kernels.run_dynamics(V, group, xi, sigma, c, 0.0, True, 8, seed)
    assert np.all(np.diff(energy, axis=0) <= 1e-15)


def test_recorded_cost_equals_explicit_energy():
    """Closed form: the kernel's H / N equals -(1/2N) sigma J sigma with the explicit matrix."""
    xi, _, V, group, c, sigma = _network(4, N=50, protocol="unsupervised", n_rep=2)
    _, _, energy = kernels.run_dynamics(V, group, xi, sigma, c, 2.0, False, 3, 9)
    J = c * reference.coupling_matrix(V)
    want = [-0.5 * s @ J @ s / 50 for s in sigma.astype(float)]
    np.testing.assert_allclose(energy[-1], want, rtol=1e-12)


def test_heat_bath_samples_the_boltzmann_distribution():
    """Oracle: exact enumeration of all 2^N states of a small network.  The time average of H / N over a
    long run equals the Boltzmann average; tolerance 5 standard errors from 40 batch means."""
    N, beta = 8, 0.8
    xi, _, V, group, c, sigma = _network(7, N=N, K=2, d=0.2, M=2, r=0.7, n_rep=1)
    J = c * reference.coupling_matrix(V)
    states = np.array(list(itertools.product([-1.0, 1.0], repeat=N)))
    H = -0.5 * np.einsum("si,ij,sj->s", states, J, states)
    w = np.exp(-beta * (H - H.min()))
    exact = float((w * H).sum() / w.sum()) / N
    # beta is per unit of the field c H_i: the kernel's heat bath uses h_i = c H_i, so beta multiplies H
    _, _, energy = kernels.run_dynamics(V, group, xi, sigma, c, beta, False, 200_000, 3)
    series = energy[1001:, 0]
    batches = series[: series.size // 40 * 40].reshape(40, -1).mean(axis=1)
    se = batches.std(ddof=1) / math.sqrt(40)
    assert abs(series.mean() - exact) <= 5 * se
    assert se < 0.02 * abs(exact)                           # the check has power


@pytest.mark.parametrize("seed, d, M, r", [(0, 0.3, 5, 0.7), (1, 0.65, 15, 0.8), (2, 0.85, 3, 0.5), (3, 0.0, 1, 1.0)])
def test_minima_enumeration_equals_explicit_matrix_twin(seed, d, M, r):
    """Twin: every configuration's single-flip stability from the explicit matrix (N = 12, 2^11 states)."""
    xi, chi = model.draw_dataset(12, 3, d, M, r, np.random.default_rng(seed))
    V, _, _ = model.stored_vectors(xi, chi, "supervised", r)
    np.testing.assert_array_equal(kernels.single_flip_minima(V), reference.single_flip_minima(V))


def test_enumerated_minima_are_exactly_the_configurations_no_flip_can_lower():
    """Brute force on the cost itself: a configuration is a minimum iff every single flip leaves H >= its value."""
    xi, chi = model.draw_dataset(10, 2, 0.2, 3, 0.6, np.random.default_rng(4))
    V, _, c = model.stored_vectors(xi, chi, "supervised", 0.6)
    J = reference.coupling_matrix(V)
    sigma = reference.spins_from_index(np.arange(1 << 9), 10)
    H = -0.5 * np.einsum("si,ij,sj->s", sigma, J, sigma)
    lowest = np.ones(sigma.shape[0], bool)
    for i in range(10):
        flipped = sigma.copy()
        flipped[:, i] *= -1
        lowest &= -0.5 * np.einsum("si,ij,sj->s", flipped, J, flipped) >= H
    np.testing.assert_array_equal(kernels.single_flip_minima(V), lowest)
    assert lowest.any()
