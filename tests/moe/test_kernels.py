"""Numba kernels of ALF-LB against their plain-NumPy twins (oracle: theorylab.moe.reference) and closed forms."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theorylab.moe import kernels, reference

RULES = [kernels.RULE_SIGN, kernels.RULE_PROP, kernels.RULE_GRAD, kernels.RULE_MULT]


def _scores(seed, T=64, E=8, quantum=0.0):
    rng = np.random.default_rng(seed)
    s = rng.normal(size=(T, E))
    bias = rng.normal(scale=0.3, size=E)
    if quantum:
        s, bias = np.round(s / quantum) * quantum, np.round(bias / quantum) * quantum
    return s, bias


def _assert_same_run(got, want, kind, rtol, atol=1e-12, atol_of=None):
    """A named kernel result against its twin's, field by field (``atol_of``: per-field absolute tolerances)."""
    assert type(got) is type(want) is kind
    for field in kind._fields:
        np.testing.assert_allclose(getattr(got, field), getattr(want, field), rtol=rtol,
                                   atol=(atol_of or {}).get(field, atol), err_msg=field)


def _route(fn, scores, bias, K):
    sel = np.empty((scores.shape[0], K), np.int64)
    loads = np.zeros(scores.shape[1], np.int64)
    out = fn(scores, bias, K, sel, loads)
    return sel, loads, out


# --- routing --------------------------------------------------------------------------------------

@pytest.mark.parametrize("quantum", [0.0, 0.5])
@pytest.mark.parametrize("K", [1, 2, 3, 7])
@pytest.mark.parametrize("seed", range(3))
def test_route_topk_matches_stable_sort(seed, K, quantum):
    """Oracle: NumPy stable argsort of -(gamma + p) (lowest index first among ties), ties included."""
    scores, bias = _scores(seed, quantum=quantum)
    sel, loads, topsum = _route(kernels.route_topk, scores, bias, K)
    want_sel, want_loads, want_topsum = _route(reference.route_topk, scores, bias, K)
    np.testing.assert_array_equal(sel, want_sel)
    np.testing.assert_array_equal(loads, want_loads)
    np.testing.assert_allclose(topsum, want_topsum, rtol=1e-15, atol=1e-15)  # K-term sums, order may differ


@settings(max_examples=60, deadline=None)
@given(T=st.integers(1, 40), E=st.integers(2, 12), data=st.data())
def test_route_topk_invariants(T, E, data):
    """Every token gets K distinct experts; loads sum to K T; topsum is the sum of the K largest biased scores."""
    K = data.draw(st.integers(1, E))
    seed = data.draw(st.integers(0, 2**31 - 1))
    scores, bias = _scores(seed, T, E, quantum=data.draw(st.sampled_from([0.0, 0.25])))
    sel, loads, topsum = _route(kernels.route_topk, scores, bias, K)
    assert all(len(set(row)) == K for row in sel.tolist())
    assert loads.sum() == K * T
    np.testing.assert_allclose(topsum, np.sort(scores + bias, axis=1)[:, -K:].sum(axis=1), rtol=1e-14, atol=1e-14)


def test_route_topk_lowest_index_tie_break():
    """Closed form: all scores equal -> experts 0..K-1; a later expert enters only if strictly larger."""
    sel, loads, _ = _route(kernels.route_topk, np.zeros((3, 5)), np.zeros(5), 2)
    assert sel.tolist() == [[0, 1]] * 3 and loads.tolist() == [3, 3, 0, 0, 0]
    sel, _, _ = _route(kernels.route_topk, np.array([[1.0, 2.0, 2.0, 0.5]]), np.zeros(4), 2)
    assert sel.tolist() == [[1, 2]]


