"""Numba kernels of the PSR study: forward likelihoods, exact planning, roll-outs, and two learners: UMT-PSR's
reward-free exploration by the widest total-variation pair of the confidence set, and optimistic MLE.

Arrays in, arrays out.  Conventions shared by every kernel:

* a model is a PSR in predictive-state form with one-step core tests: ``psi0`` (d,) is the law
  of the first observation and ``ops[a, o]`` (d, d) the operator M[a, o], so that
  ``P(o_h = o | history) = psi_h[o]`` and ``psi_{h+1} = M[a_h, o_h] psi_h / psi_h[o_h]``;
* trajectories are ``obs`` and ``act`` of shape (H,) (or (n, H)); the last action does not
  enter the likelihood;
* history nodes: the node after observing ``o_h`` (h = 0..H-1, 0-based) has the code
  ``c_0 = o_0``, ``c_{h+1} = (c_h A + a_h) O + o_{h+1}``; level h holds O^(h+1) A^h nodes,
  stored flat from ``node_offsets(H, A, O)[h]``; a deterministic policy is one action per node;
  the pre-observation node of level h + 1 reached by action a is ``c_h A + a``;
* ties go to the lowest action, the lowest candidate index, and (joint class, optimism) the
  first tuple in lexicographic order;
* randomness is Numba's Mersenne Twister seeded inside the kernel: per step one uniform for
  the observation, then one for the action when the step is the exploration step.  The NumPy
  twins in :mod:`reference` draw the same numbers from ``np.random.RandomState(seed)``; no prange;
* only the actions of steps 0..H-2 enter the likelihood (the last action changes no observation),
  so those are the only steps the learner explores.
"""

from __future__ import annotations

import numpy as np
from numba import njit

PRUNE_REL = 1e-9  # slack of the DFS pruning bounds (exact membership is re-checked at the leaves)


# --- history tree ------------------------------------------------------------------------------------

@njit(cache=True)
def _level_offsets(H, first, growth):
    """Start of each of H levels of sizes ``first * growth^h`` in a flat array; ``[H]`` is the total."""
    off = np.zeros(H + 1, np.int64)
    count = first
    for h in range(H):
        off[h + 1] = off[h] + count
        count *= growth
    return off


@njit(cache=True)
def node_offsets(H, A, O):
    """Start of each level in the flat node arrays (level h holds O (A O)^h nodes); ``[H]`` is the node count."""
    return _level_offsets(H, O, A * O)


@njit(cache=True)
def pre_offsets(H, A, O):
    """Start of each level of pre-observation nodes (level h holds (A O)^h of them)."""
    return _level_offsets(H, 1, A * O)


@njit(cache=True)
def _apply(M, psi, scale, out):
    d = psi.shape[0]
    for i in range(d):
        acc = 0.0
        for j in range(d):
            acc += M[i, j] * psi[j]
        out[i] = acc / scale


@njit(cache=True)
def predictive_tree(psi0, ops, H):
    """Normalised predictive state at every pre-observation node, shape (n_pre, d)."""
    A, O = ops.shape[0], ops.shape[1]
    pre = pre_offsets(H, A, O)
    psi = np.empty((pre[H], psi0.shape[0]))
    psi[0] = psi0
    for h in range(H - 1):
        for pc in range(pre[h + 1] - pre[h]):
            src = pre[h] + pc
            for o in range(O):
                p = psi[src, o]
                for a in range(A):
                    dst = pre[h + 1] + (pc * O + o) * A + a
                    if p > 0.0:
                        _apply(ops[a, o], psi[src], p, psi[dst])
                    else:  # unreachable node: weight 0, any normalised state will do
                        psi[dst] = psi[src]
    return psi


@njit(cache=True)
def plan(psi0, ops, reward, H):
    """Exact optimal policy by backward induction over the history tree.

    ``reward[o, a]`` is paid at every step.  Returns ``(value, policy)``, the policy an int8 action
    per node (lowest action among ties).
    """
    A, O = ops.shape[0], ops.shape[1]
    off = node_offsets(H, A, O)
    pre = pre_offsets(H, A, O)
    psi = predictive_tree(psi0, ops, H)
    V = np.zeros(off[H])
    policy = np.zeros(off[H], np.int8)
    for h in range(H - 1, -1, -1):
        for code in range(off[h + 1] - off[h]):
            o = code % O
            best, best_a = -np.inf, 0
            for a in range(A):
                q = reward[o, a]
                if h + 1 < H:
                    child = pre[h + 1] + code * A + a
                    base = off[h + 1] + (code * A + a) * O
                    for o2 in range(O):
                        q += psi[child, o2] * V[base + o2]
                if q > best:
                    best, best_a = q, a
            V[off[h] + code] = best
            policy[off[h] + code] = best_a
    value = 0.0
    for o in range(O):
        value += psi0[o] * V[o]
    return value, policy


