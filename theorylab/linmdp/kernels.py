"""Numba kernels of M concurrent episodic linear MDPs learned by optimistic least-squares value iteration.

Arrays in, arrays out.  Conventions shared by every kernel:

* task ``i`` is a time-homogeneous MDP with S states, A actions and horizon H: transition law
  ``P[i, s, a, :]`` (its cumulative sums in ``Pcum``), Bernoulli rewards of mean ``R[i, s, a]`` in
  [0, 1], initial law ``rho`` (cumulative sums ``rho_cum``); steps are 0-based, ``h = 0..H-1``;
* a learner is given a finite class of feature maps ``feats[j, s, a, :]`` in R^d (j < N); one map
  (the known representation, or one-hot (s, a) features) is the class N = 1;
* randomness: after ``np.random.seed(seed)`` every episode draws, for every task in order, the
  uniforms ``(u_0, u_r0, u_s0, ..., u_r(H-1), u_s(H-1))`` as ``np.random.random()``: the initial
  state is ``rho``'s inverse CDF at ``u_0``, the step-h reward is ``u_rh < R`` and the next state
  ``P``'s inverse CDF at ``u_sh``.  The draws never depend on the actions, so every learner faces
  the same uniforms (common random numbers), bit-identical to
  ``np.random.RandomState(seed).random_sample`` in the same order (the NumPy twins rely on this);
* ``rec`` lists episode counts (1-based, increasing) after which cumulative quantities are stored;
* ties in an argmax go to the lowest action / candidate index.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from theorylab.core.ridge import dot, matvec, quad, ridge_priors, sherman_morrison, drop_stale_compilations

drop_stale_compilations(__file__)  # cached machine code may hold an older version of those helpers

# --- exact dynamic programming ----------------------------------------------------------------------


@njit(cache=True)
def backup(P, R, s, a, V):
    """R[s, a] + sum_t P[s, a, t] V[t]: the Bellman backup of V at (s, a) (P may be unnormalised counts)."""
    q = R[s, a]
    for t in range(V.shape[0]):
        q += P[s, a, t] * V[t]
    return q


@njit(cache=True)
def optimal_values(P, R, H):
    """V*[h, s] of one task by backward induction (V*[H] = 0); shape (H + 1, S)."""
    S, A = R.shape
    V = np.zeros((H + 1, S))
    for h in range(H - 1, -1, -1):
        for s in range(S):
            best = -np.inf
            for a in range(A):
                q = backup(P, R, s, a, V[h + 1])
                if q > best:
                    best = q
            V[h, s] = best
    return V


@njit(cache=True)
def policy_values(P, R, policy):
    """V^pi[h, s] of the deterministic non-stationary policy ``policy[h, s]`` (exact evaluation)."""
    H, S = policy.shape
    V = np.zeros((H + 1, S))
    for h in range(H - 1, -1, -1):
        for s in range(S):
            V[h, s] = backup(P, R, s, policy[h, s], V[h + 1])
    return V


@njit(cache=True)
def inverse_cdf(cum, u):
    """Smallest index with cum[index] > u (the last one if rounding leaves cum[-1] <= u)."""
    n = cum.shape[0]
    k = 0
    while k < n - 1 and u >= cum[k]:
        k += 1
    return k


# --- linear algebra ---------------------------------------------------------------------------------

@njit(cache=True)
def lsvi_radius(d, n, lam, log_n_over_delta, H):
    """H sqrt(d log(1 + n / (lam d)) + 2 log(N/delta)): the self-normalised ridge radius times the value range H."""
    return H * np.sqrt(d * np.log(1.0 + n / (lam * d)) + 2.0 * log_n_over_delta)


@njit(cache=True)
def representation_threshold(d, n, lam, log_n_over_delta, tasks, outputs):
    """Excess test loss allowed for a representation, summed over ``tasks`` tasks of n samples each.

    The test regresses ``outputs`` targets in [0, 1] (noise proxy 1/4) on phi_j, each with its own head of
    norm^2 <= d; per target 1/4 (2 log(N outputs / delta) + m d log(1 + n / (lam d))) + lam m d: a union over
    the N candidates and the targets, the m ridge heads' log-determinant and the true heads' ridge penalty.
    """
    per_target = (0.25 * (2.0 * (log_n_over_delta + np.log(outputs)) + tasks * d * np.log(1.0 + n / (lam * d)))
                  + lam * tasks * d)
    return outputs * per_target


@njit(cache=True)
def lsvi(Phi, Linv, counts, rsum, H, coef, Q):
    """Optimistic least-squares value iteration of one task on one feature map, in place into Q (H, S, A).

    ``Phi`` (S, A, d); ``Linv`` = (lam I + sum over all transitions phi phi^T)^{-1}; ``counts[s, a, t]`` and
    ``rsum[s, a]`` are the task's transition counts and summed rewards.  The MDP is time-homogeneous, so
    every step regresses on all transitions: w_h = Linv sum phi(s, a) (r + V_{h+1}(s')) and
    Q_h = min(H - h, w_h . phi + coef ||phi||_{Linv}).  Returns V_0 (S,).
    """
    S, A, d = Phi.shape
    bonus = np.empty((S, A))
    for s in range(S):
        for a in range(A):
            bonus[s, a] = coef * np.sqrt(quad(Linv, Phi[s, a]))
    V = np.zeros(S)
    b = np.empty(d)
    w = np.empty(d)
    for h in range(H - 1, -1, -1):
        b[:] = 0.0
        for s in range(S):
            for a in range(A):
                y = backup(counts, rsum, s, a, V)
                if y != 0.0:
                    for l in range(d):
                        b[l] += Phi[s, a, l] * y
        matvec(Linv, b, w)
        cap = float(H - h)
        for s in range(S):
            best = -np.inf
            for a in range(A):
                q = bonus[s, a]
                for l in range(d):
                    q += w[l] * Phi[s, a, l]
                if q > cap:
                    q = cap
                Q[h, s, a] = q
                if q > best:
                    best = q
            V[s] = best
    return V


# --- the learner ------------------------------------------------------------------------------------

@njit(cache=True)
def run_lsvi(seed, episodes, H, P, Pcum, R, rho, rho_cum, feats, true_index, shared, lam,
             bonus_scale, rep_scale, log_inv_delta, rec):
    """M tasks learned for ``episodes`` episodes by optimistic LSVI over a finite class of feature maps.

    Representation confidence set: each candidate j has, per task, the ridge test loss of the S + 1
    targets ``(r, 1[s' = 0], ..., 1[s' = S - 1])`` on phi_j (their means, the reward and the transition
    law, are linear in the true features; each target has its own head); a group of tasks keeps
    every j whose loss summed over the group is within ``rep_scale * representation_threshold`` of the
    group's smallest.  ``shared``: one group of all M tasks (the representation is learned from every
    task's data); otherwise each task is its own group.  Every group then runs optimistic LSVI in each
    member task for every kept j and plays, in all its tasks, the j with the largest summed optimistic
    initial value (sum_i rho . V_0^{i, j}), acting greedily on that j's optimistic Q.

    Returns (regret (M, R), kept (M, R), picked_true (M, R), missed (M, R), mc (M, 4)): cumulative exact
    regret rho . (V* - V^pi) per task; the size of the task's kept set; episodes in which the played map
    was ``true_index``; episodes in which ``true_index`` was outside the task's kept set; and, over all
    episodes, [sum G, sum rho . V^pi, sum (G - rho . V^pi), sum (G - rho . V^pi)^2] with G the realised return.
    """
    M, S, A, _ = P.shape
    N, _, _, d = feats.shape
    np.random.seed(seed)
    Rn = rec.shape[0]
    v_opt = np.empty(M)
    for i in range(M):
        v_opt[i] = dot(rho, optimal_values(P[i], R[i], H)[0])
    Linv = ridge_priors((M, N), d, lam)[0]          # one ridge regression per task and map
    btest = np.zeros((M, N, S + 1, d))
    yy = np.zeros(M)
    counts = np.zeros((M, S, A, S))
    rsum = np.zeros((M, S, A))
    loss = np.empty((M, N))
    kept = np.zeros(N, np.bool_)
    group_loss = np.empty(N)
    pick = np.zeros(M, np.int64)
    Q = np.empty((H, S, A))
    policy = np.empty((M, H, S), np.int64)
    tmp = np.empty(d)
    U = np.empty((M, 1 + 2 * H))
    cum = np.zeros(M)
    n_kept = np.zeros(M)
    hits = np.zeros(M)
    misses = np.zeros(M)
    true_in = np.zeros(M, np.bool_)
    regret = np.zeros((M, Rn))
    kept_rec = np.zeros((M, Rn))
    hits_rec = np.zeros((M, Rn))
    miss_rec = np.zeros((M, Rn))
    mc = np.zeros((M, 4))
    log_n = np.log(N) + log_inv_delta
    n_groups = 1 if shared else M
    r = 0
    for k in range(episodes):
        for i in range(M):
            for c in range(1 + 2 * H):
                U[i, c] = np.random.random()
        n = float(k * H)                     # transitions seen by every task so far
        coef = bonus_scale * lsvi_radius(d, n, lam, log_n, H)
        # test losses: sum over targets c of min_w sum (y_c - w . phi_j)^2 + lam |w|^2 = sum y_c^2 - b_c^T Linv b_c
        for i in range(M):
            for j in range(N):
                x = yy[i]
                for c in range(S + 1):
                    x -= quad(Linv[i, j], btest[i, j, c])
                loss[i, j] = x
        for grp in range(n_groups):
            lo = 0 if shared else grp
            hi = M if shared else grp + 1
            size = hi - lo
            beta = rep_scale * representation_threshold(d, n, lam, log_n, size, S + 1)
            best_loss = np.inf
            for j in range(N):
                tot = 0.0
                for i in range(lo, hi):
                    tot += loss[i, j]
                group_loss[j] = tot
                if tot < best_loss:
                    best_loss = tot
            n_in = 0
            for j in range(N):
                kept[j] = group_loss[j] <= best_loss + beta
                n_in += kept[j]
            top, choice = -np.inf, 0
            for j in range(N):
                if not kept[j]:
                    continue
                tot = 0.0
                for i in range(lo, hi):
                    V0 = lsvi(feats[j], Linv[i, j], counts[i], rsum[i], H, coef, Q)
                    for s in range(S):
                        tot += rho[s] * V0[s]
                if tot > top:
                    top, choice = tot, j
            for i in range(lo, hi):
                pick[i] = choice
                n_kept[i] = n_in
                true_in[i] = true_index < 0 or kept[true_index]
                lsvi(feats[choice], Linv[i, choice], counts[i], rsum[i], H, coef, Q)
                for h in range(H):
                    for s in range(S):
                        best_a, top_q = 0, Q[h, s, 0]
                        for a in range(1, A):
                            if Q[h, s, a] > top_q:
                                top_q, best_a = Q[h, s, a], a
                        policy[i, h, s] = best_a
        # play one episode in every task, then add its transitions to the statistics
        for i in range(M):
            vp = dot(rho, policy_values(P[i], R[i], policy[i])[0])
            cum[i] += v_opt[i] - vp
            if pick[i] == true_index:
                hits[i] += 1.0
            if not true_in[i]:
                misses[i] += 1.0
            s = inverse_cdf(rho_cum, U[i, 0])
            ret = 0.0
            for h in range(H):
                a = policy[i, h, s]
                rew = 1.0 if U[i, 1 + 2 * h] < R[i, s, a] else 0.0
                s2 = inverse_cdf(Pcum[i, s, a], U[i, 2 + 2 * h])
                ret += rew
                counts[i, s, a, s2] += 1.0
                rsum[i, s, a] += rew
                yy[i] += rew + 1.0                 # squares of 0/1 targets: the reward and one indicator
                for j in range(N):
                    sherman_morrison(Linv[i, j], feats[j, s, a], tmp)
                    for l in range(d):
                        btest[i, j, 0, l] += rew * feats[j, s, a, l]
                        btest[i, j, 1 + s2, l] += feats[j, s, a, l]
                s = s2
            mc[i, 0] += ret
            mc[i, 1] += vp
            mc[i, 2] += ret - vp
            mc[i, 3] += (ret - vp) ** 2
        if r < Rn and rec[r] == k + 1:
            for i in range(M):
                regret[i, r] = cum[i]
                kept_rec[i, r] = n_kept[i]
                hits_rec[i, r] = hits[i]
                miss_rec[i, r] = misses[i]
            r += 1
    return regret, kept_rec, hits_rec, miss_rec, mc
