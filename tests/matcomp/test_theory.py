"""Matrix-completion ground truths: depth-1 closed form, end-to-end flow, nuclear-norm completion."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from theorylab.matcomp import theory
from theorylab.matcomp.model import (CompletionFlowParams, CompletionParams, gaussian_init,
                                           identity_init, low_rank_target, observation_mask, run_gd,
                                           sample_observations, simulate_completion,
                                           simulate_completion_flow)


@pytest.mark.parametrize("subset", [False, True], ids=["switch", "subset"])
def test_depth1_closed_form_equals_gd(subset):
    """Ground truth: closed form.  float64 GD; rtol 1e-10 covers round-off of ~1e4 steps."""
    rng = np.random.default_rng(0)
    N = 20
    M2 = low_rank_target(rng, N, 2)
    M1 = M2 if subset else low_rank_target(rng, N, 3)
    rows, cols = sample_observations(rng, N, 150)
    mask2 = observation_mask(rows, cols, N)
    mask1 = observation_mask(rows[:90], cols[:90], N) if subset else mask2
    W0 = gaussian_init(rng, N, 1, 0.5)
    ts, nc, lr = [0, 50, 400, 3000], 500, 0.7
    test_loss, *_ = run_gd(W0, M1, mask1, M2, mask2, lr, ts, nc, 0, 3, "float64")
    closed = theory.depth1_test_loss(W0[0], M1, mask1, M2, mask2, lr, ts, nc)
    assert_allclose(test_loss, closed, rtol=1e-10)


def test_depth1_limit_is_the_unobserved_energy():
    """With zero init and a long continuation the depth-1 loss is (1/N^2) sum_unobserved M^2."""
    rng = np.random.default_rng(1)
    N = 15
    M = low_rank_target(rng, N, 2)
    mask = observation_mask(*sample_observations(rng, N, 100), N)
    closed = theory.depth1_test_loss(np.zeros((N, N)), M, mask, M, mask, 0.5, [0], 100_000)
    # (1 - lr/m)^(1e5) = e^-500: the observed residual is far below the rtol 1e-12
    assert_allclose(closed, theory.unobserved_energy(M, mask), rtol=1e-12)


def test_simulator_reports_closed_form_for_depth1():
    """``closed_form_loss`` in the Dataset is the closed-form prediction; float32 GD agrees to 1e-5."""
    p = CompletionParams(N=20, depth=1, rank1=3, rank2=2, n_obs=150, lr=0.5, t_switch=(0, 100, 1000),
                         n_continue=800)
    ds = simulate_completion(p, seed=2)
    # float32 GD: ~1e-7 relative per update on entries of size ~1, well inside 1e-5
    assert_allclose(ds.test_loss, ds.closed_form_loss, rtol=1e-5)


def test_psd_power_roots_and_clipping():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((6, 4))
    G = A @ A.T  # rank 4 PSD: two zero eigenvalues, +-1e-16 after round-off
    root = theory.psd_power(G, 0.5)
    assert_allclose(root @ root, G, atol=1e-12)
    assert np.all(np.isfinite(theory.psd_power(G, 1 / 3)))
    assert_allclose(theory.psd_power(G, 0.0), np.eye(6))


@pytest.mark.parametrize("depth", [2, 3])
def test_end_to_end_velocity_equals_layer_gradient_flow(depth):
    """For balanced layers, d/dt (W_D ... W_1) under layer gradient flow = Arora's end-to-end velocity.

    Balanced init: every layer is the same symmetric PSD matrix (diagonal here), for which
    W_{l+1}^T W_{l+1} = W_l W_l^T holds exactly.  Tolerance 1e-10: both sides are exact
    formulas evaluated in float64 (eigh-based fractional powers ~1e-13 relative).
    """
    rng = np.random.default_rng(4)
    N = 8
    Ws = identity_init(rng, N, depth, 0.5, 1e-2)
    Q = np.linalg.qr(rng.standard_normal((N, N)))[0]  # rotate: still balanced, no longer diagonal
    Ws = np.stack([Q @ w @ Q.T for w in Ws])
    W = Ws[0]
    for w in Ws[1:]:
        W = w @ W
    grad = rng.standard_normal((N, N))
    velocity = np.zeros((N, N))
    for j in range(depth):
        left = np.eye(N)
        for w in Ws[j + 1:]:
            left = w @ left
        right = np.eye(N)
        for w in Ws[:j]:
            right = w @ right
        g_j = left.T @ grad @ right.T  # dL/dW_j
        velocity -= left @ g_j @ right
    assert_allclose(theory.end_to_end_velocity(W, grad, depth), velocity, rtol=1e-10, atol=1e-12)


def test_gd_tracks_end_to_end_flow():
    """Ground truth: solve_ivp of the Arora flow Top singular values within 5%.

    The measured worst gap at lr 0.05 is ~2%: first-order discretisation error, largest where
    a singular value rises steeply.
    """
    ds = simulate_completion_flow(CompletionFlowParams(lr=0.05), seed=1)
    rel = abs(ds.sigma_gd - ds.sigma_ode) / ds.sigma_ode
    assert float(rel.max()) < 0.05
    # the comparison covers both tasks: the last time points exist for the delayed switch
    assert np.isfinite(ds.sigma_ode.isel(t_switch=-1, time=-1)).all()


def test_nuclear_norm_recovers_a_low_rank_matrix():
    """Rank 1, N = 15, 150 of 225 entries (~5x the 29 degrees of freedom): exact recovery.

    (At 120 entries recovery fails for some draws: nuclear-norm minimisation needs several
    times the degrees of freedom.)  Tolerance 1e-3 relative (Frobenius): SCS's eps = 1e-6
    stopping rule, not the model; measured ~1e-7.
    """
    rng = np.random.default_rng(5)
    N = 15
    M = low_rank_target(rng, N, 1)
    rows, cols = sample_observations(rng, N, 150)
    X, info = theory.nuclear_norm_completion(M[rows, cols], rows, cols, N)
    assert info["status"] == "optimal"
    assert info["max_violation"] < 1e-4
    assert np.linalg.norm(X - M) / np.linalg.norm(M) < 1e-3