@pytest.mark.parametrize("seed", range(3))
def test_route_topk_scaled_matches_reference(seed):
    """Oracle: stable argsort of -(gamma * b) (multiplicative rule)."""
    scores, _ = _scores(seed)
    scores = np.abs(scores)
    scale = 1.0 + 0.1 * np.random.default_rng(seed).normal(size=8)
    got = [np.empty((64, 3), np.int64), np.zeros(8, np.int64)]
    want = [np.empty((64, 3), np.int64), np.zeros(8, np.int64)]
    kernels.route_topk_scaled(scores, scale, 3, *got)
    reference.route_topk_scaled(scores, scale, 3, *want)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_small_helpers_match_reference():
    """Oracle: NumPy one-liners for D(p), routed affinity, MaxVio, max |A - L|, delta(p), M(delta)."""
    scores, bias = _scores(0)
    sel, loads, topsum = _route(kernels.route_topk, scores, bias, 2)
    L = 2 * 64 // 8
    assert kernels.dual_value(topsum, bias, L) == pytest.approx(reference.dual_value(topsum, bias, L), rel=1e-14)
    assert kernels.selected_affinity(scores, sel) == pytest.approx(reference.selected_affinity(scores, sel), rel=1e-14)
    assert kernels.max_violation(loads, L) == reference.max_violation(loads, L)
    assert kernels.max_abs_imbalance(loads, L) == reference.max_abs_imbalance(loads, L)
    p_star = np.random.default_rng(1).normal(size=8)
    assert kernels.dual_distance(bias, p_star) == pytest.approx(reference.dual_distance(bias, p_star), rel=1e-15)
    gaps = np.sort(np.random.default_rng(2).exponential(size=50))
    for delta in (0.0, 0.01, 0.3, 5.0):
        assert kernels.balance_bound(gaps, delta, 1e-12) == reference.balance_bound(gaps, delta, 1e-12)


# --- updates -------------------------------------------------------------------------------------

@pytest.mark.parametrize("rule, centre", [(r, c) for r in RULES for c in (False, True)
                                          if not (r == kernels.RULE_MULT and c)])  # recentring: additive only
def test_update_bias_matches_reference(rule, centre):
    """Oracle: NumPy formulas (np.sign with sign(0) = 0; mean subtraction; positive floor for mult)."""
    rng = np.random.default_rng(rule)
    loads = rng.integers(0, 40, size=16)
    loads[3] = 20  # exactly balanced expert: no sign update
    bias = (1.0 if rule == kernels.RULE_MULT else 0.0) + rng.normal(scale=0.01, size=16)
    got, want = bias.copy(), bias.copy()
    d_got, d_want = np.empty(16), np.empty(16)
    kernels.update_bias(got, loads, 20, rule, 0.003, centre, d_got)
    reference.update_bias(want, loads, 20, rule, 0.003, centre, d_want)
    np.testing.assert_allclose(got, want, rtol=1e-15, atol=1e-18)   # same formula; mean by another order
    np.testing.assert_allclose(d_got, d_want, rtol=1e-15, atol=1e-18)
    if not centre and rule in (kernels.RULE_SIGN, kernels.RULE_MULT):
        assert d_got[3] == 0.0


def test_sign_update_is_a_dual_step():
    """Exact identity: u sign(L - A) = eps (L - A) with eps_k = u / |L - A_k|, 0 where A_k = L."""
    rng = np.random.default_rng(5)
    for _ in range(50):
        loads = rng.integers(0, 30, size=12)
        e = 15 - loads
        delta = np.empty(12)
        kernels.update_bias(np.zeros(12), loads, 15, kernels.RULE_SIGN, 1e-3, False, delta)
        eps = np.divide(1e-3, np.abs(e), out=np.zeros(12), where=e != 0)
        np.testing.assert_allclose(delta, eps * e, rtol=1e-15, atol=0)


def test_mult_floor_keeps_scales_positive():
    """Closed form: a multiplicative scale pushed below MULT_FLOOR is clamped to it."""
    b = np.full(3, 0.5 * kernels.MULT_FLOOR)
    kernels.update_bias(b, np.array([9, 9, 9]), 3, kernels.RULE_MULT, 1.0, False, np.empty(3))
    assert np.all(b == kernels.MULT_FLOOR)


