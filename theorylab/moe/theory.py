"""Exact comparators for ALF-LB: the assignment LP, its dual, and the Gumbel K = 1 closed forms.

Assignment problem (T tokens, E experts, K experts per token, target load L = KT/E):

    OPT = max sum_ik gamma_ik x_ik   s.t.  sum_k x_ik = K,  sum_i x_ik = L,  0 <= x_ik <= 1.

Its constraint matrix is the incidence matrix of a bipartite graph (totally
unimodular), so for integer L the LP has an integral optimal vertex: LP = IP.
Keeping the token constraints and the box in the primal step gives the dual function

    D(p) = sum_i S_K(gamma_i + p) - L sum_k p_k,

S_K = sum of the K largest entries; D is convex, piecewise linear, invariant under
p -> p + c 1, D(p) >= OPT for every p (weak duality) and min_p D = OPT.  A subgradient
is A(p) - L with A(p) the loads of top-K routing by gamma + p.

The optimal duals are the "clearing prices" supporting an optimal assignment x*:
p is optimal iff every token's x*-set is a top-K set of gamma_i + p, i.e. iff
p_j - p_k <= gamma_ik - gamma_ij whenever k is in S*_i and j is not — a system of
difference constraints solved exactly by shortest paths.

Online testbed (K = 1): gamma_ik = c_k + sigma G_ik with G i.i.d. standard Gumbel.  The
expected batch dual is F(p) = T (sigma log sum_k exp((c_k + p_k) / sigma) + sigma
gamma_Euler) - L sum_k p_k, with gradient T softmax((c + p) / sigma) - L, minimiser
p* = -c (mod 1) and Hessian (T / sigma)(diag pi - pi pi^T), whose eigenvalues on the
subspace orthogonal to 1 all equal mu = L / sigma at p*.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import scipy.sparse as sp
from scipy import integrate, stats
from scipy.optimize import linear_sum_assignment, linprog
from scipy.special import logsumexp, softmax


def target_load(tokens: int, experts: int, top_k: int) -> int:
    """L = K T / E, which must be an integer (otherwise exact balance is impossible)."""
    if (tokens * top_k) % experts:
        raise ValueError(f"tokens * top_k must be divisible by experts (got {tokens} * {top_k} "
                         f"and {experts} experts)")
    return tokens * top_k // experts


# --- the dual function and top-K routing -------------------------------------------------------------

def topk_sets(gamma: np.ndarray, bias: np.ndarray, top_k: int) -> np.ndarray:
    """Top-K experts of gamma_i + bias per token, lowest index first among ties (stable sort)."""
    v = np.asarray(gamma, float) + np.asarray(bias, float)
    return np.argsort(-v, axis=1, kind="stable")[:, :top_k]


def sum_top_k(v: np.ndarray, top_k: int) -> np.ndarray:
    """S_K of each row."""
    return np.sort(np.asarray(v, float), axis=-1)[..., -top_k:].sum(axis=-1)


def dual_function(gamma: np.ndarray, bias: np.ndarray, top_k: int, loads: np.ndarray | None = None) -> float:
    """D(p) = sum_i S_K(gamma_i + p) - sum_k L_k p_k, with L_k = L = KT/E unless ``loads`` gives them."""
    T, E = gamma.shape
    capacity = np.full(E, target_load(T, E, top_k)) if loads is None else np.asarray(loads, float)
    return float(sum_top_k(gamma + bias, top_k).sum() - capacity @ np.asarray(bias, float))


def lagrangian(gamma: np.ndarray, bias: np.ndarray, x: np.ndarray, load: int) -> float:
    """L(x, p) = sum_ik (gamma_ik + p_k) x_ik - L sum_k p_k."""
    return float(np.sum((gamma + bias) * x) - load * np.sum(bias))


def lagrangian_bruteforce(gamma: np.ndarray, bias: np.ndarray, top_k: int) -> float:
    """max over x in X (every token exactly K distinct experts) of L(x, p), by joint enumeration.

    Enumerates all C(E, K)^T assignments without using that the maximum separates over
    tokens; meant for T <= 4, E <= 6.
    """
    T, E = gamma.shape
    L = target_load(T, E, top_k)
    subsets = np.array(list(itertools.combinations(range(E), top_k)))
    if len(subsets) ** T > 2_000_000:
        raise ValueError(f"tokens and experts must keep C(E, K)^T <= 2e6 for brute force (got {len(subsets)}^{T})")
    v = gamma + bias
    per_token = [v[i, subsets].sum(axis=1) for i in range(T)]  # value of each subset for token i
    total = per_token[0]
    for row in per_token[1:]:
        total = np.add.outer(total, row)
    return float(total.max() - L * np.sum(bias))


# --- exact assignment optimum ------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Assignment:
    """An optimal assignment: value, 0/1 matrix, per-token expert sets, and (LP) optimal dual prices."""

    value: float
    x: np.ndarray
    sel: np.ndarray
    prices: np.ndarray | None = None
    integrality_error: float = 0.0


def _constraints(T: int, E: int) -> sp.csr_matrix:
    """Token rows (T) then expert columns (E - 1: the last is implied, the two families share KT)."""
    rows = sp.kron(sp.eye(T), np.ones((1, E)))
    cols = sp.kron(np.ones((1, T)), sp.eye(E)).tocsr()[:-1]
    return sp.vstack([rows, cols]).tocsr()


def assignment_lp(gamma: np.ndarray, top_k: int, loads: np.ndarray | None = None) -> Assignment:
    """Solve the box-constrained assignment LP with HiGHS dual simplex (a vertex, hence integral).

    The expert loads are all L = KT/E unless ``loads`` (integers summing to KT) prescribes
    them: the best routing with those loads.  Dual prices: the expert-constraint marginals of the minimisation of -gamma x, with the
    dropped constraint's price 0, then centred.  They are validated by D(p*) = OPT
    (relative 1e-9) so a change of the solver's sign convention cannot pass silently.
    """
    gamma = np.asarray(gamma, float)
    T, E = gamma.shape
    capacity = np.full(E, target_load(T, E, top_k)) if loads is None else np.asarray(loads)
    if capacity.shape != (E,) or capacity.sum() != T * top_k or capacity.min() < 0 or capacity.max() > T:
        raise ValueError(f"loads must be {E} integers in [0, {T}] summing to K T = {T * top_k} (got {capacity!r})")
    b = np.concatenate([np.full(T, float(top_k)), capacity[:-1].astype(float)])
    res = linprog(-gamma.ravel(), A_eq=_constraints(T, E), b_eq=b, bounds=(0, 1), method="highs-ds")
    if res.status != 0:
        raise RuntimeError(f"assignment LP failed: {res.message}")
    x = res.x.reshape(T, E)
    xi = np.rint(x)
    integrality = float(np.abs(x - xi).max())
    if integrality > 1e-6:
        raise RuntimeError(f"assignment LP returned a fractional point (max |x - round x| = {integrality:.2e})")
    value = float(-res.fun)
    prices = np.append(res.eqlin.marginals[T:], 0.0)
    prices -= prices.mean()
    dual = dual_function(gamma, prices, top_k, capacity)
    if abs(dual - value) > 1e-9 * max(1.0, abs(value)):
        raise RuntimeError(f"LP dual prices fail D(p*) = OPT ({dual!r} vs {value!r}); check the sign convention")
    sel = np.argsort(-xi, axis=1, kind="stable")[:, :top_k]
    return Assignment(value, xi.astype(np.int8), np.sort(sel, axis=1), prices, integrality)


def assignment_lsa(gamma: np.ndarray) -> Assignment:
    """K = 1 only: Hungarian algorithm on the T x T matrix repeating each expert's column L times."""
    gamma = np.asarray(gamma, float)
    T, E = gamma.shape
    L = target_load(T, E, 1)
    rows, cols = linear_sum_assignment(np.repeat(gamma, L, axis=1), maximize=True)
    expert = cols // L
    x = np.zeros((T, E), np.int8)
    x[rows, expert] = 1
    return Assignment(float(gamma[rows, expert].sum()), x, expert[np.argsort(rows)][:, None])


