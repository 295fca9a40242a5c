"""Numba kernels of the bandit study against their plain-NumPy twins (oracle: theorylab.bandits.reference),
closed forms and exact optima (cvxpy second-order cone program, least squares)."""

import itertools

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from theorylab.bandits import kernels, reference

LOG_INV_DELTA = float(np.log(20.0))


def _env(seed, M=3, d=6, k=2, N=7, g=kernels.G_TANH):
    rng = np.random.default_rng(seed)
    W = 1.5 * rng.normal(size=(k, d))
    cands = W[None] + 0.5 * rng.normal(size=(N, k, d))
    cands[N // 2] = W
    heads = rng.normal(size=(M, k))      # last, as in model.make_environment
    heads /= np.linalg.norm(heads, axis=1, keepdims=True)
    return W, g, heads, cands


REC = np.array([1, 5, 20, 41, 80])


def _assert_same(got, want):
    """Choices and counts exactly; float outputs to rounding (inverse vs Sherman-Morrison, sum order)."""
    for g, w in zip(got, want):
        if np.asarray(g).dtype.kind == "i":
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12)


# --- environment and linear algebra -----------------------------------------------------------------

@njit
def _seeded_round(seed, X, E):
    np.random.seed(seed)   # Numba's generator is seeded from compiled code only
    kernels.draw_round(X, E)


def test_draw_round_matches_randomstate():
    """Oracle: np.random.RandomState(seed).normal drawn in the same order (contexts, then noise)."""
    X, E = np.empty((3, 4, 5)), np.empty((3, 4))
    _seeded_round(11, X, E)
    rs = np.random.RandomState(11)
    Xr, Er = reference.draw_round(rs, 3, 4, 5)
    np.testing.assert_allclose(X, Xr, rtol=1e-14)
    np.testing.assert_array_equal(E, Er)
    np.testing.assert_allclose(np.linalg.norm(X, axis=-1), 1.0, rtol=1e-14)


def test_optimistic_value_is_the_ellipsoid_maximum():
    """Exact optimum: max theta.phi over |theta - theta_hat|_V <= rho (cvxpy SOCP) equals the UCB closed form
    theta_hat.phi + rho |phi|_{V^-1} that every kernel uses."""
    rng = np.random.default_rng(3)
    k, rho = 3, 0.7
    A = rng.normal(size=(20, k))
    V = np.eye(k) + A.T @ A
    theta_hat, phi = rng.normal(size=k), rng.normal(size=k)
    Vinv = np.linalg.inv(V)
    closed = theta_hat @ phi + rho * np.sqrt(kernels.quad(Vinv, phi))
    theta = cp.Variable(k)
    L = np.linalg.cholesky(V)
    prob = cp.Problem(cp.Maximize(phi @ theta), [cp.norm(L.T @ (theta - theta_hat)) <= rho])
    prob.solve()
    assert closed == pytest.approx(prob.value, rel=1e-6)


def test_radius_and_beta_match_reference():
    for n in (0, 1, 10, 1000):
        assert kernels.oful_radius(0.5, 2, n, 1.0, LOG_INV_DELTA, 1.0) == pytest.approx(
            reference.oful_radius(0.5, 2, n, 1.0, LOG_INV_DELTA, 1.0), rel=1e-14)
        for eps_f in (0.0, 0.2):
            assert kernels.gfucb_beta(0.5, 2, 2.0, n, 1.0, 7.0, 4, 1.0, eps_f) == pytest.approx(
                reference.gfucb_beta(0.5, 2, 2.0, n, 1.0, 7.0, 4, 1.0, eps_f), rel=1e-14)