def test_step_size_closed_forms():
    """Closed forms: const u, harmonic step / (n + n0), theory 1 / (mu n)."""
    assert kernels.step_size(kernels.SCHED_CONST, 7, 0.1, 3.0, 2.0) == 0.1
    assert kernels.step_size(kernels.SCHED_HARMONIC, 7, 0.1, 3.0, 2.0) == pytest.approx(0.01)
    assert kernels.step_size(kernels.SCHED_THEORY, 7, 0.1, 3.0, 2.0) == pytest.approx(1 / 14)
    for sched in (0, 1, 2):
        assert kernels.step_size(sched, 7, 0.1, 3.0, 2.0) == reference.step_size(sched, 7, 0.1, 3.0, 2.0)


# --- deterministic runs and diagnostics ------------------------------------------------------------

@pytest.mark.parametrize("seed", range(3))
def test_preference_moves_match_reference(seed):
    """Oracle: set differences per token in Python."""
    rng = np.random.default_rng(seed)
    T, E, K = 50, 7, 3
    prev = np.array([rng.choice(E, K, replace=False) for _ in range(T)])
    new = np.array([rng.choice(E, K, replace=False) for _ in range(T)])
    dshift = rng.choice([-0.1, 0.0, 0.1], size=E)
    status = rng.integers(0, 3, size=E)
    f_got, f_want = np.zeros((3, 3), np.int64), np.zeros((3, 3), np.int64)
    got = kernels.preference_moves(prev, new, dshift, status, 1e-12, f_got)
    want = reference.preference_moves(prev, new, dshift, status, 1e-12, f_want)
    assert got == want
    np.testing.assert_array_equal(f_got, f_want)


def _fixed_args(rule, schedule=kernels.SCHED_CONST, step=1e-2, centre=False, T=64, E=8, K=2, n_iter=60):
    scores, _ = kernels.fixed_batch(3, T, E, 0.2, 0.5, kernels.NOISE_GAUSS)
    p_star = np.random.default_rng(0).normal(scale=0.1, size=E)
    gaps = np.sort(np.abs(np.random.default_rng(1).normal(size=T)))
    return (scores, K, n_iter, rule, schedule, step, 2.0, 3.0, centre, np.zeros(E), p_star, gaps, 1e-12)


@pytest.mark.parametrize("rule, schedule, step, centre", [
    (kernels.RULE_SIGN, kernels.SCHED_CONST, 1e-2, False),
    (kernels.RULE_SIGN, kernels.SCHED_CONST, 1e-2, True),
    (kernels.RULE_PROP, kernels.SCHED_HARMONIC, 0.5, False),
    (kernels.RULE_GRAD, kernels.SCHED_THEORY, 1.0, False),
])
def test_run_fixed_matches_reference(rule, schedule, step, centre):
    """Oracle: the NumPy loop of reference.run_fixed (every recorded quantity, every iteration)."""
    args = _fixed_args(rule, schedule, step, centre)
    _assert_same_run(kernels.run_fixed(*args), reference.run_fixed(*args), kernels.FixedRun, rtol=1e-12)


def test_recentring_does_not_change_routing():
    """Subtracting the mean increment shifts every bias equally, so the loads are identical."""
    plain = kernels.run_fixed(*_fixed_args(kernels.RULE_SIGN, centre=False))
    centred = kernels.run_fixed(*_fixed_args(kernels.RULE_SIGN, centre=True))
    np.testing.assert_array_equal(plain.loads, centred.loads)
    shift = plain.bias - centred.bias
    np.testing.assert_allclose(shift - shift[:, :1], 0.0, atol=1e-14)
    np.testing.assert_allclose(centred.bias.sum(axis=1), 0.0, atol=1e-13)


