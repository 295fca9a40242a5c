"""Closed forms, bounds and exhaustive references for the PSR study.

Class sizes and confidence radii
--------------------------------
For a finite class Theta containing the truth, ``exp(LL_k(theta) - LL_k(theta*))`` is a
non-negative martingale of mean 1 under any adaptive data collection (the policy's
probabilities cancel in the likelihood ratio), so by Ville's inequality and a union bound
the truth stays in ``{theta: LL_k(theta) >= max LL_k - beta}`` for every k with
probability >= 1 - delta when ``beta = log(|Theta| / delta)``.  The joint class of N tasks
with a shared parameter has ``log |Theta_u| = log g_s + N log g_t`` (a + N b); N separate
classes have ``N log(g_s g_t)`` (N (a + b)) and each needs ``log(g_s g_t) + log(N / delta)``.

Rate
----
In the asymptotic regime the confidence set's extent along the shared parameter is
``sqrt(2 beta / (N k I))`` (Wilks: the profile log-likelihood of N k I-informative episodes is
quadratic), and the TV width of the set (and the optimistic gap V_bar(pi) - V(pi)) is
proportional to it: ``width ~ c sqrt(beta / (N k))``.  Episodes per task to reach epsilon scale like
``beta / (N epsilon^2)``: ``beta_joint / N = (a + log(1/delta)) / N + b`` for UMT-PSR against
``beta_single = a + b + log(N / delta)`` for N separate learners.  N identical tasks pool their
data into one class of radius ``beta_single(N = 1)``: episodes per task ~ 1 / N.

Value differences
-----------------
For a return in [0, H], |E_P G - E_Q G| <= H TV(P, Q).  If the truth is in the confidence set,
every model of the set has value error at most H times the set's TV width (per task, summed over
tasks), and the optimal policy of the MLE has suboptimality at most twice that.

Exhaustive references (tiny problems only): all deterministic policies, all latent paths.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from theorylab.psr import kernels


# --- class sizes and radii ---------------------------------------------------------------------------

def log_joint_size(g_s: int, g_t: int, n_tasks: int) -> float:
    """log |{(theta[s, t_1], ..., theta[s, t_N])}| = log g_s + N log g_t."""
    return math.log(g_s) + n_tasks * math.log(g_t)


def log_product_size(g_s: int, g_t: int, n_tasks: int) -> float:
    """log of the product of N single-task classes: N log(g_s g_t)."""
    return n_tasks * math.log(g_s * g_t)


def beta_joint(g_s: int, g_t: int, n_tasks: int, delta: float) -> float:
    """Union-bound radius of the joint class: log(|Theta_u| / delta)."""
    return log_joint_size(g_s, g_t, n_tasks) + math.log(1.0 / delta)


def beta_single(g_s: int, g_t: int, n_tasks: int, delta: float) -> float:
    """Radius of each of N single-task classes at overall confidence delta: log(g_s g_t N / delta)."""
    return math.log(g_s * g_t) + math.log(n_tasks / delta)


def surjections(n: int, j: int) -> int:
    """Number of maps of n labelled tasks onto j labelled models, by the recurrence
    S(n, j) = j (S(n - 1, j) + S(n - 1, j - 1)) (exact integers)."""
    row = [1] + [0] * j                   # n = 0
    for _ in range(n):
        row = [0] + [k * (row[k] + row[k - 1]) for k in range(1, j + 1)]
    return row[j]


def core_task_tuples(n_models: int, n_tasks: int, n_core: int) -> int:
    """Distinct N-tuples of models of a class of n_models that use at most n_core different models: the size of
    the core-task joint class {(phi_c1, ..., phi_cN)} (choose the j <= m models used, then a map onto them)."""
    return sum(math.comb(n_models, j) * surjections(n_tasks, j) for j in range(1, min(n_core, n_tasks) + 1))


# --- readouts ----------------------------------------------------------------------------------------

def crossing(x: np.ndarray, y: np.ndarray, level: float) -> float:
    """First x at which the curve y(x) falls to ``level``, interpolated linearly in (log x, log y); nan if never.

    ``x`` must be positive and increasing; ``y`` positive where it is interpolated.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    below = np.flatnonzero(y <= level)
    if below.size == 0:
        return float("nan")
    i = int(below[0])
    if i == 0:
        return float(x[0])
    x0, x1, y0, y1 = x[i - 1], x[i], y[i - 1], y[i]
    if y1 <= 0:
        return float(x1)
    f = (math.log(y0) - math.log(level)) / (math.log(y0) - math.log(y1))
    return float(math.exp(math.log(x0) + f * (math.log(x1) - math.log(x0))))


# --- bracketing --------------------------------------------------------------------------------------

