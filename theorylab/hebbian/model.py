"""The multitasking Hebbian network trained on examples: parameters and the Monte-Carlo simulator.

:func:`simulate_network` draws a dataset (K diluted ternary archetypes, M noisy examples of
each), builds the supervised or unsupervised Hebbian network from it, runs asynchronous
Glauber (temperature T > 0) or sign (T = 0) dynamics on several replicas with the overlap
kernel of :mod:`kernels`, and returns the Mattis magnetizations, example overlaps, cost and
sum-squared loss along the run, together with the low-storage theory of :mod:`theory` for the
same parameters (computed here, so claims and figures only read the Dataset).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import xarray as xr
from scipy import special, stats

from theorylab.core.params import Params, param
from theorylab.core.provenance import stamp
from theorylab.hebbian import kernels, theory

STUDY = "hebbian"
PROTOCOLS = ("supervised", "unsupervised")
INITS = ("cue", "random")
MAX_PATTERNS = 5


@dataclasses.dataclass(frozen=True)
class NetworkParams(Params):
    n_neurons: int = param(2000, "neurons N", ge=50, le=200_000)
    n_patterns: int = param(3, "archetypes K", ge=1, le=MAX_PATTERNS)
    dilution: float = param(0.3, "dilution d = P(xi_i = 0)", ge=0, lt=1)
    n_examples: int = param(15, "examples M per archetype", ge=1, le=201)
    quality: float = param(0.6, "example quality r = E[chi]; chi = -1 flips an entry", gt=0, le=1)
    protocol: str = param("supervised", "Hebbian protocol: supervised (couplings from example means) or "
                          "unsupervised (one Hebbian term per example)", choices=PROTOCOLS)
    temperature: float = param(0.1, "noise T = 1/beta; 0 = zero-temperature sign dynamics", ge=0, le=10)
    init: str = param("cue", "initial state: cue (archetype 1 on its support, random elsewhere) or random",
                      choices=INITS)
    n_replicas: int = param(4, "independent runs on the same dataset", ge=1, le=64)
    n_sweeps: int = param(200, "sweeps of N asynchronous updates", ge=1, le=20_000)
    burn_in: int = param(100, "sweeps discarded before time averages", ge=0, le=20_000)

    def check(self) -> None:
        if self.burn_in >= self.n_sweeps:
            raise ValueError(f"burn_in must be < n_sweeps (got {self.burn_in} >= {self.n_sweeps})")
        states = (self.n_examples + 2) ** self.n_patterns
        if states > theory.MAX_GRID:
            raise ValueError(f"n_examples must keep the exact theory at <= {theory.MAX_GRID} joint states "
                             f"(got (M + 2)^K = {states})")
        stored = self.n_neurons * self.n_patterns * (self.n_examples if self.protocol == "unsupervised" else 1)
        if stored > 20_000_000:
            raise ValueError(f"n_neurons must keep the stored vectors at <= 2e7 entries (got {stored})")
        if self.n_replicas * self.n_neurons * (self.n_sweeps + 1) > 5e10:
            raise ValueError("n_sweeps must keep the run below 5e10 spin updates "
                             f"(got {self.n_replicas} x {self.n_neurons} x {self.n_sweeps})")

    @property
    def beta(self) -> float:
        return math.inf if self.temperature == 0 else 1.0 / self.temperature


# --- data ---------------------------------------------------------------------------------------------

def draw_dataset(N: int, K: int, d: float, M: int, r: float, rng: np.random.Generator):
    """Archetypes xi (N, K) in {-1, 0, 1} with P(0) = d, and example signs chi (N, K, M) with
    P(chi = +1) = (1 + r)/2; the examples are eta^{mu,a} = chi^{mu,a} xi^mu (blanks stay blank)."""
    u = rng.random((N, K))
    xi = np.where(u < d, 0, np.where(u < (1 + d) / 2, -1, 1)).astype(np.int8)
    chi = np.where(rng.random((N, K, M)) < (1 + r) / 2, 1, -1).astype(np.int8)
    return xi, chi


def stored_vectors(xi: np.ndarray, chi: np.ndarray, protocol: str, r: float):
    """(V, group, c): the kernel's stored integer vectors, their archetype and the coupling constant.

    supervised J = (1 / (N R M^2)) sum_mu (sum_a eta^{mu,a})(sum_b eta^{mu,b});
    unsupervised J = (1 / (N R M)) sum_{mu,a} eta^{mu,a} eta^{mu,a}; R = r^2 + (1 - r^2)/M.
    """
    N, K, M = chi.shape
    R = theory.normalisation(M, r)
    if protocol == "supervised":
        V = (xi.astype(np.int32) * chi.sum(axis=2, dtype=np.int32))
        return np.ascontiguousarray(V), np.arange(K), 1.0 / (N * R * M * M)
    V = (xi[:, :, None].astype(np.int32) * chi).reshape(N, K * M)
    return np.ascontiguousarray(V), np.repeat(np.arange(K), M), 1.0 / (N * R * M)


def initial_state(xi: np.ndarray, n_replicas: int, init: str, rng: np.random.Generator) -> np.ndarray:
    sigma = np.where(rng.random((n_replicas, xi.shape[0])) < 0.5, 1, -1).astype(np.int8)
    if init == "cue":
        cue = xi[:, 0] != 0
        sigma[:, cue] = xi[cue, 0]
    return sigma


# --- theory at the simulated parameters ---------------------------------------------------------------

@functools.lru_cache(maxsize=256)
def _theory(d: float, M: int, r: float, K: int, beta: float):
    sol = theory.retrieval(d, M, r, K, beta)
    regime = theory.classify(np.abs(sol.m), theory.ZERO, theory.ZERO)
    return sol, regime


@functools.lru_cache(maxsize=64)
def _parallel_boundary(beta: float, M: int, r: float, K: int) -> float:
    return theory.parallel_boundary(beta, M, r, K) if K > 1 else math.nan


# --- the simulator ------------------------------------------------------------------------------------

def simulate_network(params: NetworkParams, seed: int) -> xr.Dataset:
    """Monte-Carlo run of the multitasking Hebbian network, with its low-storage theory, the mean-field fixed
    point of the realised network and the parallel-state stability at the run's beta."""
    ds = _simulate(params, seed, mean_field=True)
    p = params
    beta, M, r, K, d = p.beta, p.n_examples, p.quality, p.n_patterns, p.dilution
    if math.isinf(beta) or K == 1:   # no parallel state at T = 0 (ties break the symmetry), none for K = 1
        lam_asym = d_par = d_par_clean = math.nan
    else:
        lam_asym = theory.symmetric_solution(d, M, r, K, beta)[2]
        d_par, d_par_clean = _parallel_boundary(beta, M, r, K), _parallel_boundary(beta, 1, 1.0, K)
    ds["lambda_asym"] = ((), lam_asym, {"long_name": "amplitude-splitting eigenvalue of the parallel state"})
    ds["d_parallel"] = ((), d_par, {"long_name": "dilution above which the parallel state is stable at this beta",
                                    "units": "1"})
    ds["d_parallel_noiseless"] = ((), d_par_clean, {"long_name": "the same for noiseless examples (M = 1, r = 1)",
                                                    "units": "1"})
    return ds


