"""Low-storage theory of the multitasking Hebbian network: self-consistency, stability, thresholds.

Notation (see the package docstring): K ternary archetypes xi^mu with P(0) = d, M examples
eta^{mu,a} = chi^{mu,a} xi^mu with P(chi = +1) = (1 + r)/2, example means
chi_hat = (1/M) sum_a chi^{mu,a}, R = E[chi_hat^2] = r^2 + (1 - r^2)/M and the dataset
entropy rho = (1 - r^2)/(M r^2), so that R = r^2 (1 + rho).

With K finite and N -> infinity the local field of the supervised network is

    h_i = (1/R) sum_mu z_i^mu n_mu,   z^mu = xi^mu chi_hat^mu,   n_mu = (1/N) sum_i z_i^mu sigma_i,

and the thermal averages obey the self-consistency (exact in this limit; the average is over one
site's (xi, chi_hat), independent across patterns):

    n_mu = E[z^mu tanh(beta h)],        m_mu = E[xi^mu tanh(beta h)],

tanh -> sign at beta = infinity (sign 0 = 0: a spin with zero field is a fair coin).  The
expectations are evaluated *exactly* here, by enumerating the (2M + 3)^K joint states of
(xi, chi_hat) with their binomial weights — no Gaussian approximation — and the Gaussian
(large-M) law is used only for the signal-to-noise formulas.

A solution is stable (a free-energy minimum) iff every eigenvalue of the Jacobian
J = (beta/R) E[z z^T sech^2(beta h)] is below 1.  The unsupervised network, whose field is
(1/(R M)) sum_{mu,a} eta^{mu,a} q_{mu,a}, has the same solutions when all example overlaps of a
pattern are equal (then q_{mu,a} = n_mu), the same Jacobian on that subspace, and M - 1 extra
example-asymmetric modes per pattern with eigenvalue

    lambda_ex(mu) = beta / (R (M - 1)) E[(xi^mu)^2 (1 - chi_hat_mu^2) sech^2(beta h)].
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
from scipy import optimize, special, stats

MAX_GRID = 4_000_000       # joint states enumerated at once (memory ~ 24 K bytes each: z, E[xi|z], E[xi^2|z])
PRUNE = 1e-18              # per-pattern states below this probability do not move a float64 average


# --- the data laws ----------------------------------------------------------------------------------

def dataset_entropy(M: int, r: float) -> float:
    """rho = (1 - r^2) / (M r^2): variance of chi_hat / r over its squared mean."""
    return (1.0 - r * r) / (M * r * r)


def normalisation(M: int, r: float) -> float:
    """R = E[chi_hat^2] = r^2 + (1 - r^2)/M = r^2 (1 + rho)."""
    return r * r + (1.0 - r * r) / M


def example_mean_law(M: int, r: float) -> tuple[np.ndarray, np.ndarray]:
    """Values of chi_hat = (2B - M)/M, B ~ Binomial(M, (1 + r)/2), and their probabilities."""
    b = np.arange(M + 1)
    p = stats.binom.pmf(b, M, (1.0 + r) / 2.0)
    keep = p > PRUNE
    return (2.0 * b[keep] - M) / M, p[keep]


@functools.lru_cache(maxsize=64)
def site_law(d: float, M: int, r: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One pattern's signal z = xi chi_hat at a site, reduced to what the averages need.

    Returns (z, prob, E[xi | z], E[xi^2 | z]).  z has a symmetric law on {0, +-1/M, ..., +-1}
    (xi and chi_hat enter only through their product and the conditional moments of xi), so
    M + 2 states (M odd) replace the 2M + 3 states of (xi, chi_hat): exact, not an approximation.
    """
    c, pc = example_mean_law(M, r)
    law = dict(zip(c.tolist(), pc.tolist()))
    p_tie = law.get(0.0, 0.0)
    z = [0.0]
    prob = [d + (1 - d) * p_tie]
    xi_mean = [0.0]                                   # xi = +-1 equally likely given chi_hat = 0
    xi_sq = [(1 - d) * p_tie / prob[0] if prob[0] > 0 else 0.0]
    for v in sorted({abs(x) for x in law if x != 0.0}):
        up, down = law.get(v, 0.0), law.get(-v, 0.0)  # z = +v: (xi, chi_hat) = (+1, v) or (-1, -v)
        for sign in (1.0, -1.0):
            z.append(sign * v)
            prob.append((1 - d) / 2 * (up + down))
            xi_mean.append(sign * (up - down) / (up + down))
            xi_sq.append(1.0)
    out = tuple(np.array(a) for a in (z, prob, xi_mean, xi_sq))
    keep = out[1] > 0
    out = tuple(a[keep] for a in out)
    for a in out:
        a.setflags(write=False)
    return out