def test_tiny_gradient_step_decreases_dual_by_eta_norm_squared():
    """Closed form: if no token changes its set, D^{n+1} - D^n = -eta ||A - L||^2 exactly."""
    args = _fixed_args(kernels.RULE_GRAD, step=1e-9, n_iter=1)
    run = kernels.run_fixed(*args)
    loads, dual = run.loads, run.dual
    np.testing.assert_array_equal(loads[0], loads[1])
    L = 2 * 64 // 8
    np.testing.assert_allclose(dual[1] - dual[0], -1e-9 * np.sum((loads[0] - L) ** 2), rtol=1e-6)


# --- generators and streams ------------------------------------------------------------------------

@pytest.mark.parametrize("noise", [kernels.NOISE_GUMBEL, kernels.NOISE_GAUSS])
def test_fixed_batch_matches_randomstate(noise):
    """Oracle: np.random.RandomState(seed) drawn in the same order (Numba reproduces it bit for bit)."""
    got = kernels.fixed_batch(11, 40, 6, 0.3, 0.7, noise)
    want = reference.fixed_batch(11, 40, 6, 0.3, 0.7, noise)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_router_generator_matches_reference():
    """Oracle: RandomState twin of setup, batch (same summation order over d) and drift."""
    kernels.seed_rng(4)
    means, cent, off = kernels.router_setup(6, 5, 3, 0.4)
    feats, logits = np.empty((30, 5)), np.empty((30, 6))
    kernels.router_batch(means, cent, off, 1.3, 0.8, feats, logits)
    kernels.router_drift(cent, off, 0.1, 0.05)
    rs = np.random.RandomState(4)
    w_means, w_cent, w_off = reference.router_setup(rs, 6, 5, 3, 0.4)
    w_logits, w_feats = reference.router_batch(rs, w_means, w_cent, w_off, 1.3, 0.8, 30)
    np.testing.assert_array_equal(means, w_means)
    np.testing.assert_array_equal(feats, w_feats)
    np.testing.assert_allclose(logits, w_logits, rtol=1e-15, atol=1e-15)
    reference.router_drift(rs, w_cent, w_off, 0.1, 0.05)
    np.testing.assert_allclose(cent, w_cent, rtol=1e-15)
    np.testing.assert_allclose(off, w_off, rtol=1e-15)
    out = np.empty_like(logits)
    kernels.sigmoid(logits, off, out)
    np.testing.assert_allclose(out, reference.sigmoid(logits, off), rtol=1e-14)   # libm vs NumPy exp: 1 ulp


@pytest.mark.parametrize("rule, schedule", [(kernels.RULE_GRAD, kernels.SCHED_THEORY),
                                            (kernels.RULE_SIGN, kernels.SCHED_CONST),
                                            (kernels.RULE_MULT, kernels.SCHED_CONST)])
def test_run_stream_matches_reference(rule, schedule):
    """Oracle: the NumPy twin with RandomState (fresh Gumbel batch per iteration)."""
    bias0 = np.ones(6) if rule == kernels.RULE_MULT else np.zeros(6)
    args = (9, 48, 6, 1, 0.5, 1.0, kernels.NOISE_GUMBEL, 40, rule, schedule, 0.02, 0.0, 8.0, False, bias0, 3)
    got, want = kernels.run_stream(*args), reference.run_stream(*args)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-15)


# --- baselines -----------------------------------------------------------------------------------------

def _sigmoid_scores(seed, T=96, E=8):
    rng = np.random.default_rng(seed)
    return 1 / (1 + np.exp(-(rng.normal(size=(T, E)) + rng.normal(scale=0.5, size=E))))