def learning_level(theta: float = 1.0) -> float:
    """Learned fraction of the noiseless amplitude at signal-to-noise ratio theta: 2 Phi(theta) - 1.

    For one archetype at zero temperature m = (1 - d)(2 a - 1) with a the fraction of its entries set
    right, so m / (1 - d) >= 2 Phi(theta) - 1 is exactly the accuracy criterion a >= Phi(theta)."""
    return float(2.0 * special.ndtr(theta) - 1.0)


def simulate_learning(params: NetworkParams, seed: int) -> xr.Dataset:
    """Monte-Carlo run of the multitasking network trained on examples, measured against the noiseless network.

    Returns the decreasing amplitudes (Monte Carlo and self-consistency), the self-consistent amplitudes
    of the same network trained on the archetypes themselves (M = 1, r = 1) and, rank by rank, the
    fraction of them reached; an archetype counts as learned when that fraction reaches
    :func:`learning_level` (2 Phi(1) - 1).  Ranks are padded with nan up to the largest K allowed, so
    runs with different K stack into one Dataset.
    """
    run = _simulate(params, seed, mean_field=False)
    p = params
    K, ranks = p.n_patterns, MAX_PATTERNS
    clean = np.abs(_theory(p.dilution, 1, 1.0, K, p.beta)[0].m)
    safe = np.where(clean > theory.ZERO, clean, np.nan)

    def pad(a: np.ndarray) -> np.ndarray:
        out = np.full(a.shape[:-1] + (ranks,), np.nan)
        out[..., :K] = a
        return out

    ds = xr.Dataset(
        {
            "m_sorted": (("replica", "rank"), pad(run.m_sorted.values), run.m_sorted.attrs),
            "m_theory": (("rank",), pad(run.m_theory.values), run.m_theory.attrs),
            "m_noiseless": (("rank",), pad(clean), {"long_name": "self-consistency |m| of the network trained on "
                                                                 "the archetypes (M = 1, r = 1), decreasing"}),
            "learned_theory": (("rank",), pad(run.m_theory.values / safe),
                               {"long_name": "m_theory / m_noiseless rank by rank"}),
            "learned": (("replica", "rank"), pad(run.m_sorted.values / safe),
                        {"long_name": "Monte-Carlo |m| / m_noiseless rank by rank"}),
            "lambda_max": run.lambda_max,
            "lambda_example": run.lambda_example,
            "regime_theory": run.regime_theory,
            "learned_level": ((), learning_level(), {"long_name": "learned when every rank reaches 2 Phi(1) - 1"}),
        },
        coords={
            "replica": run.replica,
            "rank": ("rank", np.arange(1, ranks + 1), {"units": "1", "long_name": "rank k by |m| (1 = largest)"}),
        },
        attrs=run.attrs,
    )
    return ds


