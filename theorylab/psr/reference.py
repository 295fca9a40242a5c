"""Plain-NumPy twins of the PSR kernels: the test oracle and the benchmark baseline.

Written for clarity, not speed, and where possible in the other representation: the
planner, policy evaluation and leaf probabilities work on POMDP beliefs (T, E, mu) instead of
PSR operators.  Same conventions as :mod:`theorylab.psr.kernels` (node codes, lowest-index
tie-break, lexicographic joint enumeration); randomness uses ``np.random.RandomState(seed)``
drawn in the kernels' order, which reproduces Numba's generator bit for bit.
"""

from __future__ import annotations

import itertools

import numpy as np

from theorylab.psr.kernels import node_offsets


# --- likelihoods -------------------------------------------------------------------------------------

def loglik_table(psi0s, opss, obs, act):
    """Log-space forward of every model on every trajectory, vectorised over both: (n_models, n_traj)."""
    n_traj, H = obs.shape
    psi = np.broadcast_to(psi0s[:, None, :], (psi0s.shape[0], n_traj, psi0s.shape[1])).copy()
    ll = np.zeros((psi0s.shape[0], n_traj))
    rows = np.arange(n_traj)
    with np.errstate(divide="ignore"):
        for h in range(H):
            p = psi[:, rows, obs[:, h]]
            ll += np.log(np.where(p > 0, p, 0.0))
            if h + 1 < H:
                M = opss[:, act[:, h], obs[:, h]]                       # (models, traj, d, d)
                psi = np.einsum("mtij,mtj->mti", M, psi) / np.where(p > 0, p, 1.0)[..., None]
    return ll


def loglik_pomdp(T, E, mu, obs, act):
    """log P(o | do a) by the normalised belief forward on the POMDP (no PSR): (n_traj,)."""
    out = np.empty(obs.shape[0])
    for i in range(obs.shape[0]):
        b, ll = mu.copy(), 0.0
        for h in range(obs.shape[1]):
            joint = E[obs[i, h]] * b
            p = joint.sum()
            ll += np.log(p)
            if h + 1 < obs.shape[1]:
                b = T[act[i, h]] @ (joint / p)
        out[i] = ll
    return out


# --- planning on beliefs -----------------------------------------------------------------------------

def _expectimax(T, E, R, b, h, code, H, V, policy, off, fixed):
    """Value of the decision node ``code`` of level h reached with prior belief b (before o_h); recursive."""
    n_obs, n_actions = R.shape
    o = code % n_obs
    joint = E[o] * b
    post = joint / joint.sum() if joint.sum() > 0 else b
    q = np.empty(n_actions)
    for a in range(n_actions):
        q[a] = R[o, a]
        if h + 1 < H:
            prior = T[a] @ post
            pred = E @ prior                      # law of the next observation
            for o2 in range(n_obs):
                child = (code * n_actions + a) * n_obs + o2
                q[a] += pred[o2] * _expectimax(T, E, R, prior, h + 1, child, H, V, policy, off, fixed)
    a_best = int(fixed[off[h] + code]) if fixed is not None else int(np.argmax(q))   # argmax: first maximum
    V[off[h] + code] = q[a_best]
    policy[off[h] + code] = a_best
    return q[a_best]


def _solve(T, E, mu, R, H, fixed):
    n_obs, n_actions = R.shape
    off = node_offsets(H, n_actions, n_obs)
    V = np.zeros(off[H])
    policy = np.zeros(off[H], np.int8)
    pred = E @ mu
    value = sum(pred[o] * _expectimax(T, E, R, mu, 0, o, H, V, policy, off, fixed) for o in range(n_obs))
    return float(value), policy


def plan(T, E, mu, R, H):
    """Optimal value and policy by expectimax over POMDP beliefs (node order as the kernels)."""
    return _solve(T, E, mu, R, H, None)


def policy_value(T, E, mu, R, policy, H):
    return _solve(T, E, mu, R, H, policy)[0]


