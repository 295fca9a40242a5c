"""Multitask contextual bandits with a shared representation: parameters and the simulators.

M tasks are played concurrently for T rounds.  Task i's mean reward for a context x is
``theta_i . phi*(x)`` with ``phi*(x) = g(W* x)`` in R^k, the same map for every task.  Three
representation classes Phi:

* ``finite``: N nonlinear maps ``tanh(W_j x)`` (W* one of them, the others perturbations of it);
* ``lowrank``: linear maps ``B^T x`` with B in R^{d x k} (W* = B^T, orthonormal rows);
* ``neural``: one-hidden-layer maps ``tanh(W x)`` with ||W||_F <= ``gain`` (W* on that sphere).

Algorithms (all on the same contexts and noise, see :mod:`kernels`):

* ``gfucb`` and ``gfucb_taskwise``: GFUCB's confidence set, the multi-head functions whose summed
  regularised least-squares loss over all M tasks is within beta of the smallest, with two action rules
  (neither verified as the paper's: its pseudocode was not readable to us).  ``gfucb``, joint optimism:
  the M tasks play the arm tuple (a_1..a_M) maximising max_{f in the set} sum_i f_i(x_i, a_i), the rule of
  MTLR-OFUL (Hu et al. 2021), the linear algorithm GFUCB generalises, hence our reading of the paper.
  ``gfucb_taskwise``, task-wise optimism over the same set: each task plays argmax_a max_{f in the set}
  f_i(x_i, a), the literal wording "each task plays the arm with the highest optimistic value over that
  set".  Both are exact over the finite class and over an eps-net of the continuous classes
  (``net_eps``; the net's log-size and its discretisation slack enter beta);
* ``single``: GFUCB run on each task alone (M = 1 each; independent representation learning);
* ``shared_ls``: shared least-squares UCB (continuous classes only): one W fitted by least squares on
  all tasks' data, refitted on a schedule, OFUL per task on its features, no representation term in
  the bonus (a baseline, not GFUCB);
* ``oracle``: independent OFUL per task on the true features phi* (known representation);
* ``raw``: independent OFUL per task on the raw d-dimensional context (realisable only for ``lowrank``).

The digit-classification bandit (:func:`simulate_digits`) has its own parameters and learners.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
from pathlib import Path

import numpy as np
import xarray as xr

from theorylab.bandits import kernels, theory
from theorylab.core.params import Params, param
from theorylab.core.provenance import stamp

STUDY = "bandits"
ALGORITHMS = ("gfucb", "gfucb_taskwise", "single", "shared_ls", "oracle", "raw")
SET_LEARNERS = ("gfucb", "gfucb_taskwise", "single")     # learners that keep GFUCB's confidence set
CLASSES = ("finite", "lowrank", "neural")
ALGO_LABELS = {"gfucb": "GFUCB, joint optimism (reconstructed rule)",
               "gfucb_taskwise": "GFUCB set, task-wise optimism", "single": "GFUCB per task (M = 1 each)",
               "shared_ls": "shared least-squares UCB", "oracle": "OFUL, known representation",
               "raw": "OFUL on raw contexts"}
MAX_NET = 200_000           # net points: the ridge statistics M N k^2 must fit in memory too


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
    net_eps: float = param(0.2, "continuous classes: covering radius eps of GFUCB's net of Phi", gt=0, le=1)
    algorithms: tuple[str, ...] = param(("gfucb", "gfucb_taskwise", "single", "oracle", "raw"),
                                        "algorithms to run", choices=ALGORITHMS)
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
        if self.rep_class == "finite" and "shared_ls" in self.algorithms:
            raise ValueError("algorithms must not contain shared_ls for the finite class (it fits a continuous W)")
        if self.rep_class != "finite" and set(SET_LEARNERS) & set(self.algorithms):
            if self.rep_class == "lowrank" and self.rep_dim != 1:
                raise ValueError(f"rep_dim must be 1 for GFUCB's net of the low-rank class (got {self.rep_dim})")
            n = theory.net_size_bound(self.rep_class, self.dim, self.rep_dim, self.net_eps, self.gain)
            if n > MAX_NET or n * self.tasks * self.rep_dim ** 2 > 20_000_000:
                raise ValueError(f"net_eps must keep the eps-net of Phi within memory, N <= {MAX_NET} and "
                                 f"M N k^2 <= 2e7 (got N = {n} at eps = {self.net_eps}, M = {self.tasks})")


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
    candidates: np.ndarray   # (N, k, d): the finite class (W* at index true_index) or an eps-net of Phi
    true_index: int          # the member closest to W* (W* itself for the finite class)
    near_heads: np.ndarray   # (M, k): heads that make the closest member closest to the true function
    eps_f: float             # sup-norm distance bound between that function and the true one


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
    elif p.rep_class == "neural":
        W, g = rng.normal(size=(k, d)), kernels.G_TANH
        W *= p.gain / np.linalg.norm(W)
    else:
        W, g = p.gain * rng.normal(size=(k, d)), kernels.G_TANH
    if p.rep_class == "finite":
        cands = W[None] + p.spread * p.gain * rng.normal(size=(p.candidates, k, d))
        j = int(rng.integers(p.candidates))
        cands[j] = W
    heads = rng.normal(size=(p.tasks, k))
    heads /= np.linalg.norm(heads, axis=1, keepdims=True)
    near_heads, eps_f = heads, 0.0
    if p.rep_class != "finite" and set(SET_LEARNERS) & set(p.algorithms):
        cands = net_of(p.rep_class, d, k, p.net_eps, p.gain)
        j = int(np.argmin(theory.net_distance(p.rep_class, W[None], cands)[0]))
        # low-rank: the closest line u_j carries the head theta (u_j . u*); tanh maps keep the heads
        near_heads = heads @ (cands[j] @ W.T).T if p.rep_class == "lowrank" else heads
        eps_f = p.net_eps                                      # |theta| <= S = 1
    return Environment(W, g, heads, cands, j, np.ascontiguousarray(near_heads), eps_f)


@functools.lru_cache(maxsize=8)
def net_of(rep_class: str, dim: int, rep_dim: int, eps: float, radius: float) -> np.ndarray:
    """The eps-net of Phi (deterministic, built once per process); read-only."""
    net = theory.epsilon_net(rep_class, dim, rep_dim, eps, radius)
    net.setflags(write=False)
    return net


def _initial_maps(p: BanditParams, seed: int, copies: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 2])
    scale = p.gain if p.rep_class == "neural" else 1.0 / np.sqrt(p.dim)
    return scale * rng.normal(size=(copies, p.rep_dim, p.dim))


def _run(p: BanditParams, env: Environment, algorithm: str, seed: int, rec: np.ndarray, log_inv_delta: float):
    """(regret (M, R), alive, covered, suboptimal (M, R) or None each) of one algorithm."""
    common = (seed, p.rounds, p.arms, env.W_true, env.g, env.heads, p.noise)
    if algorithm in ("oracle", "raw"):
        W_feat, g_feat = (env.W_true, env.g) if algorithm == "oracle" else (np.eye(p.dim), kernels.G_LINEAR)
        regret, _ = kernels.run_linucb(*common, W_feat, g_feat, p.lam, p.beta_scale, log_inv_delta, 1.0, rec)
        return regret, None, None, None
    if algorithm in SET_LEARNERS:
        feat2 = 1.0 if env.g == kernels.G_LINEAR else float(p.rep_dim)    # bound on |phi(x)|^2, |x| = 1
        shared, joint = algorithm != "single", algorithm == "gfucb"
        regret, _, alive, covered, bad = kernels.run_gfucb(*common, env.candidates, shared, joint, p.lam,
                                                           p.beta_scale, log_inv_delta, 1.0, feat2, env.eps_f,
                                                           env.true_index, env.near_heads, rec)
        return regret, alive, covered, bad
    W0 = _initial_maps(p, seed, 1)
    regret, _ = kernels.run_learned(*common, W0, True, p.lam, p.beta_scale, log_inv_delta, 1.0,
                                    refit_schedule(p.rounds, p.refit_every), p.fit_iters, p.damping, rec)
    return regret, None, None, None


def regret_variables(regret: np.ndarray) -> dict:
    """Per-task regret (algorithm, task, t) as Dataset variables over (algorithm, t).

    Tasks are exchangeable: the Dataset keeps their mean and their worst case, so that runs with
    different M stack on one grid.
    """
    return {
        "regret": (("algorithm", "t"), regret.mean(axis=1),
                   {"long_name": "per-task cumulative pseudo-regret (mean over the M tasks)", "units": "reward"}),
        "regret_worst": (("algorithm", "t"), regret.max(axis=1),
                         {"long_name": "largest cumulative pseudo-regret over the M tasks", "units": "reward"}),
    }


def simulate_bandits(params: BanditParams, seed: int) -> xr.Dataset:
    """Every algorithm on the same M tasks, contexts and noise; per-task cumulative pseudo-regret."""
    p = params
    env = make_environment(p, seed)
    rec = record_rounds(p.rounds, p.n_records)
    log_inv_delta = float(np.log(p.tasks / p.delta))   # union over the M tasks
    regret, alive, covered, suboptimal = [], [], [], []
    for algo in p.algorithms:
        r, a, c, b = _run(p, env, algo, seed, rec, log_inv_delta)
        regret.append(r)
        for out, v in ((alive, a), (covered, c), (suboptimal, b)):
            out.append(v.astype(float) if v is not None else np.full(r.shape, np.nan))
    n_maps = env.candidates.shape[0]
    log_cov = theory.log_covering(p.rep_class, max(n_maps, 1), p.dim, p.rep_dim, rec)
    regret = np.stack(regret)                                   # (algorithm, task, t)
    data = {
        **regret_variables(regret),
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
    if n_maps:
        data["n_alive"] = (("algorithm", "t"), np.stack(alive).mean(axis=1),
                           {"long_name": "representations left in the confidence set (mean over tasks)",
                            "units": "maps"})
        data["covered"] = (("algorithm", "t"), np.stack(covered).mean(axis=1),
                           {"long_name": "share of tasks whose confidence set held the class member closest "
                                         "to the true function at every round so far", "units": "1"})
        data["suboptimal"] = (("algorithm", "t"), np.stack(suboptimal).mean(axis=1),
                              {"long_name": "rounds so far whose arm was suboptimal under the true function "
                                            "(mean over tasks)", "units": "rounds"})
    ds = xr.Dataset(
        data,
        coords={
            "algorithm": ("algorithm", list(p.algorithms), {"units": "1", "long_name": "algorithm"}),
            "t": ("t", rec, {"units": "rounds", "long_name": "rounds played per task T"}),
        },
    )
    ds.attrs.update({"true_index": env.true_index, "feature_map": "tanh(W x)" if env.g == kernels.G_TANH
                     else "B^T x", "log_inv_delta": log_inv_delta, "n_maps": n_maps, "eps_f": env.eps_f})
    return stamp(ds, study=STUDY, params=params, seed=seed)


# --- the digit-classification bandit ---------------------------------------------------------------------

DIGIT_ALGORITHMS = ("shared_mlp", "task_mlp", "oracle", "raw")
DIGIT_LABELS = {"shared_mlp": "multitask MLP UCB (shared representation)",
                "task_mlp": "per-task MLP UCB", "oracle": "OFUL on the digit's class (known representation)",
                "raw": "OFUL on raw pixels"}
DATASETS = ("sklearn-digits",)


def digits_file() -> Path | None:
    """scikit-learn's bundled 8x8 digits (1797 images, shipped inside its wheel), or None if not installed."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"
    return path if path.is_file() else None


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """Images (1797, 64) scaled to [0, 1] and labels 0..9, read from the bundled file (no download)."""
    table = np.loadtxt(digits_file(), delimiter=",")
    return np.ascontiguousarray(table[:, :-1] / 16.0), table[:, -1].astype(np.int64)