def _simulate(params: NetworkParams, seed: int, mean_field: bool) -> xr.Dataset:
    """The Monte-Carlo run and the self-consistency along the cue branch (shared by the simulators)."""
    p = params
    N, K, M, d, r = p.n_neurons, p.n_patterns, p.n_examples, p.dilution, p.quality
    rng = np.random.default_rng(seed)
    xi, chi = draw_dataset(N, K, d, M, r, rng)
    V, group, scale = stored_vectors(xi, chi, p.protocol, r)
    sigma = initial_state(xi, p.n_replicas, p.init, rng)
    kernel_seed = int(rng.integers(2**31 - 1))
    beta = p.beta
    X, E, energy = kernels.run_dynamics(V, group, xi, sigma, scale, 0.0 if math.isinf(beta) else beta,
                                        math.isinf(beta), p.n_sweeps, kernel_seed)

    m = X / N                                     # (sweep, replica, pattern)
    n = E / (N * M)
    activity = np.count_nonzero(xi, axis=0) / N   # empirical 1 - d per archetype
    loss = ((1 + activity) / 2 - np.abs(m)).sum(axis=2)
    window = slice(p.burn_in + 1, None)
    m_avg = m[window].mean(axis=0)                # (replica, pattern)
    rank = np.argsort(-np.abs(m_avg), axis=1, kind="stable")
    m_sorted = np.take_along_axis(np.abs(m_avg), rank, axis=1)
    s = chi.sum(axis=2)
    support = xi != 0
    # the finite-N counterpart of theory.archetype_accuracy: sites whose example majority is right
    majority = np.where(s > 0, 1.0, np.where(s == 0, 0.5, 0.0))
    data_accuracy = (majority * support).sum(axis=0) / support.sum(axis=0)
    final_match = (sigma[:, :, None] == xi[None]) & support[None]
    accuracy = final_match.sum(axis=1) / support.sum(axis=0)

    if math.isinf(beta) or not mean_field:
        m_mf = np.full((p.n_replicas, K), np.nan)
    else:   # the mean-field fixed point of this very network, in the basin each replica ended in
        m_mf = np.array([theory.sample_mean_field(V, scale, xi, beta, final)[0] for final in sigma])
    sol, regime = _theory(d, M, r, K, beta)
    R = theory.normalisation(M, r)
    sweep = np.arange(p.n_sweeps + 1)
    ds = xr.Dataset(
        {
            "m": (("sweep", "replica", "pattern"), m, {"long_name": "Mattis magnetization m_mu = (1/N) sum_i xi_i^mu sigma_i"}),
            "n": (("sweep", "replica", "pattern"), n, {"long_name": "example overlap n_mu = (1/N) sum_i xi_i^mu chi_hat_i^mu sigma_i"}),
            "cost": (("sweep", "replica"), energy, {"long_name": "cost function per neuron H / N", "units": "1"}),
            "loss": (("sweep", "replica"), loss, {"long_name": "sum-squared loss sum_mu min_+- |xi^mu -+ sigma|^2 / (2N)"}),
            "m_mean": (("replica", "pattern"), m_avg, {"long_name": "time average of m_mu after burn-in"}),
            "n_mean": (("replica", "pattern"), n[window].mean(axis=0), {"long_name": "time average of n_mu after burn-in"}),
            "cost_mean": (("replica",), energy[window].mean(axis=0), {"long_name": "time average of H / N after burn-in"}),
            "loss_mean": (("replica",), loss[window].mean(axis=0), {"long_name": "time average of the loss after burn-in"}),
            "m_sorted": (("replica", "rank"), m_sorted, {"long_name": "|time-averaged m| in decreasing order"}),
            "m_mean_field": (("replica", "pattern"), m_mf,
                             {"long_name": "m at the mean-field fixed point of the realised network, started "
                                           "from the replica's final state (nan at T = 0 and where not computed)"}),
            "accuracy": (("replica", "pattern"), accuracy,
                         {"long_name": "final fraction of the archetype's non-blank spins set right"}),
            "data_accuracy": (("pattern",), data_accuracy,
                              {"long_name": "fraction of non-blank sites whose example majority is right (ties 1/2)"}),
            "activity": (("pattern",), activity, {"long_name": "fraction of non-blank archetype entries (1 - d empirically)"}),
            "m_theory": (("rank",), np.abs(sol.m), {"long_name": "self-consistency |m| (retrieval from the cue, decreasing)"}),
            "n_theory": (("rank",), np.abs(sol.n), {"long_name": "self-consistency |n| (same order as m_theory)"}),
            "cost_theory": ((), theory.cost(sol.n, R), {"long_name": "H / N at the self-consistent solution"}),
            "loss_theory": ((), theory.sse_loss(sol.m, d), {"long_name": "sum-squared loss at the self-consistent solution"}),
            "lambda_max": ((), sol.lambda_max, {"long_name": "largest Jacobian eigenvalue at the solution (stable < 1)"}),
            "lambda_example": ((), sol.lambda_example,
                               {"long_name": "largest unsupervised example-mode eigenvalue (stable < 1)"}),
            "regime_theory": ((), regime, {"long_name": "regime of the solution: " + " | ".join(theory.REGIMES)}),
            "d_hierarchy": ((), theory.hierarchy_limit(K),
                            {"long_name": "largest d of the zero-temperature hierarchical state (pure network)",
                             "units": "1"}),
            "m_power_law": (("rank",), theory.hierarchical_amplitudes(d, K),
                            {"long_name": "zero-temperature hierarchical amplitudes (1 - d) d^(k-1)"}),
            "theory_accuracy": ((), theory.archetype_accuracy(M, r),
                                {"long_name": "archetype accuracy from the example majority (exact, binomial)"}),
            "snr_accuracy": ((), theory.snr_accuracy(M, r),
                             {"long_name": "signal-to-noise (Gaussian) accuracy Phi(1/sqrt(rho))"}),
        },
        coords={
            "sweep": ("sweep", sweep, {"units": "sweep (N updates)", "long_name": "Monte-Carlo time"}),
            "replica": ("replica", np.arange(p.n_replicas), {"units": "1", "long_name": "replica"}),
            "pattern": ("pattern", np.arange(1, K + 1), {"units": "1", "long_name": "archetype mu (1 = cued)"}),
            "rank": ("rank", np.arange(1, K + 1), {"units": "1", "long_name": "rank k by |m| (1 = largest)"}),
        },
    )
    ds.attrs.update({"beta": beta if not math.isinf(beta) else "inf", "R": R,
                     "rho": theory.dataset_entropy(M, r), "kernel_seed": kernel_seed})
    return stamp(ds, study=STUDY, params=params, seed=seed)