@pytest.mark.parametrize("seed", range(2))
def test_sinkhorn_matches_reference_and_balances_marginals(seed):
    """Oracle: scipy-logsumexp Sinkhorn; at convergence the plan's row sums are K and column sums L."""
    scores, K, tau = _sigmoid_scores(seed), 2, 0.1
    p, q = np.zeros(8), np.zeros(8)
    n_got = kernels.sinkhorn_duals(scores, K, tau, 1e-10, 5000, p)
    n_want = reference.sinkhorn_duals(scores, K, tau, 1e-10, 5000, q)
    assert abs(n_got - n_want) <= 1
    np.testing.assert_allclose(p, q, rtol=1e-9, atol=1e-11)
    y = tau * (np.log(np.exp((scores + p) / tau).sum(axis=1)) - np.log(K))
    plan = np.exp((scores + p - y[:, None]) / tau)
    np.testing.assert_allclose(plan.sum(axis=1), K, rtol=1e-9)
    np.testing.assert_allclose(plan.sum(axis=0), K * 96 / 8, rtol=1e-8)


def test_expert_choice_matches_reference():
    """Oracle: stable column sort; with ties the lower token index wins."""
    scores = np.round(_sigmoid_scores(0), 1)  # many ties
    taken, loads = np.empty(scores.shape, np.bool_), np.zeros(8, np.int64)
    total = kernels.expert_choice(scores, 24, taken, loads)
    w_taken, w_loads, w_total = reference.expert_choice(scores, 24)
    np.testing.assert_array_equal(taken, w_taken)
    np.testing.assert_array_equal(loads, np.full(8, 24))
    np.testing.assert_array_equal(loads, w_loads)
    assert total == pytest.approx(w_total, rel=1e-14)


def test_capacity_drop_matches_reference():
    """Oracle: first-come-first-served loop in Python; processed loads never exceed C."""
    scores = _sigmoid_scores(1)
    sel, _, _ = _route(kernels.route_topk, scores, np.zeros(8), 2)
    got_loads = np.zeros(8, np.int64)
    kept, dropped = kernels.capacity_drop(scores, sel, 25, got_loads)
    w_loads, w_kept, w_dropped = reference.capacity_drop(scores, sel, 25)
    np.testing.assert_array_equal(got_loads, w_loads)
    assert (kept, dropped) == (pytest.approx(w_kept, rel=1e-14), w_dropped)
    assert got_loads.max() <= 25 and got_loads.sum() + dropped == 2 * 96


def test_aux_loss_step_matches_reference():
    """Oracle: NumPy gradient alpha f_k mean_i s(1 - s) + pull q_k."""
    scores = _sigmoid_scores(2)
    loads = np.random.default_rng(0).integers(0, 50, size=8)
    q, w = np.full(8, 0.1), np.full(8, 0.1)
    kernels.aux_loss_step(scores, loads, 2, 1e-2, 10.0, 1e-3, q)
    reference.aux_loss_step(scores, loads, 2, 1e-2, 10.0, 1e-3, w)
    np.testing.assert_allclose(q, w, rtol=1e-13)


def test_run_router_matches_reference():
    """Oracle: reference.run_router, every method family on the same drifting router."""
    fam = np.array([kernels.FAM_NONE, kernels.FAM_LOSSFREE, kernels.FAM_LOSSFREE, kernels.FAM_AUX,
                    kernels.FAM_SINKHORN, kernels.FAM_EC, kernels.FAM_CAPACITY])
    rule = np.array([0, kernels.RULE_SIGN, kernels.RULE_MULT, 0, 0, 0, 0])
    hyper = np.array([0.0, 1e-2, 1e-2, 1e-2, 0.0, 0.0, 0.0])
    args = (2, 64, 8, 2, 4, 3, 1.0, 1.0, 0.3, 0.02, 0.01, 30, fam, rule, hyper, 10.0, 1e-3, 20, 0.1, 1e-3, 10,
            2, 10)
    # identical routing decisions; floats differ by exp() rounding (libm vs NumPy) propagated
    # through Sinkhorn sweeps and aux-loss steps
    _assert_same_run(kernels.run_router(*args), reference.run_router(*args), kernels.RouterRun, rtol=1e-9)