@pytest.mark.parametrize("seed", range(4))
def test_gfucb_optimistic_value_is_the_exact_maximum_over_the_joint_set(seed):
    """Exact optimum (cvxpy SOCP): for one representation phi_j and contexts x_1..x_M (one per task),
    max sum_i theta_i . phi_i over the joint set {(theta_1..theta_M): sum_i [sum_s (y - theta_i . phi_j(x_s))^2
    + lam |theta_i|^2] <= L_min + beta} equals the kernel's closed form
    sum_i theta_ij . phi_i + sqrt(slack_j) sqrt(sum_i |phi_i|^2_{V_ij^-1}); the losses are written out over
    the raw samples, not through the ridge identity the closed form uses.  Seed 0 also checks one task's
    value alone (other contexts zero)."""
    rng = np.random.default_rng(seed)
    M, k, n, lam = 3, 2, 15, 1.0
    Phis = rng.normal(size=(M, n, k))
    ys = rng.normal(size=(M, n))
    best = []
    for i in range(M):
        th = reference.ridge_fit(Phis[i], ys[i], lam)
        best.append(np.sum((ys[i] - Phis[i] @ th) ** 2) + lam * th @ th)
    L_j = float(np.sum(best))                    # the map's smallest summed loss
    L_min = L_j - 0.3 * seed                     # another map has the smallest loss (slack < beta)
    beta = 2.0
    slack = beta - (L_j - L_min)
    phis = rng.normal(size=(M, k))
    if seed == 0:
        phis[1:] = 0.0
    closed, width = 0.0, 0.0
    for i in range(M):
        V = lam * np.eye(k) + Phis[i].T @ Phis[i]
        closed += np.linalg.solve(V, Phis[i].T @ ys[i]) @ phis[i]
        width += phis[i] @ np.linalg.solve(V, phis[i])
    closed += np.sqrt(slack * width)
    thetas = [cp.Variable(k) for _ in range(M)]
    loss = sum(cp.sum_squares(ys[i] - Phis[i] @ thetas[i]) + lam * cp.sum_squares(thetas[i]) for i in range(M))
    prob = cp.Problem(cp.Maximize(sum(phis[i] @ thetas[i] for i in range(M))), [loss <= L_min + beta])
    prob.solve()
    assert closed == pytest.approx(prob.value, rel=1e-5, abs=1e-6)


# --- whole runs against the NumPy twins -------------------------------------------------------------

@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("raw", [False, True])
def test_run_linucb_matches_reference(seed, raw):
    """Oracle: reference.run_linucb (fresh inverses); identical arm choices, regret to rounding."""
    W, g, heads, _ = _env(seed)
    W_feat, g_feat = (np.eye(W.shape[1]), kernels.G_LINEAR) if raw else (W, g)
    args = (seed, 80, 5, W, g, heads, 0.3, W_feat, g_feat, 1.0, 1.0, LOG_INV_DELTA, 1.0, REC)
    _assert_same(kernels.run_linucb(*args), reference.run_linucb(*args))


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("eps_f", [0.0, 0.1])
@pytest.mark.parametrize("joint", [False, True])
def test_run_gfucb_matches_reference(seed, shared, eps_f, joint):
    """Oracle: reference.run_gfucb (losses from fresh ridge solves, vectorised optimistic values, joint arms by
    brute force over all K^M tuples, task-wise arms by argmax per task); both action rules (``joint``) give
    identical choices, set sizes, coverage flags and counts of suboptimal plays."""
    W, g, heads, cands = _env(seed)
    near = cands.shape[0] // 2
    args = (seed, 80, 5, W, g, heads, 0.5, cands, shared, joint, 1.0, 0.5, LOG_INV_DELTA, 1.0, 2.0, eps_f, near,
            heads, REC)
    got, want = kernels.run_gfucb(*args), reference.run_gfucb(*args)
    _assert_same(got[:3], want[:3])
    np.testing.assert_array_equal(got[3], want[3])
    np.testing.assert_array_equal(got[4], want[4])
    assert got[2][:, -1].min() >= 1
    assert 0 < got[4][:, -1].max() <= REC[-1]


@pytest.mark.parametrize("g", [kernels.G_LINEAR, kernels.G_TANH])
@pytest.mark.parametrize("shared", [True, False])
def test_run_learned_matches_reference(g, shared):
    """Oracle: reference.run_learned (einsum Jacobian, np.linalg.solve); identical choices across refits."""
    W, _, heads, _ = _env(4, g=g)
    M, (k, d) = heads.shape[0], W.shape
    W0 = np.random.default_rng(9).normal(size=(1 if shared else M, k, d)) / np.sqrt(d)
    refit = np.zeros(80, bool)
    refit[[3, 7, 15, 31, 63]] = True
    args = (2, 80, 5, W, g, heads, 0.3, W0, shared, 1.0, 1.0, LOG_INV_DELTA, 1.0, refit, 3, 1.0, REC)
    _assert_same(kernels.run_learned(*args), reference.run_learned(*args))