@dataclasses.dataclass(frozen=True)
class DigitParams(Params):
    dataset: str = param("sklearn-digits", "image data set (bundled with its package, never downloaded)",
                         choices=DATASETS)
    tasks: int = param(4, "concurrent tasks M", ge=1, le=64)
    rounds: int = param(1000, "rounds T per task", ge=8, le=20_000)
    arms: int = param(10, "images offered per task and round K", ge=2, le=64)
    hidden: int = param(16, "hidden units h of the MLP representation", ge=1, le=128)
    noise: float = param(0.1, "reward noise standard deviation sigma", gt=0, le=10, unit="reward")
    lam: float = param(1.0, "ridge regularisation lambda", ge=1, le=100)
    delta: float = param(0.05, "confidence level delta", gt=0, lt=1)
    beta_scale: float = param(0.1, "multiplier of OFUL's confidence radius", gt=0, le=10)
    refit_every: int = param(100, "rounds between MLP refits (doubling before that)", ge=1, le=100_000)
    fit_rounds: int = param(2, "alternations (ridge heads, Adam steps on the MLP) per refit", ge=1, le=20)
    steps: int = param(60, "Adam steps per alternation", ge=1, le=10_000)
    batch: int = param(128, "minibatch size of an Adam step", ge=1, le=4096)
    lr: float = param(0.01, "Adam learning rate", gt=0, le=1)
    algorithms: tuple[str, ...] = param(DIGIT_ALGORITHMS, "learners to run", choices=DIGIT_ALGORITHMS)
    n_records: int = param(40, "log-spaced rounds at which regret is stored", ge=4, le=10_000)

    def check(self) -> None:
        if digits_file() is None:
            raise ValueError("dataset must be installed locally: scikit-learn's bundled digits file "
                             f"(sklearn/datasets/data/digits.csv.gz) was not found (got {self.dataset!r}); "
                             "install scikit-learn")
        if len(set(self.algorithms)) != len(self.algorithms):
            raise ValueError(f"algorithms must not repeat values (got {self.algorithms!r})")
        if self.tasks * self.rounds * self.arms > 20_000_000:
            raise ValueError(f"rounds must keep the drawn contexts M T K <= 2e7 (got {self.tasks} x "
                             f"{self.rounds} x {self.arms})")