@dataclasses.dataclass(frozen=True)
class Grid:
    """All joint states of K patterns at one site: z (G, K), E[xi | z], E[xi^2 | z], weight (G,)."""

    z: np.ndarray
    xi_mean: np.ndarray
    xi_sq: np.ndarray
    weight: np.ndarray
    R: float


@functools.lru_cache(maxsize=16)
def joint_grid(d: float, M: int, r: float, K: int) -> Grid:
    z1, p1, xm1, xs1 = site_law(d, M, r)
    G = p1.size ** K
    if G > MAX_GRID:
        raise ValueError(f"K must keep the exact enumeration at <= {MAX_GRID} joint states "
                         f"(got {p1.size}^{K} = {G}; lower K or M)")
    idx = np.indices((p1.size,) * K).reshape(K, -1).T
    arrays = (z1[idx], xm1[idx], xs1[idx], np.prod(p1[idx], axis=1))
    for a in arrays:
        a.setflags(write=False)
    return Grid(*arrays, normalisation(M, r))


# --- the self-consistency map -----------------------------------------------------------------------

def _response(h: np.ndarray, beta: float) -> np.ndarray:
    """<sigma> given the field: tanh(beta h), or sign(h) with sign(0) = 0 at beta = inf."""
    return np.sign(h) if math.isinf(beta) else np.tanh(beta * h)


def _sech2(h: np.ndarray, beta: float) -> np.ndarray:
    return 1.0 / np.cosh(np.clip(beta * h, -350.0, 350.0)) ** 2


def sc_map(n: np.ndarray, grid: Grid, beta: float) -> tuple[np.ndarray, np.ndarray]:
    """(E[z tanh(beta h)], E[xi tanh(beta h)]) at example overlaps n: the right-hand sides."""
    t = grid.weight * _response(grid.z @ n / grid.R, beta)
    return t @ grid.z, t @ grid.xi_mean


def jacobian(n: np.ndarray, grid: Grid, beta: float) -> np.ndarray:
    """dF/dn = (beta / R) E[z z^T sech^2(beta h)] (finite beta)."""
    s = grid.weight * _sech2(grid.z @ n / grid.R, beta)
    return beta / grid.R * (grid.z * s[:, None]).T @ grid.z


def example_mode_eigenvalues(n: np.ndarray, grid: Grid, beta: float, M: int) -> np.ndarray:
    """lambda_ex(mu) of the unsupervised network's example-asymmetric modes (zeros for M = 1)."""
    if M == 1:
        return np.zeros(grid.z.shape[1])
    s = grid.weight * _sech2(grid.z @ n / grid.R, beta)
    return beta / (grid.R * (M - 1)) * s @ (grid.xi_sq - grid.z ** 2)


@dataclasses.dataclass(frozen=True)
class Solution:
    n: np.ndarray            # example overlaps n_mu
    m: np.ndarray            # Mattis magnetizations m_mu (overlap with the archetypes)
    lambda_max: float        # largest Jacobian eigenvalue (stable iff < 1); nan at beta = inf
    lambda_example: float    # largest unsupervised example-mode eigenvalue; nan at beta = inf
    residual: float          # max |F(n) - n|


def _finish(n: np.ndarray, grid: Grid, beta: float, M: int) -> Solution:
    F, m = sc_map(n, grid, beta)
    if math.isinf(beta):
        lam = lam_ex = math.nan
    else:
        lam = float(np.linalg.eigvalsh(jacobian(n, grid, beta)).max())
        lam_ex = float(example_mode_eigenvalues(n, grid, beta, M).max())
    return Solution(n.copy(), m, lam, lam_ex, float(np.abs(F - n).max()))