def leaf_probs(T, E, mu, H):
    """P(o_0..o_{H-1} | do a_0..a_{H-2}) of every leaf, by the unnormalised belief forward."""
    n_obs, n_states = E.shape
    n_actions = T.shape[0]
    out = np.empty(n_obs ** H * n_actions ** (H - 1))
    for leaf in range(out.size):
        c, obs, act = leaf, [], []
        for h in range(H - 1, -1, -1):
            obs.append(c % n_obs)
            c //= n_obs
            if h > 0:
                act.append(c % n_actions)
                c //= n_actions
        obs, act = obs[::-1], act[::-1]
        u = mu.copy()
        for h in range(H):
            u = E[obs[h]] * u
            if h + 1 < H:
                u = T[act[h]] @ u
        out[leaf] = u.sum()
    return out


def policy_l1(g, H, A, O):
    """max_pi sum_tau pi(tau) g(tau) by recursion from the root."""
    def node(h, code):
        if h == H - 1:
            return g[code]
        return max(sum(node(h + 1, (code * A + a) * O + o) for o in range(O)) for a in range(A))
    return float(sum(node(0, o) for o in range(O)))


# --- roll-outs ---------------------------------------------------------------------------------------

def _rollout(rs, psi0, ops, policy, explore_step, H, off):
    A, O = ops.shape[0], ops.shape[1]
    psi = psi0.copy()
    obs, act = np.empty(H, np.int64), np.empty(H, np.int64)
    code = 0
    for h in range(H):
        w = np.maximum(psi, 0.0)
        u = rs.random_sample() * w.sum()
        hit = np.flatnonzero(u < np.cumsum(w))
        o = int(hit[0]) if hit.size else O - 1
        code = o if h == 0 else code * O + o
        a = min(int(rs.random_sample() * A), A - 1) if h == explore_step else int(policy[off[h] + code])
        obs[h], act[h] = o, a
        if h + 1 < H:
            code = code * A + a
            psi = ops[a, o] @ psi / psi[o]
    return obs, act, code


def rollouts(psi0, ops, policy, explore_steps, seed):
    rs = np.random.RandomState(seed)
    A, O = ops.shape[0], ops.shape[1]
    H = 1
    while node_offsets(H, A, O)[H] < policy.shape[0]:
        H += 1
    off = node_offsets(H, A, O)
    out = [_rollout(rs, psi0, ops, policy, int(e), H, off) for e in explore_steps]
    return (np.array([o for o, _, _ in out]), np.array([a for _, a, _ in out]),
            np.array([c for _, _, c in out], np.int64))


# --- optimistic MLE ----------------------------------------------------------------------------------

def _left_sum(values) -> float:
    total = 0.0
    for v in values:
        total += v
    return total