def test_same_seed_same_contexts_for_every_algorithm():
    """Common random numbers: the regret of OFUL with the true features does not depend on which other
    runs happened before, and the first round's regret only depends on the seed and the first choice."""
    W, g, heads, cands = _env(1)
    a = kernels.run_linucb(5, 40, 5, W, g, heads, 0.3, W, g, 1.0, 1.0, LOG_INV_DELTA, 1.0, REC[:3])
    kernels.run_gfucb(6, 40, 5, W, g, heads, 0.3, cands, True, False, 1.0, 1.0, LOG_INV_DELTA, 1.0, 2.0, 0.0, 0,
                      heads, REC[:3])
    b = kernels.run_linucb(5, 40, 5, W, g, heads, 0.3, W, g, 1.0, 1.0, LOG_INV_DELTA, 1.0, REC[:3])
    np.testing.assert_array_equal(a[0], b[0])


# --- representation fit -----------------------------------------------------------------------------

def _data(seed, tasks=3, n=60, d=5, k=2, g=kernels.G_TANH, noise=0.1):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(k, d))
    heads = rng.normal(size=(tasks, k))
    Xs = rng.normal(size=(tasks, n, d))
    Ys = np.einsum("tnk,tk->tn", reference.features(W, g, Xs), heads) + noise * rng.normal(size=(tasks, n))
    return W, heads, Xs, Ys


@pytest.mark.parametrize("g", [kernels.G_LINEAR, kernels.G_TANH])
def test_gauss_newton_step_matches_reference(g):
    """Oracle: reference.gauss_newton_step (einsum Jacobian); ridge heads vs reference.fit_heads."""
    W, heads, Xs, Ys = _data(0, g=g)
    W0 = W + 0.3 * np.random.default_rng(1).normal(size=W.shape)
    got = W0.copy()
    kernels.gauss_newton_step(got, g, Xs, Ys, 50, heads, 0.5)
    np.testing.assert_allclose(got, reference.gauss_newton_step(W0, g, Xs, Ys, 50, heads, 0.5), rtol=1e-10)
    fitted = np.empty_like(heads)
    kernels.fit_heads(W0, g, Xs, Ys, 50, 1.0, fitted)
    np.testing.assert_allclose(fitted, reference.fit_heads(W0, g, Xs, Ys, 50, 1.0), rtol=1e-10)


def test_linear_gauss_newton_step_is_exact_least_squares():
    """Closed form: with g = identity and vanishing damping, one step solves min_W sum (y - theta_i^T W x)^2
    exactly (np.linalg.lstsq on the Kronecker design)."""
    W, heads, Xs, Ys = _data(2, g=kernels.G_LINEAR)
    k, d = W.shape
    design = np.einsum("tk,tnd->tnkd", heads, Xs).reshape(-1, k * d)
    W_ls = np.linalg.lstsq(design, Ys.ravel(), rcond=None)[0].reshape(k, d)
    got = np.zeros((k, d))
    kernels.gauss_newton_step(got, kernels.G_LINEAR, Xs, Ys, Xs.shape[1], heads, 1e-10)
    np.testing.assert_allclose(got, W_ls, rtol=1e-6, atol=1e-9)


def test_fit_representation_recovers_the_predictor():
    """Noiseless tanh data: alternating fits reach a small training error from a nearby start
    (identifiability only up to the heads' gauge, so predictions are compared, not W)."""
    W, heads, Xs, Ys = _data(5, g=kernels.G_TANH, noise=0.0, n=200)
    W_hat = W + 0.2 * np.random.default_rng(0).normal(size=W.shape)
    fitted = np.zeros_like(heads)
    start = np.mean((np.einsum("tnk,tk->tn", reference.features(W_hat, kernels.G_TANH, Xs),
                               reference.fit_heads(W_hat, kernels.G_TANH, Xs, Ys, 200, 1e-6)) - Ys) ** 2)
    kernels.fit_representation(W_hat, kernels.G_TANH, Xs, Ys, 200, 1e-6, 20, 1e-6, fitted)
    kernels.fit_heads(W_hat, kernels.G_TANH, Xs, Ys, 200, 1e-6, fitted)
    pred = np.einsum("tnk,tk->tn", reference.features(W_hat, kernels.G_TANH, Xs), fitted)
    end = np.mean((pred - Ys) ** 2)
    assert end < 1e-3 * start


# --- the digit bandit -------------------------------------------------------------------------------------