def simulate_digits(params: DigitParams, seed: int) -> xr.Dataset:
    """The digit bandit: each round every task is offered K digit images and pulls one.

    Task i values a digit of class c at ``values[i, c]`` (uniform in [0, 1], drawn per task), so the tasks
    differ in their reward mapping and share the image representation (which class a digit is).  All
    learners see the same images and noise.  Draws are per task (``default_rng([seed, 3, i])``): a run
    with more tasks keeps the first tasks of a run with fewer.
    """
    p = params
    images, labels = load_digits()
    M, T, K = p.tasks, p.rounds, p.arms
    values = np.empty((M, 10))
    idx = np.empty((T, M, K), np.int64)
    noise = np.empty((T, M, K))
    for i in range(M):
        rng = np.random.default_rng([seed, 3, i])
        values[i] = rng.random(10)
        idx[:, i] = rng.integers(len(labels), size=(T, K))
        noise[:, i] = rng.normal(size=(T, K))
    rec = record_rounds(T, p.n_records)
    refit_at = refit_schedule(T, p.refit_every)
    init = np.random.default_rng([seed, 4])
    W1_0 = init.normal(size=(p.hidden, images.shape[1])) / np.sqrt(images.shape[1])
    b1_0 = np.zeros(p.hidden)
    u = init.random(size=(int(refit_at.sum()), p.steps, p.batch))
    log_inv_delta = float(np.log(M / p.delta))
    regret = []
    for algo in p.algorithms:
        if algo in ("shared_mlp", "task_mlp"):
            r, _ = kernels.run_mlp_ucb(images, labels, values, idx, noise, p.noise, W1_0, b1_0, algo == "shared_mlp",
                                       p.lam, p.beta_scale, log_inv_delta, 1.0, refit_at, p.fit_rounds, p.lr, u, rec)
        else:
            F = np.eye(10)[labels] if algo == "oracle" else np.hstack([images, np.ones((len(labels), 1))])
            r, _ = kernels.run_feature_ucb(np.ascontiguousarray(F), labels, values, idx, noise, p.noise, p.lam,
                                           p.beta_scale, log_inv_delta, 1.0, rec)
        regret.append(r)
    ds = xr.Dataset(
        regret_variables(np.stack(regret)),
        coords={"algorithm": ("algorithm", list(p.algorithms), {"units": "1", "long_name": "learner"}),
                "t": ("t", rec, {"units": "rounds", "long_name": "rounds played per task T"})},
    )
    ds.attrs.update({"n_images": int(len(labels)), "image_pixels": int(images.shape[1])})
    return stamp(ds, study=STUDY, params=params, seed=seed)