# --- the cost function's local minima against the sum-squared loss -------------------------------------

EXHAUSTIVE_MAX = 24          # up to this N every configuration is enumerated (2^(N-1) of them)


@dataclasses.dataclass(frozen=True)
class MinimaParams(Params):
    n_neurons: int = param(20, f"neurons N; N <= {EXHAUSTIVE_MAX}: exhaustive enumeration, larger: relaxation "
                           "from random states", ge=8, le=50_000)
    n_patterns: int = param(3, "archetypes K", ge=2, le=5)
    dilution: float = param(0.3, "dilution d = P(xi_i = 0)", ge=0, lt=1)
    n_examples: int = param(15, "examples M per archetype", ge=1, le=201)
    quality: float = param(0.8, "example quality r = E[chi]", gt=0, le=1)
    n_states: int = param(256, "stored minima: the lowest-cost ones (enumeration) or one per random start "
                          "(relaxation)", ge=8, le=4096)
    n_sweeps: int = param(60, "zero-temperature sweeps of each relaxation", ge=1, le=2000)

    def check(self) -> None:
        if self.n_neurons > EXHAUSTIVE_MAX and self.n_neurons < 200:
            raise ValueError(f"n_neurons must be <= {EXHAUSTIVE_MAX} (enumeration) or >= 200 (relaxation) "
                             f"(got {self.n_neurons})")
        if self.n_neurons > EXHAUSTIVE_MAX and self.n_states * self.n_neurons * self.n_sweeps > 5e10:
            raise ValueError(f"n_states must keep the relaxation below 5e10 spin updates (got {self.n_states} x "
                             f"{self.n_neurons} x {self.n_sweeps})")


