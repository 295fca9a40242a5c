"""Multitask contextual bandits with a shared representation: parameters and the simulator.

M tasks are played concurrently for T rounds.  Task i's mean reward for a context x is
``theta_i . phi*(x)`` with ``phi*(x) = g(W* x)`` in R^k, the same map for every task.  Three
representation classes Phi:

* ``finite``: N nonlinear maps ``tanh(W_j x)`` (W* one of them, the others perturbations of it),
  enumerated exactly by GFUCB;
* ``lowrank``: linear maps ``B^T x`` with B in R^{d x k} (W* = B^T, orthonormal rows);
* ``neural``: one-hidden-layer maps ``tanh(W x)``, W in R^{k x d} (the paper's neural-net
  representation, on synthetic contexts).

Algorithms (all on the same contexts and noise, see :mod:`kernels`):

* ``gfucb``: the representation is learned from all M tasks' data (finite class: elimination by
  the summed least-squares loss; continuous classes: least-squares fit of a shared W, refitted on a
  schedule) and each task plays OFUL on top of it;
* ``single``: the same algorithm run on each task alone (independent representation learning);
* ``oracle``: independent OFUL per task on the true features phi* (known representation);
* ``raw``: independent OFUL per task on the raw d-dimensional context (unknown representation;
  realisable only for ``lowrank``).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import xarray as xr

from theorylab.bandits import kernels, theory
from theorylab.core.params import Params, param
from theorylab.core.provenance import stamp

STUDY = "bandits"
ALGORITHMS = ("gfucb", "single", "oracle", "raw")
CLASSES = ("finite", "lowrank", "neural")
ALGO_LABELS = {"gfucb": "GFUCB (shared representation)", "single": "GFUCB per task (M = 1 each)",
               "oracle": "OFUL, known representation", "raw": "OFUL on raw contexts"}


@dataclasses.dataclass(frozen=True)
class BanditParams(Params):
    rep_class: str = param("finite", "representation class Phi", choices=CLASSES)
    tasks: int = param(4, "concurrent tasks M", ge=1, le=64)
    rounds: int = param(1000, "rounds T per task", ge=8, le=100_000)
    arms: int = param(8, "arms K per task and round", ge=2, le=256)
    dim: int = param(8, "context dimension d", ge=1, le=128)
    rep_dim: int = param(2, "representation dimension k", ge=1, le=32)
    noise: float = param(0.1, "reward noise standard deviation sigma", gt=0, le=10, unit="reward")
    candidates: int = param(128, "size N of the finite class", ge=2, le=4096)
    spread: float = param(0.5, "finite class: relative distance of the wrong maps from W*", gt=0, le=10)
    gain: float = param(1.5, "scale of W* for tanh classes (larger: more nonlinear)", gt=0, le=10)
    lam: float = param(1.0, "ridge regularisation lambda", ge=1, le=100)
    delta: float = param(0.05, "confidence level delta", gt=0, lt=1)
    beta_scale: float = param(1.0, "multiplier of every confidence radius (1: the theoretical one)", gt=0, le=10)
    refit_every: int = param(50, "continuous classes: rounds between representation refits "
                             "(doubling before that)", ge=1, le=100_000)
    fit_iters: int = param(4, "alternating (ridge heads, Gauss-Newton on W) iterations per refit", ge=1, le=100)
    damping: float = param(1.0, "Levenberg-Marquardt damping of the W step", gt=0, le=1e6)
    algorithms: tuple[str, ...] = param(ALGORITHMS, "algorithms to run", choices=ALGORITHMS)
    n_records: int = param(40, "log-spaced rounds at which regret is stored", ge=4, le=10_000)

    def check(self) -> None:
        if self.rep_dim > self.dim:
            raise ValueError(f"rep_dim must be <= dim (got {self.rep_dim} > {self.dim})")
        if len(set(self.algorithms)) != len(self.algorithms):
            raise ValueError(f"algorithms must not repeat values (got {self.algorithms!r})")
        if self.tasks * self.rounds * self.dim > 50_000_000:
            raise ValueError(f"rounds must keep the stored contexts M T d <= 5e7 (got {self.tasks} x "
                             f"{self.rounds} x {self.dim})")
        if self.rep_class == "finite" and self.tasks * self.candidates * self.rep_dim ** 2 > 20_000_000:
            raise ValueError(f"candidates must keep the ridge statistics M N k^2 <= 2e7 (got {self.tasks} x "
                             f"{self.candidates} x {self.rep_dim}^2)")


def record_rounds(rounds: int, n_records: int) -> np.ndarray:
    """Distinct log-spaced round counts in [1, T], always including T/8, T/4, T/2 and T."""
    grid = np.unique(np.rint(np.logspace(0, np.log10(rounds), n_records)).astype(np.int64))
    return np.union1d(grid, [max(1, rounds // d) for d in (8, 4, 2, 1)])


def refit_schedule(rounds: int, every: int) -> np.ndarray:
    """refit after round t (0-based) when t + 1 is a power of two below ``every`` or a multiple of it."""
    n = np.arange(1, rounds + 1)
    doubling = (n & (n - 1)) == 0
    return (doubling & (n < every)) | (n % every == 0)


@dataclasses.dataclass(frozen=True)
class Environment:
    W_true: np.ndarray       # (k, d)
    g: int
    heads: np.ndarray        # (M, k), unit norm
    candidates: np.ndarray   # (N, k, d) for the finite class (W* at index true_index), else (0, k, d)
    true_index: int


def make_environment(p: BanditParams, seed: int) -> Environment:
    """Draw W*, the finite class and then the heads from ``default_rng(seed)`` (independent of the kernels' stream).

    The order matters: the representation and the candidates take a fixed number of draws, so they come
    first and are the same for every M at a given seed; the M heads come last, so a run with more tasks
    keeps the heads of a run with fewer.  Runs at different M then share W* and the candidates (common
    random numbers across M) and comparisons across M are paired by seed; the kernels' contexts and
    noise are drawn for all M tasks each round and are not shared across M.
    """
    rng = np.random.default_rng([seed, 1])
    k, d = p.rep_dim, p.dim
    cands, j = np.zeros((0, k, d)), -1
    if p.rep_class == "lowrank":
        B, _ = np.linalg.qr(rng.normal(size=(d, k)))
        W, g = np.ascontiguousarray(B.T), kernels.G_LINEAR
    else:
        W, g = p.gain * rng.normal(size=(k, d)), kernels.G_TANH
    if p.rep_class == "finite":
        cands = W[None] + p.spread * p.gain * rng.normal(size=(p.candidates, k, d))
        j = int(rng.integers(p.candidates))
        cands[j] = W
    heads = rng.normal(size=(p.tasks, k))
    heads /= np.linalg.norm(heads, axis=1, keepdims=True)
    return Environment(W, g, heads, cands, j)


def _initial_maps(p: BanditParams, seed: int, copies: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 2])
    scale = p.gain if p.rep_class == "neural" else 1.0 / np.sqrt(p.dim)
    return scale * rng.normal(size=(copies, p.rep_dim, p.dim))


def _run(p: BanditParams, env: Environment, algorithm: str, seed: int, rec: np.ndarray, log_inv_delta: float):
    """(regret (M, R), alive (M, R) or None) of one algorithm."""
    common = (seed, p.rounds, p.arms, env.W_true, env.g, env.heads, p.noise)
    if algorithm in ("oracle", "raw"):
        W_feat, g_feat = (env.W_true, env.g) if algorithm == "oracle" else (np.eye(p.dim), kernels.G_LINEAR)
        regret, _ = kernels.run_linucb(*common, W_feat, g_feat, p.lam, p.beta_scale, log_inv_delta, 1.0, rec)
        return regret, None
    shared = algorithm == "gfucb"
    if p.rep_class == "finite":
        regret, _, alive = kernels.run_finite(*common, env.candidates, shared, p.lam, p.beta_scale,
                                              log_inv_delta, 1.0, rec)
        return regret, alive
    W0 = _initial_maps(p, seed, 1)
    W0 = W0 if shared else np.repeat(W0, p.tasks, axis=0)    # every task starts from the same map
    regret, _ = kernels.run_learned(*common, W0, shared, p.lam, p.beta_scale, log_inv_delta, 1.0,
                                    refit_schedule(p.rounds, p.refit_every), p.fit_iters, p.damping, rec)
    return regret, None


def simulate_bandits(params: BanditParams, seed: int) -> xr.Dataset:
    """Every algorithm on the same M tasks, contexts and noise; per-task cumulative pseudo-regret."""
    p = params
    env = make_environment(p, seed)
    rec = record_rounds(p.rounds, p.n_records)
    log_inv_delta = float(np.log(p.tasks / p.delta))   # union over the M tasks
    regret, alive = [], []
    for algo in p.algorithms:
        r, a = _run(p, env, algo, seed, rec, log_inv_delta)
        regret.append(r)
        alive.append(a.astype(float) if a is not None else np.full(r.shape, np.nan))
    log_cov = theory.log_covering(p.rep_class, p.candidates, p.dim, p.rep_dim, rec)
    regret = np.stack(regret)                                   # (algorithm, task, t)
    data = {
        # tasks are exchangeable: the Dataset keeps their mean and their worst case, so that
        # runs with different M stack on one grid
        "regret": (("algorithm", "t"), regret.mean(axis=1),
                   {"long_name": "per-task cumulative pseudo-regret (mean over the M tasks)", "units": "reward"}),
        "regret_worst": (("algorithm", "t"), regret.max(axis=1),
                         {"long_name": "largest cumulative pseudo-regret over the M tasks", "units": "reward"}),
        # beta_T is in units of sigma^2: the bound scales like sigma sqrt(...), in reward units
        "bound_multitask": (("t",), p.noise * theory.per_task_bound_scaling(rec, p.tasks, p.rep_dim, p.lam,
                                                                            log_cov, log_inv_delta),
                            {"long_name": "per-task scale of the M-head bound sigma sqrt(T d_E beta_T(M) / M)",
                             "units": "reward"}),
        "bound_single": (("t",), p.noise * theory.per_task_bound_scaling(rec, 1, p.rep_dim, p.lam, log_cov,
                                                                         log_inv_delta),
                         {"long_name": "per-task scale of the single-task bound sigma sqrt(T d_E beta_T(1))",
                          "units": "reward"}),
        "oful_bound": (("t",), theory.oful_regret_bound(rec, p.noise, p.rep_dim, p.lam, log_inv_delta, 1.0),
                       {"long_name": "OFUL regret bound (Abbasi-Yadkori et al. 2011, Thm. 3), one task",
                        "units": "reward"}),
    }
    if p.rep_class == "finite":
        data["n_alive"] = (("algorithm", "t"), np.stack(alive).mean(axis=1),
                           {"long_name": "representations left in the confidence set (mean over tasks)",
                            "units": "maps"})
    ds = xr.Dataset(
        data,
        coords={
            "algorithm": ("algorithm", list(p.algorithms), {"units": "1", "long_name": "algorithm"}),
            "t": ("t", rec, {"units": "rounds", "long_name": "rounds played per task T"}),
        },
    )
    ds.attrs.update({"true_index": env.true_index, "feature_map": "tanh(W x)" if env.g == kernels.G_TANH
                     else "B^T x", "log_inv_delta": log_inv_delta})
    return stamp(ds, study=STUDY, params=params, seed=seed)