def assignment_bruteforce(gamma: np.ndarray, top_k: int, loads: np.ndarray | None = None) -> float:
    """OPT by enumerating every feasible 0/1 assignment (tiny instances only); loads as in :func:`assignment_lp`."""
    gamma = np.asarray(gamma, float)
    T, E = gamma.shape
    L = np.full(E, target_load(T, E, top_k)) if loads is None else np.asarray(loads)
    subsets = list(itertools.combinations(range(E), top_k))
    if len(subsets) ** T > 2_000_000:
        raise ValueError(f"tokens and experts must keep C(E, K)^T <= 2e6 for brute force (got {len(subsets)}^{T})")
    best = -np.inf
    for choice in itertools.product(range(len(subsets)), repeat=T):
        loads = np.zeros(E, int)
        value = 0.0
        for i, c in enumerate(choice):
            idx = list(subsets[c])
            loads[idx] += 1
            value += gamma[i, idx].sum()
        if np.all(loads == L):
            best = max(best, value)
    return float(best)


# --- the set of optimal dual prices ------------------------------------------------------------------

def price_constraints(gamma: np.ndarray, sel: np.ndarray) -> np.ndarray:
    """W[k, j] = min over tokens with k in S_i, j not in S_i of gamma_ik - gamma_ij (+inf if none).

    For an optimal assignment with sets S_i, the optimal duals are exactly the p with
    p_j - p_k <= W[k, j] for all k != j.
    """
    gamma = np.asarray(gamma, float)
    T, E = gamma.shape
    chosen = np.zeros((T, E), bool)
    np.put_along_axis(chosen, sel, True, axis=1)
    W = np.full((E, E), np.inf)
    for k in range(E):
        holders = chosen[:, k]
        diff = gamma[holders, k][:, None] - gamma[holders]          # gamma_ik - gamma_ij
        diff[chosen[holders]] = np.inf                                # j must be outside S_i
        if diff.size:
            W[k] = np.minimum(W[k], diff.min(axis=0))
    np.fill_diagonal(W, 0.0)
    return W