@njit(cache=True)
def policy_value(psi0, ops, reward, policy, H):
    """Expected return of a deterministic history-dependent policy (one action per node)."""
    A, O = ops.shape[0], ops.shape[1]
    off = node_offsets(H, A, O)
    pre = pre_offsets(H, A, O)
    psi = predictive_tree(psi0, ops, H)
    V = np.zeros(off[H])
    for h in range(H - 1, -1, -1):
        for code in range(off[h + 1] - off[h]):
            a = policy[off[h] + code]
            q = reward[code % O, a]
            if h + 1 < H:
                child = pre[h + 1] + code * A + a
                base = off[h + 1] + (code * A + a) * O
                for o2 in range(O):
                    q += psi[child, o2] * V[base + o2]
            V[off[h] + code] = q
    value = 0.0
    for o in range(O):
        value += psi0[o] * V[o]
    return value


# --- trajectory probabilities and the policy-maximised L1 distance ------------------------------------

@njit(cache=True)
def leaf_probs(psi0, ops, H):
    """P(o_0..o_{H-1} | do a_0..a_{H-2}) for every leaf (node of level H - 1), unnormalised forward."""
    A, O = ops.shape[0], ops.shape[1]
    pre = pre_offsets(H, A, O)
    d = psi0.shape[0]
    u = np.empty((pre[H], d))
    u[0] = psi0
    for h in range(H - 1):
        for pc in range(pre[h + 1] - pre[h]):
            src = pre[h] + pc
            for o in range(O):
                for a in range(A):
                    _apply(ops[a, o], u[src], 1.0, u[pre[h + 1] + (pc * O + o) * A + a])
    n_pre_last = pre[H] - pre[H - 1]
    out = np.empty(n_pre_last * O)
    for pc in range(n_pre_last):
        for o in range(O):
            out[pc * O + o] = u[pre[H - 1] + pc, o]
    return out


@njit(cache=True, inline="always")
def _max_sum(g, H, A, O, policy, off):
    """max over deterministic policies pi of sum_tau pi(tau) g(tau), by the max-sum recursion from the leaves up.

    A node's value is the largest over actions of the summed values of its children (lowest action among ties).
    ``policy`` (``off[H]`` entries, ``off = node_offsets(H, A, O)``) receives each node's maximising action;
    an empty ``policy`` records nothing.
    """
    record = policy.shape[0] > 0
    W = g
    count = g.shape[0]
    for h in range(H - 2, -1, -1):
        count //= A * O
        Wn = np.empty(count)
        for code in range(count):
            best, best_a = -np.inf, 0
            for a in range(A):
                s = 0.0
                base = (code * A + a) * O
                for o2 in range(O):
                    s += W[base + o2]
                if s > best:
                    best, best_a = s, a
            Wn[code] = best
            if record:
                policy[off[h] + code] = best_a
        W = Wn
    total = 0.0
    for o in range(W.shape[0]):
        total += W[o]
    return total


@njit(cache=True)
def policy_l1(g, H, A, O):
    """max over policies pi of sum_tau pi(tau) g(tau) for leaf values g >= 0 (the ||.||_inf^p norm of g)."""
    return _max_sum(g, H, A, O, np.empty(0, np.int8), np.empty(0, np.int64))


@njit(cache=True)
def distance_matrix(P, H, A, O):
    """Pairwise max_pi sum_tau pi(tau) |P_i(tau) - P_j(tau)| over the rows of ``P`` (models x leaves)."""
    n = P.shape[0]
    D = np.zeros((n, n))
    g = np.empty(P.shape[1])
    no_policy, no_off = np.empty(0, np.int8), np.empty(0, np.int64)
    for i in range(n):
        for j in range(i + 1, n):
            for leaf in range(P.shape[1]):
                g[leaf] = abs(P[i, leaf] - P[j, leaf])
            D[i, j] = _max_sum(g, H, A, O, no_policy, no_off)
            D[j, i] = D[i, j]
    return D


# --- likelihoods -------------------------------------------------------------------------------------

@njit(cache=True)
def _loglik(psi0, ops, obs, act, psi, nxt):
    """log P(obs | do act) by the normalised forward; indices instead of slices (no views in the inner loop)."""
    d = psi0.shape[0]
    for i in range(d):
        psi[i] = psi0[i]
    ll = 0.0
    H = obs.shape[0]
    for h in range(H):
        o = obs[h]
        p = psi[o]
        if not p > 0.0:
            return -np.inf
        ll += np.log(p)
        if h + 1 < H:
            a = act[h]
            for i in range(d):
                acc = 0.0
                for j in range(d):
                    acc += ops[a, o, i, j] * psi[j]
                nxt[i] = acc / p
            for i in range(d):
                psi[i] = nxt[i]
    return ll


@njit(cache=True)
def loglik_table(psi0s, opss, obs, act):
    """log P_m(o | do a) of every trajectory under every model: (n_models, n_traj), log-space forward."""
    n_models, n_traj = psi0s.shape[0], obs.shape[0]
    d = psi0s.shape[1]
    out = np.empty((n_models, n_traj))
    psi, nxt = np.empty(d), np.empty(d)
    for m in range(n_models):
        for i in range(n_traj):
            out[m, i] = _loglik(psi0s[m], opss[m], obs[i], act[i], psi, nxt)
    return out


# --- roll-outs ---------------------------------------------------------------------------------------