def loss_of(sigma: np.ndarray, xi: np.ndarray, N: int) -> np.ndarray:
    """Sum-squared loss on the archetypes, sum_mu min_+- |xi^mu -+ sigma|^2 / (2N), per configuration; the
    rows of ``xi`` may be a subset of the N sites (the others blank in every archetype, each adding 1/(2N))."""
    X = sigma.astype(np.int64) @ xi.astype(np.int64)
    return ((N + np.count_nonzero(xi, axis=0)) / 2 - np.abs(X)).sum(axis=1) / N


def is_loss_minimum(sigma: np.ndarray, xi: np.ndarray) -> np.ndarray:
    """True where no single flip lowers the loss = const - sum_mu |X_mu| / N: for every i,
    sum_mu |X_mu - 2 sigma_i xi_i^mu| <= sum_mu |X_mu| (X_mu = sum_i xi_i^mu sigma_i, exact integers)."""
    s = sigma.astype(np.int64)
    xi = xi.astype(np.int64)
    X = s @ xi                                                      # (state, K)
    flipped = np.abs(X[:, None, :] - 2 * s[:, :, None] * xi[None]).sum(axis=2)
    return np.all(flipped <= np.abs(X).sum(axis=1)[:, None], axis=1)


def global_loss_minimum(xi: np.ndarray, N: int) -> float:
    """min over all sigma of the loss: max_sigma sum_mu |m_mu| = max over signs s of (1/N) sum_i |sum_mu s_mu xi_i^mu|,
    reached by the majority state sigma_i = sign(sum_mu s_mu xi_i^mu) (s_1 = +1 by symmetry)."""
    K = xi.shape[1]
    signs = np.array(np.meshgrid(*([[1]] + [[1, -1]] * (K - 1)), indexing="ij")).reshape(K, -1).T
    best = np.abs(xi.astype(np.int64) @ signs.T).sum(axis=0).max()
    return float((((N + np.count_nonzero(xi, axis=0)) / 2).sum() - best) / N)