def solve(d: float, M: int, r: float, K: int, beta: float, n0, *, damping: float = 0.5,
          max_iter: int = 20_000, tol: float = 1e-12) -> Solution:
    """Follow the damped mean-field iteration n <- (1 - a) n + a F(n) from ``n0`` to a fixed point.

    The iteration converges only to stable solutions (J is positive semi-definite, so the damped
    map contracts iff every eigenvalue of J is below 1).  Next to marginal stability it needs
    thousands of steps: leaving a saddle whose unstable eigenvalue is 1 + eps grows the cue's
    small seed by only a factor 1 + eps/2 per step, and the stable point is then approached at
    the same slow rate (e.g. d = 0.6, beta = 4, M = 15, r = 0.8: ~4000 steps).  Stopping earlier
    returned unconverged points or, after the polish, the saddle itself, hence the large cap
    (the loop exits at ``tol``).  A Newton polish then removes the last slow tail.  At
    beta = inf the map is piecewise constant and the plain iteration stops exactly.
    """
    grid = joint_grid(d, M, r, K)
    n = np.asarray(n0, dtype=float).copy()
    a = 1.0 if math.isinf(beta) else damping
    for _ in range(max_iter):
        F, _ = sc_map(n, grid, beta)
        step = F - n
        n = n + a * step
        if np.abs(step).max() < tol:
            break
    if not math.isinf(beta):
        def excess(x):
            return sc_map(x, grid, beta)[0] - x

        root = optimize.root(excess, n, jac=lambda x: jacobian(x, grid, beta) - np.eye(K), method="hybr",
                             tol=1e-14)
        # keep the polished point only if it is a better root nearby (not a jump to another branch)
        if np.abs(root.x - n).max() < 1e-3 and np.abs(excess(root.x)).max() < np.abs(excess(n)).max():
            n = root.x
    return _finish(n, grid, beta, M)


def cue_start(d: float, r: float, K: int, eps: float = 1e-3) -> np.ndarray:
    """Overlaps right after cueing archetype 1: n_1 = (1 - d) r, the others a small ordered seed.

    The seed eps, eps^2, ... stands for the O(1/sqrt N) random overlaps of a finite network and
    fixes which uncued pattern comes second; results are compared rank by rank.
    """
    return np.array([(1 - d) * r] + [eps ** k for k in range(1, K)])


def retrieval(d: float, M: int, r: float, K: int, beta: float) -> Solution:
    """The state reached from the cue of archetype 1 (magnetizations sorted in decreasing order).

    For beta (1 - d) <= 1 it is exactly n = 0: x tanh(beta x / R) < beta x^2 / R for x != 0 and
    E[z z^T] = R (1 - d) I give F(n).n < beta (1 - d) |n|^2 <= |n|^2, so no other fixed point exists
    (and on the critical line the iteration would only creep towards it).
    """
    if not math.isinf(beta) and beta * (1 - d) <= 1 + 1e-12:
        return _finish(np.zeros(K), joint_grid(d, M, r, K), beta, M)
    sol = solve(d, M, r, K, beta, cue_start(d, r, K))
    order = np.argsort(-np.abs(sol.m), kind="stable")
    return dataclasses.replace(sol, n=sol.n[order], m=sol.m[order])


# --- the symmetric (parallel) branch and the phase boundaries -----------------------------------------

def symmetric_solution(d: float, M: int, r: float, K: int, beta: float) -> tuple[float, float, float, float]:
    """Parallel state n_mu = n for all mu: returns (n, m, lambda_asym, lambda_sym).

    The Jacobian there is a I + b (11^T - I); lambda_asym = a - b (K - 1 modes that split the
    amplitudes), lambda_sym = a + (K - 1) b.  n = 0 (paramagnet) when beta (1 - d) <= 1.
    """
    grid = joint_grid(d, M, r, K)
    ones = np.ones(K)

    def excess(x: float) -> float:
        return sc_map(x * ones, grid, beta)[0][0] - x

    hi = float(np.abs(grid.z[:, 0]).max())
    n = 0.0
    if beta * (1 - d) > 1 and excess(1e-9) > 0:
        n = optimize.brentq(excess, 1e-9, hi, xtol=1e-15, rtol=1e-14)
    J = jacobian(n * ones, grid, beta)
    a, b = J[0, 0], (J[0, 1] if K > 1 else 0.0)
    m = sc_map(n * ones, grid, beta)[1][0]
    return n, float(m), float(a - b), float(a + (K - 1) * b)


