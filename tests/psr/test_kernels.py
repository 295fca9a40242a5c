"""PSR kernels against their NumPy twins (theorylab.psr.reference, belief-form POMDP code), exhaustive
enumeration (theorylab.psr.theory: latent paths, all deterministic policies) and Monte-Carlo frequencies."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theorylab.psr import kernels, model, reference, theory

A = model.A


def _pomdp(seed, n_obs=3):
    return model.random_pomdp(np.random.default_rng(seed), n_obs)


def _psr(seed, n_obs=3):
    T, E, mu = _pomdp(seed, n_obs)
    return (T, E, mu), model.to_psr(T, E, mu)


# --- likelihoods -------------------------------------------------------------------------------------

@pytest.mark.parametrize("n_obs", [2, 3])
@pytest.mark.parametrize("H", [1, 2, 4])
@pytest.mark.parametrize("seed", range(3))
def test_loglik_matches_paths_belief_forward_and_numpy_twin(seed, H, n_obs):
    """Oracles: sum over all S^H latent paths, the normalised belief forward, the vectorised NumPy PSR forward."""
    (T, E, mu), (psi0, ops) = _psr(seed, n_obs)
    obs, act = kernels.leaf_trajectories(H, A, n_obs)
    ll = kernels.loglik_table(psi0[None], ops[None], obs, act)[0]
    np.testing.assert_allclose(np.exp(ll), theory.trajectory_probs_paths(T, E, mu, obs, act), rtol=1e-12)
    np.testing.assert_allclose(ll, reference.loglik_pomdp(T, E, mu, obs, act), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(ll, reference.loglik_table(psi0[None], ops[None], obs, act)[0], rtol=1e-12, atol=1e-13)


def test_loglik_table_many_models():
    """Rows are models, columns trajectories; every (model, trajectory) entry as the single-model forward."""
    tables = [_psr(s)[1] for s in range(5)]
    psi0s, opss = np.stack([t[0] for t in tables]), np.stack([t[1] for t in tables])
    obs, act = kernels.leaf_trajectories(3, A, 3)
    got = kernels.loglik_table(psi0s, opss, obs, act)
    np.testing.assert_allclose(got, reference.loglik_table(psi0s, opss, obs, act), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("H", [1, 3, 4])
def test_leaf_probs_sum_to_one_per_action_sequence(H):
    """Closed form: for every action sequence the observation sequences' probabilities sum to 1."""
    (T, E, mu), (psi0, ops) = _psr(7)
    p = kernels.leaf_probs(psi0, ops, H)
    obs, act = kernels.leaf_trajectories(H, A, 3)
    np.testing.assert_allclose(p, reference.leaf_probs(T, E, mu, H), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(np.log(p), kernels.loglik_table(psi0[None], ops[None], obs, act)[0], rtol=1e-12)
    keys = [tuple(a[:-1]) for a in act]
    for seq in set(keys):
        assert p[[k == seq for k in keys]].sum() == pytest.approx(1.0, abs=1e-12)


def test_leaf_codes_round_trip():
    """leaf_trajectories decodes the node code that the roll-out kernel produces."""
    _, (psi0, ops) = _psr(3)
    policy = np.random.default_rng(0).integers(0, A, kernels.node_offsets(4, A, 3)[4]).astype(np.int8)
    obs, act, leaf = kernels.rollouts(psi0, ops, policy, np.array([-1, 0, 2, 3] * 10), 11)
    lo, la = kernels.leaf_trajectories(4, A, 3)
    np.testing.assert_array_equal(lo[leaf], obs)
    np.testing.assert_array_equal(la[leaf][:, :-1], act[:, :-1])


# --- planning ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("H", [1, 2, 3, 4])
@pytest.mark.parametrize("seed", range(4))
def test_plan_matches_belief_expectimax(seed, H):
    """Oracle: recursive expectimax on POMDP beliefs (NumPy); the kernel's policy is optimal in the belief model."""
    (T, E, mu), (psi0, ops) = _psr(seed)
    R = np.random.default_rng(seed + 100).random((3, A))
    value, policy = kernels.plan(psi0, ops, R, H)
    want, _ = reference.plan(T, E, mu, R, H)
    assert value == pytest.approx(want, rel=1e-12)
    assert reference.policy_value(T, E, mu, R, policy, H) == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_plan_matches_enumeration_of_all_policies(seed):
    """Oracle: the best of all 2^10 deterministic history-dependent policies (H = 2, O = 2), returns by paths."""
    (T, E, mu), (psi0, ops) = _psr(seed, n_obs=2)
    R = np.random.default_rng(seed).random((2, A))
    value, _ = kernels.plan(psi0, ops, R, 2)
    brute, count = theory.optimal_value_bruteforce(T, E, mu, R, 2)
    assert count == 2 ** 10
    assert value == pytest.approx(brute, rel=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_policy_value_matches_belief_evaluation_and_paths(seed):
    """Random deterministic policies: kernel = NumPy belief recursion = enumeration over observation sequences."""
    (T, E, mu), (psi0, ops) = _psr(seed)
    rng = np.random.default_rng(seed)
    R = rng.random((3, A))
    for _ in range(3):
        policy = rng.integers(0, A, kernels.node_offsets(3, A, 3)[3]).astype(np.int8)
        got = kernels.policy_value(psi0, ops, R, policy, 3)
        assert got == pytest.approx(reference.policy_value(T, E, mu, R, policy, 3), rel=1e-12)
        assert got == pytest.approx(theory.policy_return_paths(T, E, mu, R, policy, 3), rel=1e-12)
        assert got <= kernels.plan(psi0, ops, R, 3)[0] + 1e-12


# --- the policy-maximised L1 distance -----------------------------------------------------------------

@pytest.mark.parametrize("seed", range(4))
def test_policy_l1_matches_recursion_and_enumeration(seed):
    """Oracles: NumPy recursion (O = 3, H = 3) and all 2^10 relevant policies (O = 2, H = 3)."""
    rng = np.random.default_rng(seed)
    g = rng.random(3 ** 3 * A ** 2)
    assert kernels.policy_l1(g, 3, A, 3) == pytest.approx(reference.policy_l1(g, 3, A, 3), rel=1e-14)
    g2 = rng.random(2 ** 3 * A ** 2)
    assert kernels.policy_l1(g2, 3, A, 2) == pytest.approx(theory.policy_l1_bruteforce(g2, 3, A, 2), rel=1e-14)


def test_distance_matrix_is_a_metric_on_distinct_models():
    """||P - P'||_inf^p: symmetric, zero diagonal, positive off it, triangle inequality; <= 2 (two probability laws)."""
    tables = [_psr(s)[1] for s in range(6)]
    P = np.stack([kernels.leaf_probs(psi0, ops, 3) for psi0, ops in tables])
    D = kernels.distance_matrix(P, 3, A, 3)
    np.testing.assert_array_equal(D, D.T)
    assert np.all(np.diag(D) == 0) and np.all(D[~np.eye(6, dtype=bool)] > 0) and np.all(D <= 2 + 1e-12)
    for i, j, k in itertools.permutations(range(6), 3):
        assert D[i, k] <= D[i, j] + D[j, k] + 1e-14
    assert D[0, 1] == pytest.approx(reference.policy_l1(np.abs(P[0] - P[1]), 3, A, 3), rel=1e-14)


# --- roll-outs ---------------------------------------------------------------------------------------

def test_rollouts_bit_identical_to_numpy_twin():
    """Same seed, same draws: RandomState in the twin reproduces Numba's generator."""
    _, (psi0, ops) = _psr(1)
    policy = np.random.default_rng(1).integers(0, A, kernels.node_offsets(4, A, 3)[4]).astype(np.int8)
    steps = np.array([-1, 0, 1, 2, 3] * 20)
    got_all = kernels.rollouts(psi0, ops, policy, steps, 5)
    for got, want in zip(got_all, reference.rollouts(psi0, ops, policy, steps, 5)):
        np.testing.assert_array_equal(got, want)


def test_rollout_frequencies_match_leaf_probabilities():
    """Monte Carlo: leaf frequencies of a fixed policy against P(o | do pi(o)); 20000 episodes, |z| < 4.5 per leaf."""
    _, (psi0, ops) = _psr(2)
    H = 3
    policy = np.random.default_rng(2).integers(0, A, kernels.node_offsets(H, A, 3)[H]).astype(np.int8)
    n = 20000
    _, act, leaf = kernels.rollouts(psi0, ops, policy, np.full(n, -1), 3)
    lo, la = kernels.leaf_trajectories(H, A, 3)
    p_leaf = kernels.leaf_probs(psi0, ops, H)
    off = kernels.node_offsets(H, A, 3)
    reached = np.zeros(p_leaf.size)   # P(leaf) under the policy: the leaf's law if its actions are the policy's
    for i in range(p_leaf.size):
        code, ok = 0, True
        for h in range(H - 1):
            code = lo[i, h] if h == 0 else code * 3 + lo[i, h]
            ok &= policy[off[h] + code] == la[i, h]
            code = code * A + la[i, h]
        reached[i] = p_leaf[i] if ok else 0.0
    assert reached.sum() == pytest.approx(1.0, abs=1e-12)
    freq = np.bincount(leaf, minlength=p_leaf.size) / n
    se = np.sqrt(np.maximum(reached * (1 - reached), 1e-12) / n)
    assert np.all(np.abs(freq - reached) <= 4.5 * se + 1e-12)   # 108 leaves: P(any |z| > 4.5) ~ 1e-3


# --- optimistic MLE ----------------------------------------------------------------------------------

def _random_tables(seed, N, g_s, g_t, quantum):
    rng = np.random.default_rng(seed)
    ll = -rng.exponential(3.0, (N, g_s * g_t))
    vstar = rng.random((N, g_s * g_t))
    if quantum:   # ties in both values and likelihoods
        ll, vstar = np.round(ll / quantum) * quantum, np.round(vstar / quantum) * quantum
    allowed = rng.random(g_s * g_t) > 0.2
    allowed[rng.integers(0, g_s) * g_t:][:g_t] = True   # at least one full row of levels
    return ll, vstar, allowed


@settings(max_examples=80, deadline=None)
@given(N=st.integers(1, 4), g_s=st.integers(1, 5), g_t=st.integers(1, 3), seed=st.integers(0, 10 ** 6),
       beta=st.floats(0.0, 20.0), quantum=st.sampled_from([0.0, 0.5]), truth=st.integers(-1, 4))
def test_joint_optimism_matches_bruteforce(N, g_s, g_t, seed, beta, quantum, truth):
    """Oracle: enumeration of every tuple (s, t_1..t_N) in lexicographic order (ties included)."""
    ll, vstar, allowed = _random_tables(seed, N, g_s, g_t, quantum)
    rng = np.random.default_rng(seed + 1)
    s_true = min(max(truth, 0), g_s - 1)
    true_index = s_true * g_t + rng.integers(0, g_t, N)
    if truth < 0:
        true_index[0] = -1
    got = kernels.joint_optimism(ll, vstar, allowed, g_s, g_t, beta, true_index)
    want = reference.joint_optimism(ll, vstar, allowed, g_s, g_t, beta, true_index)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


@settings(max_examples=60, deadline=None)
@given(N=st.integers(1, 4), g_s=st.integers(1, 6), g_t=st.integers(1, 3), seed=st.integers(0, 10 ** 6),
       beta=st.floats(0.0, 20.0), quantum=st.sampled_from([0.0, 0.5]))
def test_single_optimism_matches_numpy(N, g_s, g_t, seed, beta, quantum):
    ll, vstar, allowed = _random_tables(seed, N, g_s, g_t, quantum)
    true_index = np.random.default_rng(seed).integers(0, g_s * g_t, N)
    got = kernels.single_optimism(ll, vstar, allowed, g_s, g_t, beta, true_index)
    want = reference.single_optimism(ll, vstar, allowed, g_s, g_t, beta, true_index)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def _learner_args(joint, n_tasks=3, iterations=25):
    p = model.UpstreamParams(shared_points=9, horizon=3, tasks=n_tasks, iterations=iterations)
    table = p.table()
    levels, goals = model.task_layout(n_tasks, table.g_t)
    ti = p.shared_index(table) * table.g_t + levels
    tasks = model.task_tables(table, ti, goals, p.switch_cost)
    allowed = np.ones(table.psi0.shape[0], bool)
    allowed[:3] = False     # a restricted class (the true models stay inside)
    beta = model.upstream_beta(p, table, n_tasks, "joint" if joint else "single")
    return (table.leaf_ll, allowed, table.g_s, table.g_t, table.psi0[ti], table.ops[ti], ti, tasks.policies,
            tasks.vstar, tasks.vtrue, tasks.vopt, joint, beta, iterations, 17)


@pytest.mark.parametrize("joint", [True, False])
def test_run_omle_bit_identical_to_numpy_loop(joint):
    """Oracle: the learner loop rebuilt from the NumPy twins (brute-force joint enumeration, RandomState roll-outs)."""
    args = _learner_args(joint)
    for got, want in zip(kernels.run_omle(*args), reference.run_omle(*args)):
        np.testing.assert_array_equal(got, want)


def test_run_omle_episodes_are_on_policy_then_one_per_informative_step():
    """One iteration, one task: the data are exactly the roll-outs (same seed) of the optimistic policy with no
    uniform action, then with one at each step 0..H-2; a uniform last action would enter no likelihood."""
    (leaf_ll, allowed, g_s, g_t, psi0, ops, ti, policies, vstar, vtrue, vopt, joint, beta, _, seed) = \
        _learner_args(False, n_tasks=1)
    H = 3
    chosen = kernels.single_optimism(np.where(allowed, 0.0, -np.inf)[None], vstar, allowed, g_s, g_t, beta, ti)[0]
    _, _, leaf = kernels.rollouts(psi0[0], ops[0], policies[0, chosen[0]], np.arange(-1, H - 1), seed)
    ll = kernels.run_omle(leaf_ll, allowed, g_s, g_t, psi0, ops, ti, policies, vstar, vtrue, vopt, joint, beta, 1,
                          seed)[-1]
    want = np.where(allowed, leaf_ll[:, leaf].sum(axis=1), -np.inf)
    np.testing.assert_array_equal(ll[0], want)


def test_run_omle_one_task_joint_equals_single():
    """With N = 1 the joint class is the single-task class: identical records."""
    a = kernels.run_omle(*_learner_args(True, n_tasks=1))
    b = kernels.run_omle(*_learner_args(False, n_tasks=1))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


# --- reward-free exploration: the widest TV pair -----------------------------------------------------

@pytest.mark.parametrize("seed", range(4))
def test_policy_tv_matches_recursion_and_enumeration(seed):
    """Oracles: the NumPy recursion (value and policy) and the enumeration of all deterministic policies
    (O = 2, H = 3: 2^10 relevant ones); the returned policy attains the maximum when its trajectory law is
    built by the roll-out convention (leaf reached iff the policy takes its actions)."""
    rng = np.random.default_rng(seed)
    tables = [_psr(seed * 2 + i, n_obs=2)[1] for i in range(2)]
    p, q = (kernels.leaf_probs(psi0, ops, 3) for psi0, ops in tables)
    value, policy = kernels.policy_tv(p, q, 3, A, 2)
    want, want_policy = reference.policy_tv(p, q, 3, A, 2)
    assert value == pytest.approx(want, rel=1e-14)
    np.testing.assert_array_equal(policy, want_policy)
    assert value == pytest.approx(0.5 * theory.policy_l1_bruteforce(np.abs(p - q), 3, A, 2), rel=1e-14)
    lo, la = kernels.leaf_trajectories(3, A, 2)
    off = kernels.node_offsets(3, A, 2)
    follows = np.ones(p.size, bool)
    for i in range(p.size):
        code = 0
        for h in range(2):
            code = lo[i, h] if h == 0 else code * 2 + lo[i, h]
            follows[i] &= policy[off[h] + code] == la[i, h]
            code = code * A + la[i, h]
    assert 0.5 * np.abs(p - q)[follows].sum() == pytest.approx(value, rel=1e-14)
    g = rng.random(p.size)      # any non-negative leaf function: half the policy-maximised L1
    assert kernels.policy_tv(g, np.zeros_like(g), 3, A, 2)[0] == pytest.approx(0.5 * kernels.policy_l1(g, 3, A, 2))


def _tv_tables(seed, N, g_s, g_t, quantum):
    ll, _, allowed = _random_tables(seed, N, g_s, g_t, quantum)
    rng = np.random.default_rng(seed + 7)
    M = g_s * g_t
    tv = rng.random((M, M))
    if quantum:
        tv = np.round(tv / quantum) * quantum
    tv = np.triu(tv, 1)
    return ll, tv + tv.T, allowed


@settings(max_examples=80, deadline=None)
@given(N=st.integers(1, 3), g_s=st.integers(1, 4), g_t=st.integers(1, 3), seed=st.integers(0, 10 ** 6),
       beta=st.floats(0.0, 12.0), quantum=st.sampled_from([0.0, 0.25]))
def test_tv_pair_joint_matches_bruteforce(N, g_s, g_t, seed, beta, quantum):
    """Oracle: every pair of tuples of the joint confidence set (ties included).  The width agrees to a few
    ulps: the TV table is shared by the tasks, so pairs whose per-task terms are a permutation of each
    other tie mathematically but their task-order sums differ in the last bit, and the two searches may
    meet them in another order.  The kernel's pair is in the set and attains its own width exactly."""
    ll, tv, allowed = _tv_tables(seed, N, g_s, g_t, quantum)
    width, a, b = kernels.tv_pair_joint(ll, tv, allowed, g_s, g_t, beta)
    want, _, _ = reference.tv_pair_joint(ll, tv, allowed, g_s, g_t, beta)
    np.testing.assert_allclose(width, want, rtol=8 * np.finfo(float).eps, atol=0)  # N <= 3 terms: ~N ulps
    total = lambda x: reference._left_sum(ll[n, m] for n, m in enumerate(x))   # noqa: E731
    best_ll = max(total(np.array([s * g_t + t for t in ts])) for s in range(g_s)
                  for ts in itertools.product(range(g_t), repeat=N) if all(allowed[s * g_t + t] for t in ts))
    for x in (a, b):
        assert len({int(m) // g_t for m in x}) == 1 and all(allowed[x]) and total(x) >= best_ll - beta
    assert reference._left_sum(tv[a[n], b[n]] for n in range(N)) == width


@settings(max_examples=60, deadline=None)
@given(g_s=st.integers(1, 6), g_t=st.integers(1, 3), seed=st.integers(0, 10 ** 6), beta=st.floats(0.0, 12.0),
       quantum=st.sampled_from([0.0, 0.25]))
def test_tv_pair_single_matches_numpy(g_s, g_t, seed, beta, quantum):
    ll, tv, allowed = _tv_tables(seed, 1, g_s, g_t, quantum)
    assert kernels.tv_pair_single(ll[0], tv, allowed, beta) == reference.tv_pair_single(ll[0], tv, allowed, beta)


def _umt_args(mode, n_tasks=3, iterations=12):
    identical = mode == kernels.MODE_IDENTICAL
    p = model.UpstreamParams(shared_points=7, horizon=3, tasks=n_tasks, iterations=iterations,
                             identical_tasks=identical)
    table = p.table()
    levels, goals = model.task_layout(n_tasks, table.g_t, identical)
    ti = p.shared_index(table) * table.g_t + levels
    tasks = model.task_tables(table, ti, goals, p.switch_cost)
    allowed = np.ones(table.psi0.shape[0], bool)
    allowed[:3] = False     # a restricted class (the true models stay inside)
    structure = {kernels.MODE_SINGLE: "single", kernels.MODE_JOINT: "joint", kernels.MODE_IDENTICAL: "identical"}
    beta = model.upstream_beta(p, table, n_tasks, structure[mode])
    return (table.leaf_ll, table.leaf_p, model.tv_table(table), allowed, table.g_s, table.g_t, table.psi0[ti],
            table.ops[ti], ti, tasks.err, tasks.vtrue, tasks.vopt, mode, beta, iterations, 23)


@pytest.mark.parametrize("mode", [0, 1, 2])
def test_run_umt_bit_identical_to_numpy_loop(mode):
    """Oracle: the loop rebuilt from the NumPy twins (brute-force pair search over all pairs of tuples, recursive
    policy, RandomState roll-outs): every record and the final likelihoods identical."""
    args = _umt_args(mode)
    for got, want in zip(kernels.run_umt(*args), reference.run_umt(*args)):
        np.testing.assert_array_equal(got, want)


def test_run_umt_explores_with_the_widest_pairs_policy():
    """One iteration, one task: the data are the roll-outs (same seed) of the TV-maximising policy of the widest
    pair of the initial set (the whole class), then with a uniform action at each step 0..H-2."""
    args = _umt_args(kernels.MODE_SINGLE, n_tasks=1, iterations=1)
    leaf_ll, leaf_p, tv, allowed = args[:4]
    psi0, ops, seed = args[6], args[7], args[-1]
    _, a, b = kernels.tv_pair_single(np.where(allowed, 0.0, -np.inf), tv, allowed, args[13])
    assert tv[a, b] == tv[np.ix_(allowed, allowed)].max()      # all of the class is plausible before any data
    _, policy = kernels.policy_tv(leaf_p[a], leaf_p[b], 3, A, 3)
    _, _, leaf = kernels.rollouts(psi0[0], ops[0], policy, np.arange(-1, 2), seed)
    ll = kernels.run_umt(*args)[-1]
    np.testing.assert_array_equal(ll[0], np.where(allowed, leaf_ll[:, leaf].sum(axis=1), -np.inf))


def test_run_umt_one_task_joint_equals_single_and_identical():
    """With N = 1 the joint class, the single-task class and the class of identical tasks coincide."""
    runs = [kernels.run_umt(*_umt_args(mode, n_tasks=1)) for mode in (0, 1, 2)]
    for other in runs[1:]:
        for x, y in zip(runs[0], other):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("seed", range(3))
def test_pair_search_tables_match_numpy(seed):
    """The per-run tables of the pair searches: row maxima over later allowed candidates (first maximiser) and
    the largest distance between two shared values' allowed candidates, against NumPy reductions."""
    _, tv, allowed = _tv_tables(seed, 1, 5, 3, 0.25)      # quantised: ties inside rows
    M = tv.shape[0]
    rmax, rarg = kernels.row_max_table(tv, allowed)
    for i in range(M):
        later = [j for j in range(i + 1, M) if allowed[j]]
        if not later:
            assert rmax[i] == -np.inf and rarg[i] == -1
        else:
            assert rmax[i] == tv[i, later].max() and rarg[i] == later[int(np.argmax(tv[i, later]))]
    masked = np.where(np.outer(allowed, allowed), tv, 0.0).reshape(5, 3, 5, 3)
    np.testing.assert_array_equal(kernels.pair_max_table(tv, allowed, 5, 3), masked.max(axis=(1, 3)))
