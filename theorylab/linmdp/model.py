"""Multitask episodic linear MDPs with a shared feature map: parameters and the simulator.

M tasks, each an episodic MDP with S states, A actions, horizon H and Bernoulli rewards, are
played concurrently for K episodes.  All tasks are linear in one feature map ``phi*(s, a)`` in the
simplex of R^k, drawn from a finite class Phi of N maps (the others are mixtures of phi* with
random maps); transitions and rewards are task-specific (see :mod:`theory` for the construction
and its inherent Bellman error, 0 at ``misspec = 0``).

Learners (one kernel, :func:`kernels.run_lsvi`, on the same uniforms):

* ``shared``: multitask optimistic LSVI with a shared representation: the representation's
  confidence set is built from every task's data, each task runs optimistic LSVI on every kept map
  and all tasks play the map with the largest summed optimistic value;
* ``single``: the same rule in each task alone (per-task representation selection, then LSVI-UCB);
* ``oracle``: LSVI-UCB with the true features phi* (known representation);
* ``tabular``: LSVI-UCB on one-hot (s, a) features, d = S A (no representation assumed).

Every regret is exact: the value of each episode's greedy policy is computed by dynamic programming.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import xarray as xr

from theorylab.core.params import Params, param
from theorylab.core.provenance import stamp
from theorylab.linmdp import kernels, theory

STUDY = "linmdp"
ALGORITHMS = ("shared", "single", "oracle", "tabular")
ALGO_LABELS = {"shared": "multitask optimistic LSVI, shared representation",
               "single": "per-task optimistic LSVI (representation per task)",
               "oracle": "LSVI-UCB, known features phi*",
               "tabular": "LSVI-UCB, one-hot (s, a) features"}


@dataclasses.dataclass(frozen=True)
class LinMDPParams(Params):
    tasks: int = param(4, "concurrent tasks M", ge=1, le=64)
    episodes: int = param(500, "episodes K per task", ge=2, le=100_000)
    states: int = param(6, "states S", ge=2, le=64)
    actions: int = param(3, "actions A", ge=2, le=16)
    horizon: int = param(5, "horizon H (steps per episode)", ge=1, le=100)
    rep_dim: int = param(2, "feature dimension k", ge=1, le=32)
    candidates: int = param(128, "size N of the class Phi of feature maps", ge=1, le=4096)
    spread: float = param(1.0, "weight of the random map in each wrong candidate (1 - spread) phi* + spread D_j",
                          gt=0, le=1)
    feature_conc: float = param(0.3, "Dirichlet concentration of the rows of phi* and D_j (small: near one-hot)",
                                gt=0, le=100)
    transition_conc: float = param(0.3, "Dirichlet concentration of the next-state laws mu_i (small: sparse)",
                                   gt=0, le=100)
    misspec: float = param(0.0, "weight eps of an arbitrary tabular MDP mixed into every task (inherent "
                                "Bellman error <= eps H / 2)", ge=0, lt=1)
    lam: float = param(0.1, "ridge regularisation lambda", gt=0, le=100)
    delta: float = param(0.05, "confidence level delta", gt=0, lt=1)
    bonus_scale: float = param(0.05, "multiplier of the LSVI exploration radius", ge=0, le=10)
    rep_scale: float = param(1.0, "multiplier of the representation test's threshold (1: the stated one)",
                             gt=0, le=10)
    algorithms: tuple[str, ...] = param(ALGORITHMS, "learners to run", choices=ALGORITHMS)
    n_records: int = param(30, "log-spaced episodes at which regret is stored", ge=4, le=10_000)

    def check(self) -> None:
        if len(set(self.algorithms)) != len(self.algorithms):
            raise ValueError(f"algorithms must not repeat values (got {self.algorithms!r})")
        if self.tasks * self.candidates * self.rep_dim ** 2 > 20_000_000:
            raise ValueError(f"candidates must keep the ridge statistics M N k^2 <= 2e7 (got {self.tasks} x "
                             f"{self.candidates} x {self.rep_dim}^2)")
        if self.candidates * self.states * self.actions * self.rep_dim > 50_000_000:
            raise ValueError(f"candidates must keep the class N S A k <= 5e7 (got {self.candidates} x "
                             f"{self.states} x {self.actions} x {self.rep_dim})")
        if self.tasks * self.states ** 2 * self.actions > 50_000_000:
            raise ValueError(f"states must keep the transition tables M S^2 A <= 5e7 (got {self.tasks} x "
                             f"{self.states}^2 x {self.actions})")
        if "tabular" in self.algorithms and self.tasks * (self.states * self.actions) ** 2 > 20_000_000:
            raise ValueError(f"states must keep the tabular ridge statistics M (S A)^2 <= 2e7 (got {self.tasks} x "
                             f"({self.states} x {self.actions})^2)")


def record_episodes(episodes: int, n_records: int) -> np.ndarray:
    """Distinct log-spaced episode counts in [1, K], always including K/8, K/4, K/2 and K."""
    grid = np.unique(np.rint(np.logspace(0, np.log10(episodes), n_records)).astype(np.int64))
    return np.union1d(grid, [max(1, episodes // q) for q in (8, 4, 2, 1)])


@dataclasses.dataclass(frozen=True)
class Environment:
    phi: np.ndarray          # (S, A, k) true features, rows in the simplex
    candidates: np.ndarray   # (N, S, A, k), phi at true_index
    true_index: int
    mu: np.ndarray           # (M, k, S) next-state laws of the k factors
    theta: np.ndarray        # (M, k) reward weights in [0, 1]
    P: np.ndarray            # (M, S, A, S)
    R: np.ndarray            # (M, S, A) Bernoulli reward means in [0, 1]
    rho: np.ndarray          # (S,) initial law (uniform)


def make_environment(p: LinMDPParams, seed: int) -> Environment:
    """Draw phi*, the class and then the tasks from ``default_rng([seed, 1])`` (independent of the kernels' stream).

    The shared parts come first and take a fixed number of draws, the tasks last and one after the
    other: at a given seed a run with more tasks keeps the tasks of a run with fewer, so comparisons
    across M are paired by seed.
    """
    rng = np.random.default_rng([seed, 1])
    S, A, k, N = p.states, p.actions, p.rep_dim, p.candidates
    phi = rng.dirichlet(np.full(k, p.feature_conc), size=(S, A))
    noise = rng.dirichlet(np.full(k, p.feature_conc), size=(N, S, A))
    cands = (1.0 - p.spread) * phi[None] + p.spread * noise
    j = int(rng.integers(N))
    cands[j] = phi
    mus, thetas, Ps, Rs = [], [], [], []
    for _ in range(p.tasks):
        mu = rng.dirichlet(np.full(S, p.transition_conc), size=k)
        theta = rng.uniform(size=k)
        P_tab = rng.dirichlet(np.ones(S), size=(S, A))
        r_tab = rng.uniform(size=(S, A))
        mus.append(mu)
        thetas.append(theta)
        Ps.append((1.0 - p.misspec) * phi @ mu + p.misspec * P_tab)
        Rs.append((1.0 - p.misspec) * phi @ theta + p.misspec * r_tab)
    P = np.array(Ps)
    P /= P.sum(axis=-1, keepdims=True)          # exact rows to rounding
    return Environment(phi, cands, j, np.array(mus), np.array(thetas), P, np.array(Rs),
                       np.full(S, 1.0 / S))


def learner_features(env: Environment, algorithm: str) -> tuple[np.ndarray, int]:
    """(class of feature maps (N, S, A, d), index of phi* in it or -1) given to a learner."""
    if algorithm in ("shared", "single"):
        return env.candidates, env.true_index
    if algorithm == "oracle":
        return env.phi[None], 0
    S, A = env.phi.shape[:2]
    return np.eye(S * A).reshape(1, S, A, S * A), -1


def _cumsum(x: np.ndarray) -> np.ndarray:
    c = np.cumsum(x, axis=-1)
    c[..., -1] = 1.0
    return c


def run_algorithm(p: LinMDPParams, env: Environment, algorithm: str, seed: int, rec: np.ndarray):
    """(regret, kept, picked_true, missed, mc) of one learner, see :func:`kernels.run_lsvi`."""
    feats, true_index = learner_features(env, algorithm)
    return kernels.run_lsvi(seed, p.episodes, p.horizon, env.P, _cumsum(env.P), env.R, env.rho, _cumsum(env.rho),
                            np.ascontiguousarray(feats), true_index, algorithm == "shared", p.lam,
                            p.bonus_scale, p.rep_scale, float(np.log(p.tasks / p.delta)), rec)


def bellman_test_values(p: LinMDPParams, env: Environment, seed: int) -> list[np.ndarray]:
    """Per task, an (H + 8, S) stack of value functions: its V*_{h+1} (h < H) and 8 uniform draws in [0, H - 1]^S."""
    rng = np.random.default_rng([seed, 3])
    values = []
    for i in range(p.tasks):
        vs = theory.optimal_values(env.P[i], env.R[i], p.horizon)[1:]
        values.append(np.vstack([vs, rng.uniform(0, max(p.horizon - 1, 1), size=(8, p.states))]))
    return values


def bellman_residuals(p: LinMDPParams, env: Environment, seed: int) -> tuple[float, float]:
    """Bounds on inherent Bellman errors over a set of value functions: (an upper bound for phi*, the smallest
    lower bound over the wrong maps of Phi).

    Value functions: :func:`bellman_test_values`.  Upper bound for phi*:
    the smaller sup-norm residual of two feasible fits of T V, least squares and the construction's witness
    (:func:`theory.bellman_witness`).  Lower bound for a map: the root-mean-square residual of its
    least-squares fit (no fit has a smaller largest error).
    """
    values = bellman_test_values(p, env, seed)
    true = 0.0
    for i in range(p.tasks):
        for V in values[i]:
            target = theory.backup(env.P[i], env.R[i], V)
            witness = theory.bellman_witness(env.phi, env.mu[i], env.theta[i], p.misspec, V)
            true = max(true, min(theory.projection_residual(env.phi, target, "sup"),
                                 float(np.abs(target - env.phi @ witness).max())))
    wrong = [theory.largest_residual(c, env.P, env.R, values, "rms") for j, c in enumerate(env.candidates)
             if j != env.true_index]
    return true, (min(wrong) if wrong else np.nan)


def simulate_linmdp(params: LinMDPParams, seed: int) -> xr.Dataset:
    """Every learner on the same M tasks and uniforms; per-task cumulative exact regret and Monte Carlo checks."""
    p = params
    env = make_environment(p, seed)
    rec = record_episodes(p.episodes, p.n_records)
    out = [run_algorithm(p, env, algo, seed, rec) for algo in p.algorithms]
    regret = np.stack([o[0] for o in out])                     # (algorithm, task, episode)
    kept = np.stack([o[1] for o in out]).mean(axis=1)
    hits = np.stack([o[2] for o in out]).mean(axis=1) / rec
    missed = np.stack([o[3] for o in out]).max(axis=1)
    mc = np.stack([o[4] for o in out])                         # (algorithm, task, 4)
    n_ep = p.episodes * p.tasks
    v_opt = np.mean([theory.optimal_values(env.P[i], env.R[i], p.horizon)[0] @ env.rho for i in range(p.tasks)])
    res_true, res_wrong = bellman_residuals(p, env, seed)
    ds = xr.Dataset(
        {
            # tasks are exchangeable: the Dataset keeps their mean and their worst case, so that runs
            # with different M stack on one grid
            "regret": (("algorithm", "episode"), regret.mean(axis=1),
                       {"long_name": "per-task cumulative regret rho.(V* - V^pi) (mean over the M tasks)",
                        "units": "return"}),
            "regret_worst": (("algorithm", "episode"), regret.max(axis=1),
                             {"long_name": "largest cumulative regret over the M tasks", "units": "return"}),
            "n_kept": (("algorithm", "episode"), kept,
                       {"long_name": "feature maps in the representation confidence set (mean over tasks)",
                        "units": "maps"}),
            "frac_true": (("algorithm", "episode"), hits,
                          {"long_name": "fraction of episodes so far played on the true feature map",
                           "units": "1"}),
            "true_missed": (("algorithm", "episode"), missed,
                            {"long_name": "episodes so far with the true map outside the confidence set "
                                          "(largest over tasks)", "units": "episodes"}),
            "mc_return": (("algorithm",), mc[:, :, 0].sum(axis=1) / n_ep,
                          {"long_name": "mean realised return per episode (Monte Carlo)", "units": "return"}),
            "dp_value": (("algorithm",), mc[:, :, 1].sum(axis=1) / n_ep,
                         {"long_name": "mean exact value rho.V^pi of the played policies (dynamic programming)",
                          "units": "return"}),
            "mc_gap_sum": (("algorithm",), mc[:, :, 2].sum(axis=1),
                           {"long_name": "sum over episodes and tasks of return - rho.V^pi", "units": "return"}),
            "mc_gap_sq": (("algorithm",), mc[:, :, 3].sum(axis=1),
                          {"long_name": "sum over episodes and tasks of (return - rho.V^pi)^2",
                           "units": "return^2"}),
            "mc_episodes": ((), n_ep, {"long_name": "episodes summed over tasks (K M)", "units": "episodes"}),
            "value_optimal": ((), v_opt, {"long_name": "optimal value rho.V* (mean over tasks)", "units": "return"}),
            "bellman_residual_true": ((), res_true,
                                      {"long_name": "upper bound on the inherent Bellman error of phi*: largest "
                                                    "least-squares residual of T V on span(phi*)",
                                       "units": "return"}),
            "bellman_residual_wrong": ((), res_wrong,
                                       {"long_name": "smallest over the wrong maps of a lower bound on their "
                                                     "inherent Bellman error (rms least-squares residual)",
                                        "units": "return"}),
            "bellman_error_bound": ((), theory.bellman_error_bound(p.misspec, p.horizon),
                                    {"long_name": "inherent Bellman error bound eps H / 2 of phi*",
                                     "units": "return"}),
        },
        coords={
            "algorithm": ("algorithm", list(p.algorithms), {"units": "1", "long_name": "learner"}),
            "episode": ("episode", rec, {"units": "episodes", "long_name": "episodes played per task K"}),
        },
    )
    ds.attrs.update({"true_index": env.true_index})
    return stamp(ds, study=STUDY, params=params, seed=seed)
