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

from theorylab.core.params import Params, param
from theorylab.core.provenance import stamp
from theorylab.hebbian import kernels, theory

STUDY = "hebbian"
PROTOCOLS = ("supervised", "unsupervised")
INITS = ("cue", "random")


@dataclasses.dataclass(frozen=True)
class NetworkParams(Params):
    n_neurons: int = param(2000, "neurons N", ge=50, le=200_000)
    n_patterns: int = param(3, "archetypes K", ge=1, le=5)
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
    if math.isinf(beta):
        lam_asym, d_par = math.nan, math.nan     # no parallel state at T = 0 (ties break the symmetry)
    else:
        lam_asym = theory.symmetric_solution(d, M, r, K, beta)[2] if K > 1 else math.nan
        d_par = _parallel_boundary(beta, M, r, K)
    return sol, regime, lam_asym, d_par


@functools.lru_cache(maxsize=64)
def _parallel_boundary(beta: float, M: int, r: float, K: int) -> float:
    return theory.parallel_boundary(beta, M, r, K) if K > 1 else math.nan


# --- the simulator ------------------------------------------------------------------------------------

def simulate_network(params: NetworkParams, seed: int) -> xr.Dataset:
    """Monte-Carlo run of the multitasking Hebbian network, with its low-storage theory."""
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

    if math.isinf(beta):
        m_mf = np.full((p.n_replicas, K), np.nan)
    else:   # the mean-field fixed point of this very network, in the basin each replica ended in
        m_mf = np.array([theory.sample_mean_field(V, scale, xi, beta, final)[0] for final in sigma])
    sol, regime, lam_asym, d_par = _theory(d, M, r, K, beta)
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
                                           "from the replica's final state (nan at T = 0)"}),
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
            "lambda_asym": ((), lam_asym, {"long_name": "amplitude-splitting eigenvalue of the parallel state"}),
            "regime_theory": ((), regime, {"long_name": "regime of the solution: " + " | ".join(theory.REGIMES)}),
            "d_parallel": ((), d_par, {"long_name": "dilution above which the parallel state is stable at this beta",
                                       "units": "1"}),
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