def price_ranges(W: np.ndarray, ref: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Exact range of p_k - p_ref over the optimal-dual set (shortest paths, Floyd-Warshall)."""
    dist = np.array(W, float)
    for m in range(dist.shape[0]):
        dist = np.minimum(dist, dist[:, m:m + 1] + dist[m:m + 1, :])
    if np.any(np.diag(dist) < -1e-9):
        raise ValueError("W must have no negative cycle (the assignment is not optimal)")
    return -dist[:, ref], dist[ref, :]


def in_price_set(W: np.ndarray, bias: np.ndarray, atol: float = 1e-12) -> bool:
    """Whether p satisfies every clearing-price constraint p_j - p_k <= W[k, j] (+ atol)."""
    bias = np.asarray(bias, float)
    return bool(np.all(bias[None, :] - bias[:, None] <= W + atol))


def max_margin_prices(W: np.ndarray) -> tuple[np.ndarray, float]:
    """Centred prices maximising the slack s of every finite constraint p_j - p_k + s <= W[k, j].

    With s > 0 every token's optimal set is its strict top-K: routing by gamma + p is
    then exactly balanced and free of ties.
    """
    E = W.shape[0]
    pairs = [(k, j) for k in range(E) for j in range(E) if k != j and np.isfinite(W[k, j])]
    A = np.zeros((len(pairs), E + 1))
    for r, (k, j) in enumerate(pairs):
        A[r, j] += 1.0
        A[r, k] -= 1.0
        A[r, E] = 1.0
    b = np.array([W[k, j] for k, j in pairs])
    c = np.zeros(E + 1)
    c[E] = -1.0
    res = linprog(c, A_ub=A, b_ub=b, A_eq=np.append(np.ones(E), 0.0)[None, :], b_eq=[0.0],
                  bounds=[(None, None)] * (E + 1), method="highs")
    if res.status != 0:
        raise RuntimeError(f"max-margin price LP failed: {res.message}")
    return res.x[:E], float(res.x[E])


def token_gaps(gamma: np.ndarray, sel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """gap_i = min_{k in S_i} (gamma_ik + p_k) - max_{j not in S_i} (gamma_ij + p_j)."""
    v = np.asarray(gamma, float) + np.asarray(bias, float)
    chosen = np.zeros(v.shape, bool)
    np.put_along_axis(chosen, sel, True, axis=1)
    inside = np.where(chosen, v, np.inf).min(axis=1)
    outside = np.where(chosen, -np.inf, v).max(axis=1)
    return inside - outside


# --- Gumbel K = 1 testbed ----------------------------------------------------------------------------

def gumbel_objective(offsets: np.ndarray, bias: np.ndarray, sigma: float, tokens: int) -> np.ndarray:
    """F(p) = E[D_n(p)] for K = 1; ``bias`` may be (..., E)."""
    offsets = np.asarray(offsets, float)
    bias = np.asarray(bias, float)
    L = target_load(tokens, offsets.size, 1)
    lse = sigma * logsumexp((offsets + bias) / sigma, axis=-1)
    return tokens * (lse + sigma * np.euler_gamma) - L * bias.sum(axis=-1)


def gumbel_gradient(offsets: np.ndarray, bias: np.ndarray, sigma: float, tokens: int) -> np.ndarray:
    """grad F = T softmax((c + p) / sigma) - L (expected loads minus target)."""
    offsets = np.asarray(offsets, float)
    L = target_load(tokens, offsets.size, 1)
    return tokens * softmax((offsets + np.asarray(bias, float)) / sigma, axis=-1) - L


def gumbel_hessian(offsets: np.ndarray, bias: np.ndarray, sigma: float, tokens: int) -> np.ndarray:
    """(T / sigma)(diag pi - pi pi^T)."""
    pi = softmax((np.asarray(offsets, float) + np.asarray(bias, float)) / sigma)
    return tokens / sigma * (np.diag(pi) - np.outer(pi, pi))


def gumbel_optimum(offsets: np.ndarray) -> np.ndarray:
    """The centred minimiser p* = -(c - mean c)."""
    offsets = np.asarray(offsets, float)
    return -(offsets - offsets.mean())


def gumbel_strong_convexity(tokens: int, experts: int, sigma: float) -> float:
    """mu = L / sigma: every eigenvalue of the Hessian on the subspace orthogonal to 1, at p*."""
    return target_load(tokens, experts, 1) / sigma


def strong_convexity_lower(offsets: np.ndarray, bias: np.ndarray, sigma: float, tokens: int) -> float:
    """T min_k pi_k / sigma: a lower bound on the Hessian's eigenvalues on 1-perp at p."""
    pi = softmax((np.asarray(offsets, float) + np.asarray(bias, float)) / sigma)
    return float(tokens * pi.min() / sigma)


def gumbel_grad_sq(tokens: int, experts: int) -> float:
    """G^2 = E ||A - L||^2 at p* (multinomial loads with equal probabilities): T (1 - 1/E)."""
    return tokens * (1.0 - 1.0 / experts)


def regret_bound(grad_sq: float, mu: float, n: np.ndarray) -> np.ndarray:
    """Online strongly convex gradient descent with steps 1/(mu n): R(N) <= G^2 / (2 mu) (1 + ln N)."""
    return grad_sq / (2.0 * mu) * (1.0 + np.log(np.asarray(n, float)))


def expected_max_normal(n: int) -> float:
    """E[max of n i.i.d. standard normals] = int x n phi(x) Phi(x)^(n-1) dx."""
    value, _ = integrate.quad(lambda x: x * n * stats.norm.pdf(x) * stats.norm.cdf(x) ** (n - 1), -12, 12,
                              epsabs=1e-12, limit=200)
    return float(value)


def noise_floor_maxvio(tokens: int, experts: int, top_k: int) -> float:
    """MaxVio of loads with balanced expectations and binomial noise (Gaussian approximation).

    Each load is Binomial(T, K/E) with sd sqrt(L (1 - K/E)); the expected maximum of E
    such loads over L is E[max of E standard normals] sqrt((1 - K/E) / L).  (The usual
    rough form sqrt(2 ln E) sqrt(E / (K T)) overstates it for small E.)
    """
    L = target_load(tokens, experts, top_k)
    return expected_max_normal(experts) * float(np.sqrt((1.0 - top_k / experts) / L))