def joint_optimism(ll, vstar, allowed, g_s, g_t, beta, true_index):
    """Brute force over every tuple (s, t_1..t_N) in lexicographic order (sums accumulated left to right)."""
    N = ll.shape[0]
    tuples = [(s, ts) for s in range(g_s) for ts in itertools.product(range(g_t), repeat=N)
              if all(allowed[s * g_t + t] for t in ts)]
    lls = [_left_sum(ll[n, s * g_t + t] for n, t in enumerate(ts)) for s, ts in tuples]
    ll_max = max(lls)
    threshold = ll_max - beta
    s_hat, t_hat = tuples[int(np.argmax(lls))]
    best, chosen = -np.inf, None
    mask = np.zeros(g_s, bool)
    for (s, ts), value in zip(tuples, lls):
        if value >= threshold:
            mask[s] = True
            v = _left_sum(vstar[n, s * g_t + t] for n, t in enumerate(ts))
            if v > best:
                best, chosen = v, (s, ts)
    to_index = lambda s, ts: np.array([s * g_t + t for t in ts], np.int64)   # noqa: E731
    truth = [int(i) for i in true_index]
    same_s = all(i >= 0 for i in truth) and len({i // g_t for i in truth}) == 1
    covered = same_s and all(allowed[i] for i in truth) and \
        _left_sum(ll[n, i] for n, i in enumerate(truth)) >= threshold
    return to_index(*chosen), to_index(s_hat, t_hat), bool(covered), mask


def single_optimism(ll, vstar, allowed, g_s, g_t, beta, true_index):
    N, M = ll.shape
    chosen, mle = np.zeros(N, np.int64), np.zeros(N, np.int64)
    mask = np.zeros((N, g_s), bool)
    covered = True
    idx = np.flatnonzero(allowed)
    for n in range(N):
        mle[n] = idx[np.argmax(ll[n, idx])]
        inside = idx[ll[n, idx] >= ll[n, mle[n]] - beta]
        chosen[n] = inside[np.argmax(vstar[n, inside])]
        mask[n, np.unique(inside // g_t)] = True
        ti = int(true_index[n])
        covered &= ti >= 0 and bool(allowed[ti]) and ll[n, ti] >= ll[n, mle[n]] - beta
    return chosen, mle, bool(covered), mask


def run_omle(leaf_ll, allowed, g_s, g_t, true_psi0, true_ops, true_index, policies, vstar, vtrue, vopt, joint,
             beta, n_iter, seed):
    """The learner loop of :func:`theorylab.psr.kernels.run_omle` built from the twins above."""
    rs = np.random.RandomState(seed)
    N, M = vstar.shape
    A, O = true_ops.shape[1], true_ops.shape[2]
    H = 1
    while node_offsets(H, A, O)[H] < policies.shape[2]:
        H += 1
    off = node_offsets(H, A, O)
    ll = np.where(allowed[None, :], 0.0, -np.inf) * np.ones((N, 1))
    gap, subopt, subopt_mle = (np.empty((n_iter + 1, N)) for _ in range(3))
    covered, n_shared = np.empty(n_iter + 1, bool), np.empty(n_iter + 1)
    mask = None
    for k in range(n_iter + 1):
        if joint:
            chosen, mle, cov, m = joint_optimism(ll, vstar, allowed, g_s, g_t, beta, true_index)
            mask = np.tile(m, (N, 1))
        else:
            chosen, mle, cov, mask = single_optimism(ll, vstar, allowed, g_s, g_t, beta, true_index)
        covered[k], n_shared[k] = cov, mask.sum() / N
        rows = np.arange(N)
        gap[k] = vstar[rows, chosen] - vtrue[rows, chosen]
        subopt[k] = vopt - vtrue[rows, chosen]
        subopt_mle[k] = vopt - vtrue[rows, mle]
        if k == n_iter:
            break
        for n in range(N):
            for step in range(-1, H - 1):      # on-policy, then a uniform action at each informative step
                _, _, leaf = _rollout(rs, true_psi0[n], true_ops[n], policies[n, chosen[n]], step, H, off)
                ll[n, allowed] += leaf_ll[allowed, leaf]
    return gap, subopt, subopt_mle, covered, n_shared, mask, ll


# --- reward-free exploration: the widest total-variation pair ----------------------------------------

def policy_tv(p, q, H, A, O):
    """max over deterministic policies of 1/2 sum_tau pi(tau) |p - q|, by recursion from the root; the policy
    takes the first maximising action at every node of levels 0..H-2 (0 at the last level)."""
    off = node_offsets(H, A, O)
    policy = np.zeros(off[H], np.int8)
    g = np.abs(p - q)

    def node(h, code):
        if h == H - 1:
            return g[code]
        sums = [sum(node(h + 1, (code * A + a) * O + o) for o in range(O)) for a in range(A)]
        policy[off[h] + code] = int(np.argmax(sums))
        return max(sums)
    return 0.5 * float(sum(node(0, o) for o in range(O))), policy


def tv_pair_single(ll, tv, allowed, beta):
    """Brute force over the upper triangle of the confidence set's pairs, row-major (the first maximiser)."""
    idx = np.flatnonzero(allowed)
    first = idx[np.argmax(ll[idx])]
    inside = idx[ll[idx] >= ll[first] - beta]
    best, a, b = 0.0, int(first), int(first)
    for i, j in itertools.combinations(inside, 2):
        if tv[i, j] > best:
            best, a, b = float(tv[i, j]), int(i), int(j)
    return best, a, b


def tv_pair_joint(ll, tv, allowed, g_s, g_t, beta):
    """Brute force over every pair of tuples (s, t_1..t_N) of the joint confidence set; sums left to right.

    Returns the width and one maximising pair (the first in lexicographic order of (theta, theta')).
    """
    N = ll.shape[0]
    tuples = [np.array([s * g_t + t for t in ts]) for s in range(g_s)
              for ts in itertools.product(range(g_t), repeat=N) if all(allowed[s * g_t + t] for t in ts)]
    lls = np.array([_left_sum(ll[n, m] for n, m in enumerate(tup)) for tup in tuples])
    inside = [tup for tup, v in zip(tuples, lls) if v >= lls.max() - beta]
    best, pair = 0.0, (inside[0], inside[0])
    for x, y in itertools.product(inside, repeat=2):
        w = _left_sum(tv[x[n], y[n]] for n in range(N))
        if w > best:
            best, pair = w, (x, y)
    return best, pair[0], pair[1]


def run_umt(leaf_ll, leaf_p, tv, allowed, g_s, g_t, true_psi0, true_ops, true_index, err, vtrue, vopt, mode,
            beta, n_iter, seed):
    """The loop of :func:`theorylab.psr.kernels.run_umt` built from the twins above (brute-force pair search
    and confidence sets, RandomState roll-outs)."""
    rs = np.random.RandomState(seed)
    N, M = err.shape
    A, O = true_ops.shape[1], true_ops.shape[2]
    H = 1
    while A ** (H - 1) * O ** H < leaf_p.shape[1]:
        H += 1
    off = node_offsets(H, A, O)
    ll = np.where(allowed[None, :], 0.0, -np.inf) * np.ones((N, 1))
    width, width_max, err_max = np.empty(n_iter + 1), np.empty(n_iter + 1), np.empty(n_iter + 1)
    subopt = np.empty((n_iter + 1, N))
    covered, n_shared = np.empty(n_iter + 1, bool), np.empty(n_iter + 1)
    mask = None
    rows = np.arange(N)
    for k in range(n_iter + 1):
        if mode == 1:
            chosen, mle, cov, m = joint_optimism(ll, err, allowed, g_s, g_t, beta, true_index)
            mask = np.tile(m, (N, 1))
            _, pa, pb = tv_pair_joint(ll, tv, allowed, g_s, g_t, beta)
        elif mode == 0:
            chosen, mle, cov, mask = single_optimism(ll, err, allowed, g_s, g_t, beta, true_index)
            pairs = [tv_pair_single(ll[n], tv, allowed, beta) for n in range(N)]
            pa, pb = np.array([p[1] for p in pairs]), np.array([p[2] for p in pairs])
        else:
            pooled = np.zeros((1, M))
            for n in range(N):      # summed task by task, as the kernel does
                pooled[0] += ll[n]
            c1, m1, cov, m = single_optimism(pooled, err[:1], allowed, g_s, g_t, beta, true_index[:1])
            chosen, mle, mask = np.repeat(c1, N), np.repeat(m1, N), np.tile(m, (N, 1))
            _, a1, b1 = tv_pair_single(pooled[0], tv, allowed, beta)
            pa, pb = np.full(N, a1), np.full(N, b1)
        covered[k], n_shared[k] = cov, mask.sum() / N
        w = tv[pa, pb]
        width[k], width_max[k] = _left_sum(w) / N, max(w.max(), 0.0)
        err_max[k] = _left_sum(err[rows, chosen]) / N
        subopt[k] = vopt - vtrue[rows, mle]
        if k == n_iter:
            break
        for n in range(N):
            _, policy = policy_tv(leaf_p[pa[n]], leaf_p[pb[n]], H, A, O)
            for step in range(-1, H - 1):
                _, _, leaf = _rollout(rs, true_psi0[n], true_ops[n], policy, step, H, off)
                ll[n, allowed] += leaf_ll[allowed, leaf]
    return width, width_max, err_max, subopt, covered, n_shared, mask, ll