# Retrieval states, from the amplitudes |m| in decreasing order.  "Raised" amplitudes exceed the zero
# tolerance; raised amplitudes whose consecutive gaps are within the equality tolerance form one level.
REGIMES = (
    "paramagnetic",                  # nothing raised
    "pure",                          # one archetype raised
    "partial hierarchy",             # 2 <= raised < K, all distinct: (a, b, 0) with a > b
    "hierarchical",                  # all K raised, all distinct
    "symmetric mixture",             # 2 <= raised < K, all equal: (a, a, 0)
    "partially symmetric mixture",   # 3 <= raised, some equal and some not: (a, a, b), (a, b, b)
    "parallel",                      # all K raised and equal
)
MIXTURES = ("symmetric mixture", "partially symmetric mixture")
ZERO = 1e-6     # theory: amplitudes below this are zero and gaps below it are ties.  The solver stops at
                # residuals ~1e-12; even next to marginal stability (1 - lambda ~ 1e-3) the amplitude error
                # residual / (1 - lambda) stays far below 1e-6, and distinct amplitudes differ by > 1e-3


def classify(m_sorted, zero: float, equal: float) -> str:
    """Retrieval state of amplitudes |m| in decreasing order (one of :data:`REGIMES`).

    ``zero``: amplitudes at or below it are not raised; ``equal``: raised amplitudes whose consecutive
    gaps are at or below it are tied (ties chain).  Theory uses :data:`ZERO` for both (solver
    precision); Monte Carlo uses its finite-size resolution.
    """
    m = np.sort(np.abs(np.asarray(m_sorted, dtype=float)))[::-1]
    raised = m[m > zero]
    n = raised.size
    if n == 0:
        return "paramagnetic"
    if n == 1:
        return "pure"
    levels = 1 + int(np.sum(-np.diff(raised) > equal))
    complete = n == m.size
    if levels == 1:
        return "parallel" if complete else "symmetric mixture"
    if levels == n:
        return "hierarchical" if complete else "partial hierarchy"
    return "partially symmetric mixture"


def critical_beta(d: float) -> float:
    """Paramagnet -> retrieval: the linearised map is beta (1 - d) n for every M, r and protocol."""
    return 1.0 / (1.0 - d)


def parallel_boundary(beta: float, M: int, r: float, K: int, *, grid_points: int = 200) -> float:
    """Smallest dilution d above which the parallel state is stable at inverse temperature beta.

    Scans lambda_asym(d) on the symmetric branch over 0 < d < 1 - 1/beta and refines the last
    crossing of 1 from above with brentq.  Returns nan if the parallel state is never stable.
    """
    d_max = 1.0 - 1.0 / beta
    if d_max <= 0:
        return math.nan
    ds = np.linspace(1e-3, d_max - 1e-4, grid_points)
    lam = np.array([symmetric_solution(x, M, r, K, beta)[2] for x in ds])
    unstable = np.nonzero(lam >= 1)[0]
    if unstable.size == 0:
        return float(ds[0])
    j = unstable[-1]
    if j == ds.size - 1:
        return math.nan
    return optimize.brentq(lambda x: symmetric_solution(x, M, r, K, beta)[2] - 1, ds[j], ds[j + 1],
                           xtol=1e-10)


# --- zero temperature: the hierarchical state ---------------------------------------------------------

def hierarchical_amplitudes(d: float, K: int) -> np.ndarray:
    """m_k = (1 - d) d^(k-1): archetype k sets every spin on which archetypes 1..k-1 are blank."""
    return (1.0 - d) * d ** np.arange(K)