@njit(cache=True)
def _rollout(psi0, ops, policy, explore_step, off, obs, act, psi, nxt):
    """One episode of ``policy`` with a uniform action at ``explore_step`` (-1: none); uses np.random.

    Returns the leaf code (the node of level H - 1), the column of the episode in a table built on
    :func:`leaf_trajectories`.
    """
    A, O = ops.shape[0], ops.shape[1]
    H = obs.shape[0]
    for i in range(psi0.shape[0]):
        psi[i] = psi0[i]
    code = 0
    for h in range(H):
        total = 0.0
        for j in range(O):
            total += max(psi[j], 0.0)
        u = np.random.random() * total
        o, acc = O - 1, 0.0
        for j in range(O):
            acc += max(psi[j], 0.0)
            if u < acc:
                o = j
                break
        code = o if h == 0 else code * O + o
        if h == explore_step:
            a = min(int(np.random.random() * A), A - 1)
        else:
            a = policy[off[h] + code]
        obs[h], act[h] = o, a
        if h + 1 < H:
            code = code * A + a
            _apply(ops[a, o], psi, psi[o], nxt)
            for i in range(psi.shape[0]):
                psi[i] = nxt[i]
    return code


@njit(cache=True)
def _horizon(n_nodes, A, O):
    H = 1
    while node_offsets(H, A, O)[H] < n_nodes:
        H += 1
    return H


@njit(cache=True)
def rollouts(psi0, ops, policy, explore_steps, seed):
    """Episodes ``i`` of ``policy`` with a uniform action at ``explore_steps[i]``.

    Returns (obs, act) of shape (n, H) and the leaf code of each episode.
    """
    np.random.seed(seed)
    A, O = ops.shape[0], ops.shape[1]
    n = explore_steps.shape[0]
    H = _horizon(policy.shape[0], A, O)
    off = node_offsets(H, A, O)
    obs = np.empty((n, H), np.int64)
    act = np.empty((n, H), np.int64)
    leaf = np.empty(n, np.int64)
    psi, nxt = np.empty(psi0.shape[0]), np.empty(psi0.shape[0])
    for i in range(n):
        leaf[i] = _rollout(psi0, ops, policy, explore_steps[i], off, obs[i], act[i], psi, nxt)
    return obs, act, leaf


@njit(cache=True)
def leaf_trajectories(H, A, O):
    """Every leaf as a trajectory (obs, act) of length H (last action 0), in leaf-code order."""
    n = O ** H * A ** (H - 1)
    obs = np.zeros((n, H), np.int64)
    act = np.zeros((n, H), np.int64)
    for leaf in range(n):
        code = leaf
        for h in range(H - 1, -1, -1):
            obs[leaf, h] = code % O
            code //= O
            if h > 0:
                act[leaf, h - 1] = code % A
                code //= A
    return obs, act


# --- optimistic maximum likelihood over a class table ------------------------------------------------

@njit(cache=True)
def _joint_profile(ll, allowed, g_s, g_t, beta):
    """The joint class's likelihood profile over the shared value s.

    Returns ``tmax[s, n]`` (task n's best log-likelihood at s) and ``targ[s, n]`` (its first maximising
    level t), ``profile[s] = sum_n tmax[s, n]``, the first maximiser ``s_hat``, the confidence threshold
    ``profile[s_hat] - beta`` and the slack of the pruning bounds.
    """
    N = ll.shape[0]
    tmax = np.full((g_s, N), -np.inf)
    targ = np.full((g_s, N), -1, np.int64)
    profile = np.full(g_s, -np.inf)
    for s in range(g_s):
        tot = 0.0
        for n in range(N):
            for t in range(g_t):
                m = s * g_t + t
                if allowed[m] and ll[n, m] > tmax[s, n]:
                    tmax[s, n], targ[s, n] = ll[n, m], t
            tot += tmax[s, n]
        profile[s] = tot
    s_hat = 0
    for s in range(g_s):
        if profile[s] > profile[s_hat]:
            s_hat = s
    threshold = profile[s_hat] - beta
    slack = PRUNE_REL * (1.0 + abs(threshold))
    return tmax, targ, profile, s_hat, threshold, slack


@njit(cache=True, inline="always")
def _first_mle(ll, allowed):
    """The first allowed candidate of largest log-likelihood ``ll[m]`` (one task's MLE)."""
    first = -1
    for m in range(ll.shape[0]):
        if allowed[m] and (first < 0 or ll[m] > ll[first]):
            first = m
    return first