def envelope_width(P: np.ndarray, horizon: int, n_actions: int, n_obs: int) -> float:
    """Width ||max_i P_i - min_i P_i||_inf^p of the tightest bracket holding the rows of P (leaf probabilities)."""
    return kernels.policy_l1(P.max(axis=0) - P.min(axis=0), horizon, n_actions, n_obs)


def shared_groups(leaf_p: np.ndarray, g_s: int, g_t: int, eta: float, horizon: int,
                  n_actions: int = 2, n_obs: int = 3) -> int:
    """Greedy left-to-right partition of the shared grid into runs whose bracket width is <= eta for every level.

    Each run s_i..s_j times one level per task is one eta-bracket of the joint class, so
    ``groups * g_t^N`` brackets cover it (an upper bound on N_eta; the product class needs
    ``(groups g_t)^N`` the same way).
    """
    P = leaf_p.reshape(g_s, g_t, -1)
    groups, start = 1, 0
    for s in range(1, g_s):
        width = max(envelope_width(P[start:s + 1, t], horizon, n_actions, n_obs) for t in range(g_t))
        if width > eta:
            groups += 1
            start = s
    return groups


# --- exhaustive references ---------------------------------------------------------------------------

def trajectory_probs_paths(T: np.ndarray, E: np.ndarray, mu: np.ndarray, obs: np.ndarray,
                           act: np.ndarray) -> np.ndarray:
    """P(o_1..o_H | do a_1..a_{H-1}) as the sum over all S^H latent paths (POMDP form, no PSR)."""
    n_states = mu.size
    H = obs.shape[1]
    out = np.zeros(obs.shape[0])
    for path in itertools.product(range(n_states), repeat=H):
        w = mu[path[0]] * E[obs[:, 0], path[0]]
        for h in range(1, H):
            w = w * T[act[:, h - 1], path[h], path[h - 1]] * E[obs[:, h], path[h]]
        out += w
    return out


def _observation_sequences(horizon: int, n_obs: int) -> list[tuple[int, ...]]:
    return list(itertools.product(range(n_obs), repeat=horizon))


def policy_return_paths(T, E, mu, R, policy, horizon: int, probs: dict | None = None) -> float:
    """Expected return of a deterministic policy: sum over observation sequences of P(o | do a(o)) times the
    rewards, P by latent-path enumeration (``probs`` caches it by (observations, actions))."""
    n_obs, n_actions = R.shape
    off = kernels.node_offsets(horizon, n_actions, n_obs)
    total = 0.0
    for obs in _observation_sequences(horizon, n_obs):
        code, acts = 0, []
        for h, o in enumerate(obs):
            code = o if h == 0 else code * n_obs + o
            a = int(policy[off[h] + code])
            acts.append(a)
            code = code * n_actions + a
        key = (obs, tuple(acts[:-1]))   # the last action does not change the observations' law
        if probs is None or key not in probs:
            p = trajectory_probs_paths(T, E, mu, np.array([obs]), np.array([acts]))[0]
            if probs is None:
                probs = {}
            probs[key] = p
        total += probs[key] * sum(R[o, a] for o, a in zip(obs, acts))
    return total


def optimal_value_bruteforce(T, E, mu, R, horizon: int) -> tuple[float, int]:
    """max over every deterministic history-dependent policy (all nodes' actions enumerated); (value, count)."""
    n_obs, n_actions = R.shape
    n_nodes = int(kernels.node_offsets(horizon, n_actions, n_obs)[horizon])
    if n_actions ** n_nodes > 5000:
        raise ValueError(f"horizon must keep the policy enumeration <= 5000 policies (got {n_actions}^{n_nodes})")
    probs: dict = {}
    best = max(policy_return_paths(T, E, mu, R, np.array(policy), horizon, probs)
               for policy in itertools.product(range(n_actions), repeat=n_nodes))
    return best, n_actions ** n_nodes


def policy_l1_bruteforce(g: np.ndarray, horizon: int, n_actions: int, n_obs: int) -> float:
    """max over deterministic policies of sum_tau pi(tau) g(tau), enumerating the actions of levels < H - 1."""
    off = kernels.node_offsets(horizon, n_actions, n_obs)
    n_free = int(off[horizon - 1])    # the last action does not change which leaf is reached
    if n_actions ** n_free > 5000:
        raise ValueError(f"horizon must keep the policy enumeration <= 5000 policies (got {n_actions}^{n_free})")
    best = -np.inf
    for actions in itertools.product(range(n_actions), repeat=n_free):
        total = 0.0
        for obs in itertools.product(range(n_obs), repeat=horizon):
            code = obs[0]
            for h in range(1, horizon):
                code = (code * n_actions + actions[off[h - 1] + code]) * n_obs + obs[h]
            total += g[code]
        best = max(best, total)
    return best