def hierarchy_limit(K: int) -> float:
    """Largest d for which the hierarchical state is a zero-temperature fixed point (pure network).

    It needs m_k > sum_{j > k} m_j for every k, tightest at k = 1: 1 - 2d + d^K > 0, whose root
    in (0, 1) is d_K ((sqrt 5 - 1)/2 for K = 3, -> 1/2 as K grows); for K <= 2 it holds up to d = 1.
    """
    if K <= 2:
        return 1.0
    return optimize.brentq(lambda x: 1 - 2 * x + x ** K, 1e-9, 1 - 1e-9)


# --- signal to noise: learning the archetype from examples -------------------------------------------

def archetype_accuracy(M: int, r: float) -> float:
    """P(sign(chi_hat) = +1) + P(chi_hat = 0)/2: fraction of an archetype's non-blank spins that the
    example-built field sets right when the archetype alone is retrieved (exact, binomial)."""
    c, p = example_mean_law(M, r)
    return float(p[c > 0].sum() + 0.5 * p[c == 0].sum())


def snr_accuracy(M: float, r: float) -> float:
    """Gaussian (large-M) signal-to-noise form Phi(1/sqrt(rho)): signal r, noise sqrt((1 - r^2)/M)."""
    rho = dataset_entropy(M, r)
    return 1.0 if rho == 0 else float(special.ndtr(1.0 / math.sqrt(rho)))


def learning_threshold(r: float, theta: float) -> float:
    """M_x(r) = theta^2 (1 - r^2)/r^2: the examples needed for a signal-to-noise ratio theta."""
    return theta * theta * (1.0 - r * r) / (r * r)


def exact_learning_threshold(r: float, theta: float, M_max: int = 100_000) -> int:
    """Smallest odd M whose exact archetype accuracy reaches Phi(theta) (odd: no ties in chi_hat)."""
    target = float(special.ndtr(theta))
    lo, hi = 0, (M_max - 1) // 2           # search over M = 2j + 1; accuracy increases with M
    if archetype_accuracy(2 * hi + 1, r) < target:
        raise ValueError(f"r must let M <= {M_max} examples reach the accuracy (got r = {r})")
    while lo < hi:
        mid = (lo + hi) // 2
        if archetype_accuracy(2 * mid + 1, r) >= target:
            hi = mid
        else:
            lo = mid + 1
    return 2 * lo + 1


# --- cost and loss ------------------------------------------------------------------------------------

def cost(n: np.ndarray, R: float) -> float:
    """Cost function per neuron, H / N = -(1/(2R)) sum_mu n_mu^2 (N -> infinity)."""
    return float(-0.5 * np.sum(np.asarray(n) ** 2) / R)


def sse_loss(m: np.ndarray, d: float) -> float:
    """Sum over patterns of min_+- (1/(2N)) |xi^mu -+ sigma|^2 = (2 - d)/2 - |m_mu| (N -> infinity)."""
    return float(np.sum((2.0 - d) / 2.0 - np.abs(np.asarray(m))))


# --- the realised dataset: naive mean field at finite N -------------------------------------------------

def sample_mean_field(V: np.ndarray, c: float, xi: np.ndarray, beta: float, start: np.ndarray, *,
                      damping: float = 0.5, max_iter: int = 3000, tol: float = 1e-10) -> tuple[np.ndarray, int]:
    """Mattis magnetizations of the mean-field fixed point of one realised network.

    m_i = tanh(beta h_i), h_i = c (sum_p v_i^p O_p - D_i m_i), O_p = sum_j v_j^p m_j: the same
    self-consistency with the empirical law of the N sites instead of the N -> infinity average
    (thermal fluctuations of the overlaps only add O(1/N)).  Iterated (damped) from ``start``, a
    spin configuration, so it lands in the basin the Monte-Carlo run chose.  Returns (m, iterations).
    """
    Vf = np.asarray(V, dtype=float)
    D = np.einsum("ip,ip->i", Vf, Vf)
    mi = np.asarray(start, dtype=float).copy()
    it = 0
    for it in range(1, max_iter + 1):
        h = c * (Vf @ (Vf.T @ mi) - D * mi)
        step = np.tanh(beta * h) - mi
        mi += damping * step
        if np.abs(step).max() < tol:
            break
    return np.asarray(xi, dtype=float).T @ mi / mi.size, it