def test_named_results_load_from_numba_cache_in_a_new_process():
    """The named results (FixedRun, RouterRun) keep the kernels cacheable: a second process loads
    run_fixed and run_router from Numba's on-disk cache instead of compiling them again."""
    import subprocess
    import sys

    script = (
        "import numpy as np\n"
        "from theorylab.moe import kernels as k\n"
        "s = np.random.default_rng(0).normal(size=(16, 4))\n"
        "k.run_fixed(s, 2, 3, k.RULE_SIGN, k.SCHED_CONST, 1e-2, 0.0, 1.0, False, np.zeros(4), np.zeros(4),\n"
        "            np.zeros(16), 1e-12)\n"
        "k.run_router(0, 16, 4, 2, 2, 2, 1.0, 1.0, 0.3, 0.0, 0.0, 2, np.array([k.FAM_LOSSFREE]),\n"
        "             np.array([k.RULE_SIGN]), np.array([1e-3]), 1.0, 0.0, 10, 0.1, 1e-2, 2, 1, 1)\n"
        "print(sum(f.stats.cache_misses.total() for f in (k.run_fixed, k.run_router)),\n"
        "      sum(f.stats.cache_hits.total() for f in (k.run_fixed, k.run_router)))\n")
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
            for _ in range(2)]   # the first may compile (cold cache); the second must not
    misses, hits = map(int, runs[1].stdout.split())
    assert (misses, hits) == (0, 2), runs[1].stdout + runs[1].stderr


# --- trained mixture of experts ---------------------------------------------------------------------

def _moe_problem(seed=0, T=40, E=6, K=2, d=3, m=2):
    rng = np.random.default_rng(seed)
    X, Y = rng.normal(size=(T, d)), rng.normal(size=(T, m))
    R, c = rng.normal(size=(E, d)), rng.normal(size=E)
    A, a = rng.normal(size=(E, m, d)), rng.normal(size=(E, m))
    u = rng.normal(scale=0.3, size=E)
    return X, Y, R, c, A, a, u, K


def _forward(X, R, c, A, a, u, K):
    T, E, m = X.shape[0], R.shape[0], A.shape[1]
    out = (np.empty((T, E)), np.empty((T, K), np.int64), np.empty((T, K, m)), np.empty((T, m)), np.zeros(E, np.int64))
    kernels.moe_forward(X, R, c, A, a, u, K, *out)
    return out