def simulate_minima(params: MinimaParams, seed: int) -> xr.Dataset:
    """Local minima of the supervised network's cost function and their sum-squared loss on the archetypes.

    N <= 24: every configuration is enumerated and all single-flip minima found (the ``n_states``
    lowest-cost ones stored, all counted).  Larger N: ``n_states`` zero-temperature relaxations from
    random states, each checked to end in a single-flip minimum; distinct minima (up to sigma -> -sigma)
    are stored.  Cost and loss are both per neuron, H / N and sum_mu min_+- |xi^mu -+ sigma|^2 / (2N).
    """
    p = params
    N, K = p.n_neurons, p.n_patterns
    rng = np.random.default_rng(seed)
    xi, chi = draw_dataset(N, K, p.dilution, p.n_examples, p.quality, rng)
    V, group, scale = stored_vectors(xi, chi, "supervised", p.quality)
    exhaustive = N <= EXHAUSTIVE_MAX
    # spins blank in every archetype feel no field and enter neither cost nor loss: minima are compared on
    # the union of the supports only (elsewhere they are free and would only multiply copies)
    active = np.nonzero(np.any(xi != 0, axis=1))[0]
    if exhaustive:
        from theorylab.hebbian.reference import spins_from_index
        found = spins_from_index(np.nonzero(kernels.single_flip_minima(V[active]))[0], active.size)
        reached = np.ones(found.shape[0], bool)
    else:
        sigma = np.where(rng.random((p.n_states, N)) < 0.5, 1, -1).astype(np.int8)
        kernels.run_dynamics(V, group, xi, sigma, scale, 0.0, True, p.n_sweeps, int(rng.integers(2**31 - 1)))
        s = sigma[:, active].astype(np.int64)
        Va = V[active].astype(np.int64)
        field = (s @ Va) @ Va.T - (Va ** 2).sum(axis=1) * s
        reached = np.all(s * field >= 0, axis=1)                   # the relaxation ended in a minimum
        found = np.unique(s[reached] * s[reached, :1], axis=0)     # distinct up to a global flip
    V, xi = V[active], xi[active]
    Vl = V.astype(np.int64)
    D_total = int((Vl ** 2).sum())
    O = found @ Vl
    cost = -0.5 * scale * ((O ** 2).sum(axis=1) - D_total) / N
    order = np.argsort(cost, kind="stable")
    found, cost = found[order], cost[order]
    loss = loss_of(found, xi, N)
    loss_min = is_loss_minimum(found, xi)
    m = found @ xi.astype(np.int64) / N
    n_found = found.shape[0]
    keep = min(n_found, p.n_states)
    tau = float(stats.kendalltau(cost, loss).statistic) if n_found > 1 else math.nan

    def pad(a, fill=np.nan):
        out = np.full((p.n_states,) + a.shape[1:], fill, dtype=float)
        out[:keep] = a[:keep]
        return out

    ds = xr.Dataset(
        {
            "cost": (("state",), pad(cost), {"long_name": "cost per neuron H / N of the minimum (increasing; nan: none)"}),
            "loss": (("state",), pad(loss), {"long_name": "sum-squared loss on the archetypes at the minimum"}),
            "loss_local_min": (("state",), pad(loss_min.astype(float)),
                               {"long_name": "1 if no single flip lowers the loss there (also a loss minimum)"}),
            "m": (("state", "pattern"), pad(m), {"long_name": "Mattis magnetizations of the minimum"}),
            "n_minima": ((), n_found, {"long_name": "distinct single-flip minima of the cost found (on the supports)"}),
            "relaxed_fraction": ((), float(reached.mean()),
                                 {"long_name": "fraction of relaxations that ended in a single-flip minimum"}),
            "kendall_tau": ((), tau, {"long_name": "Kendall rank correlation of cost and loss over the minima found"}),
            "lowest_cost_loss_rank": ((), int(np.sum(loss < loss[0] - 1e-12)) if n_found else -1,
                                      {"long_name": "minima with lower loss than the lowest-cost minimum"}),
            "loss_excess": ((), float(loss[0] - global_loss_minimum(xi, N)) if n_found else math.nan,
                            {"long_name": "loss of the lowest-cost minimum above the loss's global minimum"}),
            "loss_min_fraction": ((), float(loss_min.mean()) if n_found else math.nan,
                                  {"long_name": "fraction of the cost minima that are also loss minima"}),
        },
        coords={
            "state": ("state", np.arange(p.n_states), {"units": "1", "long_name": "minimum, by increasing cost"}),
            "pattern": ("pattern", np.arange(1, K + 1), {"units": "1", "long_name": "archetype mu"}),
        },
    )
    ds.attrs.update({"method": "enumeration" if exhaustive else "relaxation"})
    return stamp(ds, study=STUDY, params=params, seed=seed)