def _digit_problem(seed, M=2, T=60, K=4, n_img=50, D=12, h=5):
    rng = np.random.default_rng(seed)
    images = rng.random((n_img, D))
    labels = rng.integers(10, size=n_img)
    values = rng.random((M, 10))
    idx = rng.integers(n_img, size=(T, M, K))
    noise = rng.normal(size=(T, M, K))
    W1 = rng.normal(size=(h, D)) / np.sqrt(D)
    b1 = np.zeros(h)
    return images, labels, values, idx, noise, W1, b1


def test_run_feature_ucb_matches_reference():
    """Oracle: reference.run_feature_ucb (fresh inverses); identical choices, regret to rounding."""
    images, labels, values, idx, noise, _, _ = _digit_problem(0)
    F = np.hstack([images, np.ones((len(labels), 1))])
    args = (F, labels, values, idx, noise, 0.1, 1.0, 0.3, LOG_INV_DELTA, 1.0, np.array([1, 10, 60]))
    _assert_same(kernels.run_feature_ucb(*args), reference.run_feature_ucb(*args))


@pytest.mark.parametrize("shared", [True, False])
def test_run_mlp_ucb_matches_reference(shared):
    """Oracle: reference.run_mlp_ucb (vectorised minibatch gradients, np.linalg.solve heads, fresh inverses);
    identical choices across five refits with Adam steps, regret to rounding."""
    images, labels, values, idx, noise, W1, b1 = _digit_problem(1)
    refit = np.zeros(60, bool)
    refit[[3, 7, 15, 31, 59]] = True
    u = np.random.default_rng(2).random((5, 8, 16))
    args = (images, labels, values, idx, noise, 0.1, W1, b1, shared, 1.0, 0.3, LOG_INV_DELTA, 1.0, refit, 2,
            0.05, u, np.array([1, 10, 60]))
    _assert_same(kernels.run_mlp_ucb(*args), reference.run_mlp_ucb(*args))


def test_mlp_adam_steps_reduce_the_training_loss():
    """The MLP fit does what it is for: on data generated by a random MLP with fixed heads, 300 Adam steps
    cut the mean squared error by at least 5x from a different start."""
    rng = np.random.default_rng(3)
    n, D, h = 400, 10, 6
    images = rng.random((n, D))
    W_true, heads = rng.normal(size=(h, D)), rng.normal(size=(1, h + 1))
    y = reference.mlp_features(W_true, np.zeros(h), images) @ heads[0]
    W1, b1 = rng.normal(size=(h, D)) / np.sqrt(D), np.zeros(h)
    mse = lambda W, b: np.mean((reference.mlp_features(W, b, images) @ heads[0] - y) ** 2)  # noqa: E731
    start = mse(W1, b1)
    kernels.mlp_adam_steps(W1, b1, heads, images, np.arange(n), np.zeros(n, np.int64), y, n,
                           rng.random((300, 64)), 0.02, np.zeros((4, h, D + 1)))
    assert mse(W1, b1) < start / 5


@settings(max_examples=60, deadline=None)
@given(M=st.integers(1, 4), K=st.integers(2, 5), seed=st.integers(0, 2**31 - 1), c=st.floats(0.0, 5.0))
def test_joint_optimistic_arms_is_the_brute_force_optimum(M, K, seed, c):
    """Exact optimum by enumeration of all K^M arm tuples of sum_i m[i, a_i] + c sqrt(sum_i w[i, a_i])."""
    rng = np.random.default_rng(seed)
    m, w = rng.normal(size=(M, K)), rng.random((M, K)) ** 2
    C = 64
    picks = np.zeros(M, np.int64)
    work = (np.empty((M, C)), np.empty((M, C)), np.empty((M, C), np.int64), np.empty((M, C), np.int64),
            np.empty(C * K), np.empty(C * K), np.empty(C * K, np.int64), np.empty(C * K, np.int64))
    got = kernels.joint_optimistic_arms(m, w, c, *work, picks)
    rows = np.arange(M)
    brute = max(m[rows, t].sum() + c * np.sqrt(w[rows, t].sum()) for t in itertools.product(range(K), repeat=M))
    assert got == pytest.approx(brute, rel=1e-12, abs=1e-12)
    assert m[rows, picks].sum() + c * np.sqrt(w[rows, picks].sum()) == pytest.approx(got, rel=1e-12, abs=1e-12)