def test_moe_forward_matches_reference():
    """Oracle: reference.moe_forward (argsort top-K, einsum outputs)."""
    X, Y, R, c, A, a, u, K = _moe_problem()
    scores, sel, outs, pred, loads = _forward(X, R, c, A, a, u, K)
    s, sl, p, ld, F = reference.moe_forward(X, R, c, A, a, u, K)
    np.testing.assert_array_equal(sel, sl)
    np.testing.assert_array_equal(loads, ld)
    np.testing.assert_allclose(scores, s, rtol=1e-14)
    np.testing.assert_allclose(outs, F, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(pred, p, rtol=1e-12, atol=1e-14)
    assert kernels.moe_loss(Y, pred) == pytest.approx(reference.moe_loss(Y, p), rel=1e-13)


@pytest.mark.parametrize("alpha", [0.0, 0.7])
def test_moe_gradient_matches_finite_differences_and_reference(alpha):
    """Oracle: central differences (step 1e-6) of an objective written out independently here: task loss with
    the selection held fixed, plus alpha sum_k f_k P_k with f_k fixed at the batch's loads.  The kernel's
    hand-derived gradient must match to 1e-6 relative (FD truncation O(h^2) ~ 1e-12, rounding ~1e-10 / h);
    the NumPy twin to 1e-12."""
    X, Y, R, c, A, a, u, K = _moe_problem(1)
    T, E = X.shape[0], R.shape[0]
    scores, sel, outs, pred, loads = _forward(X, R, c, A, a, u, K)
    grads = [np.empty_like(R), np.empty_like(c), np.empty_like(A), np.empty_like(a)]
    kernels.moe_gradient(X, Y, K, alpha, scores, sel, outs, pred, loads, *grads)
    twin = reference.moe_gradient(X, Y, K, alpha, scores, sel, outs, pred, loads, (A, a))
    for g, w in zip(grads, twin):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-15)
    f = E * loads / (K * T)

    def objective(R_, c_, A_, a_):
        s = 1.0 / (1.0 + np.exp(-(X @ R_.T + c_)))
        g = np.take_along_axis(s, sel, axis=1)
        F = np.einsum("tkod,td->tko", A_[sel], X) + a_[sel]
        p = np.einsum("tk,tko->to", g, F)
        return 0.5 * np.mean(np.sum((p - Y) ** 2, axis=1)) + alpha * np.sum(f * s.mean(axis=0))

    params, h = [R, c, A, a], 1e-6
    for which, grad in enumerate(grads):
        fd = np.empty_like(grad)
        for idx in np.ndindex(grad.shape):
            plus = [p.copy() for p in params]
            minus = [p.copy() for p in params]
            plus[which][idx] += h
            minus[which][idx] -= h
            fd[idx] = (objective(*plus) - objective(*minus)) / (2 * h)
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-9)


def test_moe_bias_chooses_experts_but_never_scales_them():
    """Gate values are the unbiased scores: a bias change that keeps the selection leaves every output
    bit-identical (d loss / d u = 0); one that changes it gives outputs sum_k sigmoid(z_k) f_k over the new set.
    Negative control: the same check fails for gates sigmoid(z) + u (a bias leaking into the gate)."""
    X, Y, R, c, A, a, u, K = _moe_problem(2)
    scores, sel, outs, pred, _ = _forward(X, R, c, A, a, u, K)
    scores2, sel2, _, pred2, _ = _forward(X, R, c, A, a, u + 1e-9, K)
    np.testing.assert_array_equal(sel, sel2)
    np.testing.assert_array_equal(pred, pred2)
    assert kernels.moe_loss(Y, pred) == kernels.moe_loss(Y, pred2)
    u_far = u.copy()
    u_far[0] += 5.0                                 # expert 0 now wins every token
    s3, sel3, outs3, pred3, _ = _forward(X, R, c, A, a, u_far, K)
    assert np.all(sel3[:, 0] == 0) and not np.array_equal(sel3, sel)
    z = X @ R.T + c
    gates = np.take_along_axis(1.0 / (1.0 + np.exp(-z)), sel3, axis=1)
    np.testing.assert_allclose(pred3, np.einsum("tk,tko->to", gates, outs3), rtol=1e-13, atol=1e-14)
    leaked = np.einsum("tk,tko->to", gates + u_far[sel3], outs3)
    assert not np.allclose(pred3, leaked)


def test_run_trained_matches_reference():
    """Oracle: reference.run_trained, every family (none, loss-free, aux) trained in lockstep for 30 steps."""
    fam = np.array([kernels.FAM_NONE, kernels.FAM_LOSSFREE, kernels.FAM_AUX])
    args = (3, 64, 8, 2, 4, 3, 6, 3.0, 1.0, 0.1, 0.1, 0.3, 0.03, 30, fam, np.array([0.0, 1e-2, 0.3]), 256, 10,
            1e-8)
    # identical routing decisions; the losses differ by float64 summation order (BLAS vs loops); the
    # difference quotients (step 1e-8) amplify that rounding to ~1e-7 absolute
    _assert_same_run(kernels.run_trained(*args), reference.run_trained(*args), kernels.TrainedRun, rtol=1e-10,
                     atol_of={f: 1e-6 for f in kernels.TrainedRun._fields if f.startswith("fd_")})