@njit(cache=True)
def joint_optimism(ll, vstar, allowed, g_s, g_t, beta, true_index):
    """Confidence set and optimistic tuple of the joint class {(s, t_1..t_N)} (shared s).

    ``ll[n, m]`` and ``vstar[n, m]`` are task n's log-likelihood and optimal value of candidate
    m = s g_t + t.  The set keeps tuples whose summed log-likelihood is >= max - beta; among them the
    one maximising the summed optimal value (exact: depth-first search with bound pruning, the
    first maximiser in lexicographic order).  Returns (optimistic (N,), mle (N,), covered, mask (g_s,)).
    """
    N = ll.shape[0]
    tmax, targ, profile, s_hat, threshold, slack = _joint_profile(ll, allowed, g_s, g_t, beta)
    mle = np.empty(N, np.int64)
    for n in range(N):
        mle[n] = s_hat * g_t + targ[s_hat, n]
    mask = profile >= threshold

    best = -np.inf
    chosen = mle.copy()
    choice = np.empty(N, np.int64)
    p_ll = np.zeros(N + 1)
    p_v = np.zeros(N + 1)
    rest_ll = np.zeros(N + 1)
    rest_v = np.zeros(N + 1)
    for s in range(g_s):
        if not mask[s]:
            continue
        for n in range(N - 1, -1, -1):
            vmax = -np.inf      # task n's largest optimal value at s (read only for s in the set)
            for t in range(g_t):
                m = s * g_t + t
                if allowed[m] and vstar[n, m] > vmax:
                    vmax = vstar[n, m]
            rest_ll[n] = rest_ll[n + 1] + tmax[s, n]
            rest_v[n] = rest_v[n + 1] + vmax
        if rest_v[0] < best - 1e-12:
            continue
        depth = 0
        choice[0] = -1
        while depth >= 0:
            choice[depth] += 1
            if choice[depth] >= g_t:
                depth -= 1
                continue
            m = s * g_t + choice[depth]
            if not allowed[m]:
                continue
            lsum = p_ll[depth] + ll[depth, m]
            vsum = p_v[depth] + vstar[depth, m]
            if lsum + rest_ll[depth + 1] < threshold - slack or vsum + rest_v[depth + 1] < best - 1e-12:
                continue
            if depth == N - 1:
                if lsum >= threshold and vsum > best:
                    best = vsum
                    for n in range(N):
                        chosen[n] = s * g_t + choice[n]
                continue
            p_ll[depth + 1] = lsum
            p_v[depth + 1] = vsum
            depth += 1
            choice[depth] = -1

    covered = True
    s_true = -1
    tot = 0.0
    for n in range(N):
        ti = true_index[n]
        if ti < 0 or (s_true >= 0 and ti // g_t != s_true) or not allowed[ti]:
            covered = False
            break
        s_true = ti // g_t
        tot += ll[n, ti]
    covered = covered and tot >= threshold
    return chosen, mle, covered, mask


@njit(cache=True)
def single_optimism(ll, vstar, allowed, g_s, g_t, beta, true_index):
    """One class per task: the same rule task by task.  Returns (optimistic, mle, covered, mask (N, g_s))."""
    N, M = ll.shape
    chosen = np.zeros(N, np.int64)
    mle = np.zeros(N, np.int64)
    mask = np.zeros((N, g_s), np.bool_)
    covered = True
    for n in range(N):
        first = _first_mle(ll[n], allowed)
        mle[n] = first
        threshold = ll[n, first] - beta
        best, pick = -np.inf, first
        for m in range(M):
            if allowed[m] and ll[n, m] >= threshold:
                mask[n, m // g_t] = True
                if vstar[n, m] > best:
                    best, pick = vstar[n, m], m
        chosen[n] = pick
        ti = true_index[n]
        if ti < 0 or not allowed[ti] or not ll[n, ti] >= threshold:
            covered = False
    return chosen, mle, covered, mask


@njit(cache=True, inline="always")
def _optimism(joint, ll, vals, allowed, g_s, g_t, beta, true_index, final_mask):
    """:func:`joint_optimism` (``joint``) or :func:`single_optimism`; ``final_mask`` (N, g_s) receives each
    task's plausible shared values.  Returns (chosen, mle, covered, plausible shared values: the joint set's
    count, or the mean over tasks of each task's)."""
    N = ll.shape[0]
    if joint:
        chosen, mle, cov, mask = joint_optimism(ll, vals, allowed, g_s, g_t, beta, true_index)
        for n in range(N):
            final_mask[n] = mask
        return chosen, mle, cov, float(mask.sum())
    chosen, mle, cov, masks = single_optimism(ll, vals, allowed, g_s, g_t, beta, true_index)
    final_mask[:] = masks
    return chosen, mle, cov, masks.sum() / N


@njit(cache=True)
def _empty_loglik(N, M, allowed):
    """The log-likelihood table (N, M) before any data: 0, and -inf where a candidate is not allowed."""
    ll = np.zeros((N, M))
    for m in range(M):
        if not allowed[m]:
            for n in range(N):
                ll[n, m] = -np.inf
    return ll


@njit(cache=True, inline="always")
def _explore(ll, psi0, ops, policy, off, by_leaf, allowed, obs, act, psi, nxt):
    """One task's H episodes of an iteration, added to its log-likelihoods ``ll`` (M,): ``policy`` itself,
    then with a uniform action at each step h = 0..H-2 (the steps whose action enters the likelihood).
    ``by_leaf[leaf]`` is every candidate's log-likelihood of a leaf trajectory."""
    H = obs.shape[0]
    for step in range(-1, H - 1):
        row = by_leaf[_rollout(psi0, ops, policy, step, off, obs, act, psi, nxt)]
        for m in range(ll.shape[0]):
            if allowed[m]:
                ll[m] += row[m]


@njit(cache=True)
def run_omle(leaf_ll, allowed, g_s, g_t, true_psi0, true_ops, true_index, policies, vstar, vtrue, vopt, joint,
             beta, n_iter, seed):
    """Optimistic MLE over a class table, on N tasks at once (joint: shared s, UMT-PSR) or task by task.

    ``leaf_ll[m, leaf]`` is candidate m's log-likelihood of each leaf trajectory (from
    :func:`loglik_table` on :func:`leaf_trajectories`): a trajectory's likelihood depends on its
    leaf only.  Iteration k: confidence set from the data of iterations < k, optimistic candidate per
    task, its optimal policy ``policies[n, m]``; then H episodes per task added to the log-likelihood
    table: the policy itself, and one with a uniform action at each step h = 0..H-2 (the steps whose
    action enters the likelihood).  The on-policy episode samples the law on which the optimistic gap
    is measured; a uniform action at step H - 1 would change no observation and only repeat it.
    ``vstar[n, m]`` is the optimistic value of candidate m, ``vtrue[n, m]`` the true value of its
    policy, ``vopt[n]`` the true optimum.  Records
    k = 0..n_iter (the last after all data): gap = vstar - vtrue (>= subopt when the truth is in the
    set), subopt of the optimistic policy and of the MLE's policy, coverage, and the number of
    plausible shared values (mean over tasks for separate classes).  Also returns the final per-task
    mask of plausible shared values (N, g_s) and the log-likelihood table (N, M).
    """
    np.random.seed(seed)
    N, M = vstar.shape
    by_leaf = np.ascontiguousarray(leaf_ll.T)    # a leaf's log-likelihoods contiguous: one row per episode
    A, O = true_ops.shape[1], true_ops.shape[2]
    H = _horizon(policies.shape[2], A, O)
    off = node_offsets(H, A, O)
    d = true_psi0.shape[1]
    ll = _empty_loglik(N, M, allowed)
    gap = np.empty((n_iter + 1, N))
    subopt = np.empty((n_iter + 1, N))
    subopt_mle = np.empty((n_iter + 1, N))
    covered = np.empty(n_iter + 1, np.bool_)
    n_shared = np.empty(n_iter + 1)
    final_mask = np.zeros((N, g_s), np.bool_)
    obs = np.empty(H, np.int64)
    act = np.empty(H, np.int64)
    psi, nxt = np.empty(d), np.empty(d)
    for k in range(n_iter + 1):
        chosen, mle, cov, shared = _optimism(joint, ll, vstar, allowed, g_s, g_t, beta, true_index, final_mask)
        n_shared[k] = shared
        covered[k] = cov
        for n in range(N):
            gap[k, n] = vstar[n, chosen[n]] - vtrue[n, chosen[n]]
            subopt[k, n] = vopt[n] - vtrue[n, chosen[n]]
            subopt_mle[k, n] = vopt[n] - vtrue[n, mle[n]]
        if k == n_iter:
            break
        for n in range(N):     # the optimistic policy itself, then a uniform action at each informative step
            _explore(ll[n], true_psi0[n], true_ops[n], policies[n, chosen[n]], off, by_leaf, allowed, obs, act,
                     psi, nxt)
    return gap, subopt, subopt_mle, covered, n_shared, final_mask, ll


# --- reward-free exploration: the pairwise total-variation rule of UMT-PSR ----------------------------

@njit(cache=True)
def policy_tv(p, q, H, A, O):
    """max over deterministic history-dependent policies of TV(P^pi, Q^pi), and a maximising policy.

    ``p`` and ``q`` are leaf probabilities (:func:`leaf_probs`); under a deterministic policy the law of a
    trajectory is its leaf probability times the indicator that the policy takes its actions, so
    ``TV(P^pi, Q^pi) = 1/2 sum_tau pi(tau) |p - q|(tau)``, maximised exactly by the max-sum recursion of
    :func:`policy_l1`.  The policy is one int8 action per node (lowest action among ties; the last step's
    action changes no observation and is 0).
    """
    off = node_offsets(H, A, O)
    policy = np.zeros(off[H], np.int8)
    g = np.empty(p.shape[0])
    for leaf in range(p.shape[0]):
        g[leaf] = abs(p[leaf] - q[leaf])
    return 0.5 * _max_sum(g, H, A, O, policy, off), policy


@njit(cache=True)
def row_max_table(tv, allowed):
    """Largest distance of each candidate i to an allowed candidate j > i, and the first such j (-1: none).

    Fixed for a run (the class does not change), so :func:`run_umt` computes it once: a row whose largest
    distance is in the confidence set needs no scan, and a row whose largest distance is no wider than the
    widest pair so far is skipped.
    """
    M = tv.shape[0]
    rmax = np.full(M, -np.inf)
    rarg = np.full(M, -1, np.int64)
    for i in range(M):
        for j in range(i + 1, M):
            if allowed[j] and tv[i, j] > rmax[i]:
                rmax[i], rarg[i] = tv[i, j], j
    return rmax, rarg


@njit(cache=True)
def tv_pair_single(ll, tv, allowed, beta):
    """Widest pair of one class's confidence set: max over m <= m' in {m : ll[m] >= max ll - beta} of tv[m, m'].

    ``tv[m, m']`` is the policy-maximised TV distance of candidates m and m'.  Returns (width, m, m'), the
    first maximiser in the order (m, m') with m < m' (a set of one model: width 0, m = m' = the MLE).
    """
    rmax, rarg = row_max_table(tv, allowed)
    return _tv_pair_single(ll, tv, rmax, rarg, allowed, beta)


@njit(cache=True)
def _tv_pair_single(ll, tv, rmax, rarg, allowed, beta):
    """:func:`tv_pair_single` with the row maxima of :func:`row_max_table`.

    Same visiting order (rows m ascending, within a row m' ascending, strict improvement) as the plain
    scan of the upper triangle, so the same first maximiser: a row is skipped only when its largest
    distance does not beat the widest pair so far, and its largest distance is taken directly only when
    its first maximiser lies in the set (then it is also the first maximiser within the set).
    """
    M = ll.shape[0]
    first = _first_mle(ll, allowed)
    threshold = ll[first] - beta
    inside = np.empty(M, np.int64)
    n_in = 0
    for m in range(M):
        if allowed[m] and ll[m] >= threshold:
            inside[n_in] = m
            n_in += 1
    best, a, b = 0.0, first, first
    for p in range(n_in):
        i = inside[p]
        if rmax[i] <= best:
            continue
        j = rarg[i]
        if ll[j] >= threshold:
            best, a, b = rmax[i], i, j
            continue
        for q in range(p + 1, n_in):
            j = inside[q]
            if tv[i, j] > best:
                best, a, b = tv[i, j], i, j
    return best, a, b


# Lagrangian bounds of the joint pair search.  For multipliers lam, mu >= 0 and a pair's remaining
# log-likelihood slacks sigma_a, sigma_b, every completion in the set has summed distance
#   <= lam sigma_a + mu sigma_b + sum over the remaining tasks of max over options (g - lam da - mu db),
# da, db >= 0 being an option's log-likelihood below its task's best level.  Any multipliers give a valid
# bound; these (in TV per nat) prune well at the study's scales.
LAGRANGE = np.array([0.0, 0.01, 0.03])
ROOT_LAGRANGE = 0.01
BOUND_MARGIN = 1e-9   # > the rounding of the bounds' sums: a pruned branch holds no pair the search would take


@njit(cache=True)
def pair_max_table(tv, allowed, g_s, g_t):
    """Largest distance between allowed candidates of the shared values s and s' (any levels): (g_s, g_s).

    Fixed for a run; N times it bounds a pair of shared values' distance sum before any task is looked at.
    """
    out = np.zeros((g_s, g_s))
    for s in range(g_s):
        for t in range(g_t):
            if not allowed[s * g_t + t]:
                continue
            for s2 in range(g_s):
                for u in range(g_t):
                    if allowed[s2 * g_t + u] and tv[s * g_t + t, s2 * g_t + u] > out[s, s2]:
                        out[s, s2] = tv[s * g_t + t, s2 * g_t + u]
    return out


@njit(cache=True)
def tv_pair_joint(ll, tv, allowed, g_s, g_t, beta):
    """Widest pair of the joint confidence set: max over theta, theta' in B of sum_n tv[theta_n, theta'_n].

    B = {(s, t_1..t_N) : sum_n ll[n, s g_t + t_n] >= max - beta}.  The maximum over per-task policies of the
    summed TV distances separates over tasks, so for a pair of tuples it is the sum of the policy-maximised
    distances ``tv``.  Exact search: pairs of shared values (s <= s') in the set's projection, each with an
    upper bound (every task's largest admissible distance) against the best so far; then a depth-first search
    over the tasks' (t_n, t'_n) in decreasing distance with likelihood and distance bounds.  Returns
    (width, theta (N,), theta' (N,)).
    """
    return _tv_pair_joint(ll, tv, pair_max_table(tv, allowed, g_s, g_t), allowed, g_s, g_t, beta)


@njit(cache=True)
def _tv_pair_joint(ll, tv, pair_max, allowed, g_s, g_t, beta):
    """:func:`tv_pair_joint` with the table of :func:`pair_max_table`.

    The search order and its acceptance rule (a leaf replaces the best only if strictly wider) are those
    of the plain depth-first search; the extra tests (the pair's largest distance N times, and Lagrangian
    bounds on a pair and on every branch, with slack and a margin above rounding) only skip pairs and
    branches that hold no leaf the plain search would accept, so the result is the same pair, bit for bit.
    """
    N = ll.shape[0]
    L = LAGRANGE.shape[0]
    tmax, targ, profile, s_hat, threshold, slack = _joint_profile(ll, allowed, g_s, g_t, beta)
    # t admissible for (s, n): some tuple through it can reach the threshold; drop[s, n, t]: its log-likelihood
    # below the task's best level
    adm = np.zeros((g_s, N, g_t), np.bool_)
    drop = np.zeros((g_s, N, g_t))
    for s in range(g_s):
        if profile[s] < threshold:
            continue
        for n in range(N):
            for t in range(g_t):
                m = s * g_t + t
                adm[s, n, t] = allowed[m] and ll[n, m] + profile[s] - tmax[s, n] >= threshold - slack
                if adm[s, n, t]:
                    drop[s, n, t] = tmax[s, n] - ll[n, m]
    best = 0.0
    pa = np.empty(N, np.int64)
    pb = np.empty(N, np.int64)
    for n in range(N):
        pa[n] = s_hat * g_t + targ[s_hat, n]
        pb[n] = pa[n]
    K = g_t * g_t
    opt_t = np.empty((N, K), np.int64)
    opt_u = np.empty((N, K), np.int64)
    opt_g = np.empty((N, K))
    n_opt = np.empty(N, np.int64)
    rest_a = np.zeros(N + 1)
    rest_b = np.zeros(N + 1)
    rest_g = np.zeros(N + 1)
    run_a = np.zeros(N + 1)
    run_b = np.zeros(N + 1)
    run_g = np.zeros(N + 1)
    lag = np.zeros((N + 1, L, L))   # suffix sums of max over options of (g - lam da - mu db)
    choice = np.empty(N, np.int64)
    lam0 = ROOT_LAGRANGE
    proj = np.empty(g_s, np.int64)      # the set's projection, ascending: pairs are visited in the same order
    n_proj = 0
    for s in range(g_s):
        if profile[s] >= threshold:
            proj[n_proj] = s
            n_proj += 1
    for i_s in range(n_proj):
        s = proj[i_s]
        for i_s2 in range(i_s, n_proj):
            s2 = proj[i_s2]
            cap, pm = 0.0, max(pair_max[s, s2], 0.0)
            for n in range(N):
                cap += pm
            if cap <= best:     # the sum below adds N terms <= pm in the same order: it is <= cap
                continue
            ub = 0.0
            root = lam0 * (profile[s] - threshold + slack) + lam0 * (profile[s2] - threshold + slack)
            for n in range(N):
                gmax, vmax = 0.0, -np.inf
                for t in range(g_t):
                    if adm[s, n, t]:
                        for u in range(g_t):
                            if adm[s2, n, u]:
                                g = tv[s * g_t + t, s2 * g_t + u]
                                if g > gmax:
                                    gmax = g
                                v = g - lam0 * drop[s, n, t] - lam0 * drop[s2, n, u]
                                if v > vmax:
                                    vmax = v
                ub += gmax
                root += vmax
            if ub <= best or root + BOUND_MARGIN < best:
                continue
            # options of every task, sorted by decreasing distance (insertion sort, stable)
            for n in range(N):
                k = 0
                for t in range(g_t):
                    if not adm[s, n, t]:
                        continue
                    for u in range(g_t):
                        if not adm[s2, n, u]:
                            continue
                        g = tv[s * g_t + t, s2 * g_t + u]
                        j = k
                        while j > 0 and opt_g[n, j - 1] < g:
                            opt_t[n, j], opt_u[n, j], opt_g[n, j] = opt_t[n, j - 1], opt_u[n, j - 1], opt_g[n, j - 1]
                            j -= 1
                        opt_t[n, j], opt_u[n, j], opt_g[n, j] = t, u, g
                        k += 1
                n_opt[n] = k
            for n in range(N - 1, -1, -1):
                rest_a[n] = rest_a[n + 1] + tmax[s, n]
                rest_b[n] = rest_b[n + 1] + tmax[s2, n]
                rest_g[n] = rest_g[n + 1] + (opt_g[n, 0] if n_opt[n] > 0 else 0.0)
                for i in range(L):
                    for j in range(L):
                        vmax = -np.inf
                        for c in range(n_opt[n]):
                            v = opt_g[n, c] - LAGRANGE[i] * drop[s, n, opt_t[n, c]] \
                                - LAGRANGE[j] * drop[s2, n, opt_u[n, c]]
                            if v > vmax:
                                vmax = v
                        lag[n, i, j] = lag[n + 1, i, j] + vmax
            depth = 0
            choice[0] = -1
            while depth >= 0:
                choice[depth] += 1
                c = choice[depth]
                if c >= n_opt[depth] or run_g[depth] + opt_g[depth, c] + rest_g[depth + 1] <= best:
                    depth -= 1      # options are sorted: no later one can beat the best either
                    continue
                la = run_a[depth] + ll[depth, s * g_t + opt_t[depth, c]]
                lb = run_b[depth] + ll[depth, s2 * g_t + opt_u[depth, c]]
                if la + rest_a[depth + 1] < threshold - slack or lb + rest_b[depth + 1] < threshold - slack:
                    continue
                gsum = run_g[depth] + opt_g[depth, c]
                if depth == N - 1:
                    if la >= threshold and lb >= threshold and gsum > best:
                        best = gsum
                        for n in range(N):
                            pa[n] = s * g_t + opt_t[n, choice[n]]
                            pb[n] = s2 * g_t + opt_u[n, choice[n]]
                    continue
                sa = la + rest_a[depth + 1] - threshold + slack
                sb = lb + rest_b[depth + 1] - threshold + slack
                bound = np.inf
                for i in range(L):
                    for j in range(L):
                        v = LAGRANGE[i] * sa + LAGRANGE[j] * sb + lag[depth + 1, i, j]
                        if v < bound:
                            bound = v
                if gsum + bound + BOUND_MARGIN < best:
                    continue
                run_a[depth + 1], run_b[depth + 1], run_g[depth + 1] = la, lb, gsum
                depth += 1
                choice[depth] = -1
    return best, pa, pb


MODE_SINGLE, MODE_JOINT, MODE_IDENTICAL = 0, 1, 2


@njit(cache=True)
def run_umt(leaf_ll, leaf_p, tv, allowed, g_s, g_t, true_psi0, true_ops, true_index, err, vtrue, vopt, mode,
            beta, n_iter, seed):
    """Reward-free exploration by the widest pair of the confidence set (UMT-PSR), on N tasks.

    ``mode``: MODE_JOINT, the joint class {(s, t_1..t_N)} (UMT-PSR); MODE_SINGLE, each task's own class
    (the same rule task by task); MODE_IDENTICAL, N copies of one task and the class {(theta, ..., theta)}
    (the pooled likelihood).  Iteration k, data of iterations < k: the confidence set B_k (log-likelihood
    within ``beta`` of its maximum); the pair theta, theta' in B_k and per-task policies maximising
    sum_n TV(P^pi_n_theta_n, P^pi_n_theta'_n) (:func:`tv_pair_joint` or :func:`tv_pair_single`, policies by
    :func:`policy_tv`); then H episodes per task: that policy, and the same with a uniform action at each
    step h = 0..H-2 (the steps whose action enters the likelihood).  The output policy of task n is the
    optimal policy of its MLE (``vtrue[n, m]`` is the true value of candidate m's optimal policy).

    Records k = 0..n_iter (the last after all data): the width per task (mean over tasks of the pair's
    distances) and its largest task component, the largest value error over the set (mean over tasks of
    ``err[n, m] = |V_m(pi_m) - V_true(pi_m)|``, maximised over B_k by :func:`joint_optimism`), the output
    policy's suboptimality per task, coverage of the truth and the plausible shared values.  Also returns
    the final mask of plausible shared values (N, g_s) and the log-likelihood table (N, M).
    """
    np.random.seed(seed)
    N, M = err.shape
    by_leaf = np.ascontiguousarray(leaf_ll.T)    # a leaf's log-likelihoods contiguous: one row per episode
    A, O = true_ops.shape[1], true_ops.shape[2]
    H = 1
    while A ** (H - 1) * O ** H < leaf_p.shape[1]:
        H += 1
    off = node_offsets(H, A, O)
    d = true_psi0.shape[1]
    ll = _empty_loglik(N, M, allowed)
    width = np.empty(n_iter + 1)
    width_max = np.empty(n_iter + 1)
    err_max = np.empty(n_iter + 1)
    subopt = np.empty((n_iter + 1, N))
    covered = np.empty(n_iter + 1, np.bool_)
    n_shared = np.empty(n_iter + 1)
    final_mask = np.zeros((N, g_s), np.bool_)
    pa = np.empty(N, np.int64)
    pb = np.empty(N, np.int64)
    obs = np.empty(H, np.int64)
    act = np.empty(H, np.int64)
    psi, nxt = np.empty(d), np.empty(d)
    pooled = np.empty((1, M))
    if mode == MODE_JOINT:      # tables of the pair searches: fixed for the run
        pair_max = pair_max_table(tv, allowed, g_s, g_t)
    else:
        rmax, rarg = row_max_table(tv, allowed)
    for k in range(n_iter + 1):
        if mode != MODE_IDENTICAL:
            joint = mode == MODE_JOINT
            chosen, mle, cov, shared = _optimism(joint, ll, err, allowed, g_s, g_t, beta, true_index, final_mask)
            n_shared[k] = shared
            if joint:
                _, pa_j, pb_j = _tv_pair_joint(ll, tv, pair_max, allowed, g_s, g_t, beta)
                pa[:] = pa_j
                pb[:] = pb_j
            else:
                for n in range(N):
                    _, pa[n], pb[n] = _tv_pair_single(ll[n], tv, rmax, rarg, allowed, beta)
        else:
            for m in range(M):
                acc = 0.0
                for n in range(N):
                    acc += ll[n, m]
                pooled[0, m] = acc
            c1, m1, cov, masks = single_optimism(pooled, err[:1], allowed, g_s, g_t, beta, true_index[:1])
            chosen = np.full(N, c1[0])
            mle = np.full(N, m1[0])
            n_shared[k] = masks.sum()
            for n in range(N):
                final_mask[n] = masks[0]
            _, a1, b1 = _tv_pair_single(pooled[0], tv, rmax, rarg, allowed, beta)
            pa[:] = a1
            pb[:] = b1
        covered[k] = cov
        wsum, wmax, esum = 0.0, 0.0, 0.0
        for n in range(N):
            w = tv[pa[n], pb[n]]
            wsum += w
            if w > wmax:
                wmax = w
            esum += err[n, chosen[n]]
            subopt[k, n] = vopt[n] - vtrue[n, mle[n]]
        width[k], width_max[k], err_max[k] = wsum / N, wmax, esum / N
        if k == n_iter:
            break
        for n in range(N):
            _, policy = policy_tv(leaf_p[pa[n]], leaf_p[pb[n]], H, A, O)
            # the exploration policy, then a uniform action at each informative step
            _explore(ll[n], true_psi0[n], true_ops[n], policy, off, by_leaf, allowed, obs, act, psi, nxt)
    return width, width_max, err_max, subopt, covered, n_shared, final_mask, ll
