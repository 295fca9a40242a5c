"""Multi-task PSRs: parameters, model classes and simulators.

* :func:`simulate_bracketing`: the single-task class table, its exact pairwise
  policy-maximised L1 distances (identifiability), and the eta-bracketing counts of the
  joint class against the product of single-task classes, for N = 1..max_tasks.
* :func:`simulate_upstream`: UMT-PSR (reward-free exploration by the widest total-variation
  pair of the joint confidence set), the same rule task by task, or the optimistic baseline,
  on N tasks of one family (or N identical tasks); per-iteration TV width, value errors,
  output suboptimality, coverage.
* :func:`simulate_downstream`: UMT-PSR upstream, then OMLE on a new target task over the
  class restricted by the similarity constraint, against OMLE from scratch (the target may
  lie outside the restricted class: ``target_shift``).
* :func:`simulate_exact`: random tiny POMDPs; the kernels against exhaustive enumeration
  (all deterministic policies, all latent paths).

Models are built as POMDPs (:func:`pomdp`) and used in PSR form (:func:`to_psr`).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math

import numpy as np
import xarray as xr

from theorylab.core.params import Params, param
from theorylab.core.provenance import stamp
from theorylab.psr import kernels, theory

STUDY = "psr"
S, A, O = 2, 2, 3   # latent states, actions, observations (one-step core tests: d = O)
FAMILIES = {"transition": "common transition kernel p (shared), task-specific emission accuracy alpha",
            "emission": "common emission / core-test matrix alpha (shared), task-specific transition p"}
# learner -> how the N tasks' models are tied: UMT-PSR and its single-task counterpart explore reward-free by
# the widest pair of the confidence set; omle-optimistic plans by optimism over the joint class (a baseline)
LEARNERS = {"umt-psr": "joint class {(s, t_1..t_N)}, reward-free exploration by the widest TV pair",
            "single-task": "each task's own class {(s, t)}, the same reward-free rule task by task",
            "omle-optimistic": "joint class {(s, t_1..t_N)}, optimistic planning (max summed optimal value)"}
ITER_ATTRS = {"units": "iteration", "long_name": "iteration k (H episodes per task each)"}


# --- models ------------------------------------------------------------------------------------------

def pomdp(p: float, alpha: float, initial: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The two-state POMDP: T[a][s', s], E[o, s], mu.

    Action 0 keeps the state and action 1 flips it, each with probability p; state s emits
    observation s with probability alpha and each other observation with (1 - alpha) / 2.
    """
    T = np.empty((A, S, S))
    T[0] = [[p, 1 - p], [1 - p, p]]
    T[1] = [[1 - p, p], [p, 1 - p]]
    E = np.full((O, S), (1 - alpha) / 2)
    E[np.arange(S), np.arange(S)] = alpha
    return T, E, np.array([initial, 1 - initial])


def to_psr(T: np.ndarray, E: np.ndarray, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predictive-state form with one-step core tests: psi0 = E mu, M[a, o] = E T[a] diag(E[o]) E^+."""
    if np.linalg.matrix_rank(E) < E.shape[1]:
        raise ValueError("E must have full column rank for one-step core tests (got a rank-deficient emission)")
    pinv = np.linalg.pinv(E)
    ops = np.empty((T.shape[0], E.shape[0], E.shape[0], E.shape[0]))
    for a in range(T.shape[0]):
        for o in range(E.shape[0]):
            ops[a, o] = E @ T[a] @ np.diag(E[o]) @ pinv
    return E @ mu, ops


def reward_table(goal: int, switch_cost: float) -> np.ndarray:
    """R[o, a] = (1{o = goal} + c 1{a = 0}) / (1 + c): reward for seeing the goal, a bonus c for not switching."""
    R = np.zeros((O, A))
    R[goal, :] += 1.0
    R[:, 0] += switch_cost
    return R / (1.0 + switch_cost)


def _readonly(*arrays: np.ndarray) -> None:
    for a in arrays:
        a.setflags(write=False)


@dataclasses.dataclass(frozen=True, eq=False)   # hashed by identity: tables come from the class_table cache
class ClassTable:
    """Candidate models theta[s, t] (flat index m = s g_t + t) of one family, in PSR form."""

    shared: np.ndarray      # (g_s,) shared parameter values
    levels: np.ndarray      # (g_t,) task-specific parameter values
    psi0: np.ndarray        # (M, O)
    ops: np.ndarray         # (M, A, O, O, O)
    leaf_ll: np.ndarray     # (M, n_leaves) log-likelihood of every leaf trajectory
    leaf_p: np.ndarray      # (M, n_leaves) its probability
    horizon: int

    @property
    def g_s(self) -> int:
        return self.shared.size

    @property
    def g_t(self) -> int:
        return self.levels.size


@functools.lru_cache(maxsize=8)
def class_table(family: str, horizon: int, shared_points: int, shared_low: float, shared_high: float,
                task_levels: tuple[float, ...], initial: float) -> ClassTable:
    shared = np.linspace(shared_low, shared_high, shared_points)
    levels = np.asarray(task_levels, float)
    psi0 = np.empty((shared.size * levels.size, O))
    ops = np.empty((shared.size * levels.size, A, O, O, O))
    for s, t in itertools.product(range(shared.size), range(levels.size)):
        p, alpha = (shared[s], levels[t]) if family == "transition" else (levels[t], shared[s])
        psi0[s * levels.size + t], ops[s * levels.size + t] = to_psr(*pomdp(p, alpha, initial))
    obs, act = kernels.leaf_trajectories(horizon, A, O)
    leaf_ll = kernels.loglik_table(psi0, ops, obs, act)
    table = ClassTable(shared, levels, psi0, ops, leaf_ll, np.exp(leaf_ll), horizon)
    _readonly(shared, levels, psi0, ops, leaf_ll, table.leaf_p)
    return table


@functools.lru_cache(maxsize=16)
def optimal_policies(table: ClassTable, goal: int, switch_cost: float) -> tuple[np.ndarray, np.ndarray]:
    """Optimal value (M,) and policy (M, n_nodes) of every candidate for the reward of ``goal``."""
    R = reward_table(goal, switch_cost)
    n_nodes = kernels.node_offsets(table.horizon, A, O)[table.horizon]
    values = np.empty(table.psi0.shape[0])
    policies = np.empty((table.psi0.shape[0], n_nodes), np.int8)
    for m in range(values.size):
        values[m], policies[m] = kernels.plan(table.psi0[m], table.ops[m], R, table.horizon)
    _readonly(values, policies)
    return values, policies


@functools.lru_cache(maxsize=8)
def tv_table(table: ClassTable) -> np.ndarray:
    """tv[m, m'] = max over deterministic policies of TV(P^pi_m, P^pi_m') for every pair of candidates."""
    tv = 0.5 * kernels.distance_matrix(table.leaf_p, table.horizon, A, O)
    _readonly(tv)
    return tv


@dataclasses.dataclass(frozen=True)
class Tasks:
    """Value tables of N tasks over one class: what the learner kernel needs."""

    true_index: np.ndarray  # (N,) candidate index of each task's true model
    goals: np.ndarray       # (N,)
    policies: np.ndarray    # (N, M, n_nodes) optimal policy of candidate m for task n's reward
    vstar: np.ndarray       # (N, M) its value in candidate m (the optimistic value)
    vtrue: np.ndarray       # (N, M) its value in task n's true model
    vopt: np.ndarray        # (N,) task n's optimal value

    @property
    def err(self) -> np.ndarray:
        """(N, M) value error |V_m(pi_m) - V_true(pi_m)| of candidate m on its own optimal policy."""
        return np.abs(self.vstar - self.vtrue)


@functools.lru_cache(maxsize=64)
def true_values(table: ClassTable, true_index: int, goal: int, switch_cost: float) -> np.ndarray:
    """(M,) value in the true model ``true_index`` of every candidate's optimal policy for the reward of ``goal``.

    Candidates share few distinct optimal policies (about 80 of 1053 on the paper's class), and tasks with
    the same true model and goal share the row: each distinct policy is evaluated once.
    """
    _, pols = optimal_policies(table, goal, switch_cost)
    distinct, which = np.unique(pols, axis=0, return_inverse=True)
    R = reward_table(goal, switch_cost)
    values = np.array([kernels.policy_value(table.psi0[true_index], table.ops[true_index], R, pol, table.horizon)
                       for pol in distinct])[which.ravel()]
    _readonly(values)
    return values


def task_tables(table: ClassTable, true_index: np.ndarray, goals: np.ndarray, switch_cost: float) -> Tasks:
    N, M = true_index.size, table.psi0.shape[0]
    policies = np.empty((N, M, kernels.node_offsets(table.horizon, A, O)[table.horizon]), np.int8)
    vstar, vtrue, vopt = np.empty((N, M)), np.empty((N, M)), np.empty(N)
    for n, (ti, goal) in enumerate(zip(true_index, goals)):
        values, pols = optimal_policies(table, int(goal), switch_cost)
        policies[n], vstar[n], vopt[n] = pols, values, values[ti]
        vtrue[n] = true_values(table, int(ti), int(goal), switch_cost)
    return Tasks(true_index, goals, policies, vstar, vtrue, vopt)


# --- parameters shared by every simulator of a family ------------------------------------------------

@dataclasses.dataclass(frozen=True)
class FamilyParams(Params):
    family: str = param("transition", "shared structure: common transition kernel or common emission (core tests)",
                        choices=tuple(FAMILIES))
    horizon: int = param(4, "episode length H", ge=2, le=5, unit="steps")
    shared_points: int = param(351, "grid points g_s of the shared parameter", ge=2, le=2001, unit="points")
    shared_low: float = param(0.6, "lowest shared parameter value (p or alpha)", gt=0.5, lt=1)
    shared_high: float = param(0.95, "highest shared parameter value (p or alpha)", gt=0.5, lt=1)
    task_levels: tuple[float, ...] = param((0.7, 0.8, 0.9), "task-specific parameter values (alpha or p), g_t of them",
                                           gt=0.5, lt=1)
    initial: float = param(0.8, "probability of starting in latent state 0", gt=0, lt=1)

    def check(self) -> None:
        if not self.shared_low < self.shared_high:
            raise ValueError(f"shared_high must be > shared_low (got {self.shared_high} <= {self.shared_low})")
        if len(set(self.task_levels)) != len(self.task_levels):
            raise ValueError(f"task_levels must not repeat values (got {self.task_levels!r})")
        n_leaves = O ** self.horizon * A ** (self.horizon - 1)
        if self.shared_points * len(self.task_levels) * n_leaves > 20_000_000:
            raise ValueError(f"shared_points must keep the leaf table <= 2e7 entries (got {self.shared_points} x "
                             f"{len(self.task_levels)} models x {n_leaves} leaves)")

    def table(self) -> ClassTable:
        return class_table(self.family, self.horizon, self.shared_points, self.shared_low, self.shared_high,
                           self.task_levels, self.initial)


def _class_coords(table: ClassTable, family: str) -> dict:
    shared_name, level_name = ("transition success p", "emission accuracy alpha") if family == "transition" \
        else ("emission accuracy alpha", "transition success p")
    return {"shared": ("shared", table.shared,
                       {"units": "probability", "long_name": f"shared parameter ({shared_name})"}),
            "level": ("level", table.levels, {"units": "probability",
                                              "long_name": f"task-specific parameter ({level_name})"})}


# --- bracketing counts -------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class BracketingParams(FamilyParams):
    max_tasks: int = param(16, "largest number of tasks N", ge=1, le=1000, unit="tasks")
    etas: tuple[float, ...] = param((1e-4, 0.01, 0.03, 0.1), "bracket widths eta (||.||_inf^p norm)", gt=0, le=2)
    core_tasks: int = param(2, "core models m of the core-task class (each task's model is one of m)", ge=1, le=8,
                            unit="models")

    def check(self) -> None:
        super().check()
        if list(self.etas) != sorted(set(self.etas)):
            raise ValueError(f"etas must be strictly increasing (got {self.etas!r})")
        if self.shared_points * len(self.task_levels) > 3000:
            raise ValueError(f"shared_points must keep the class at <= 3000 models for the pairwise distances "
                             f"(got {self.shared_points} x {len(self.task_levels)})")


def simulate_bracketing(params: BracketingParams, seed: int) -> xr.Dataset:
    """Exact separation of the class and eta-bracketing counts, joint class vs product of single-task classes."""
    p = params
    table = p.table()
    g_s, g_t = table.g_s, table.g_t
    D = 2.0 * tv_table(table)          # the policy-maximised L1 distance (twice the TV distance), exact
    grid = D.reshape(g_s, g_t, g_s, g_t)
    off_diag = D[~np.eye(D.shape[0], dtype=bool)]
    separation = float(off_diag.min())
    neighbor = np.array([[grid[s, t, s + 1, t] for t in range(g_t)] for s in range(g_s - 1)])
    groups = np.array([theory.shared_groups(table.leaf_p, g_s, g_t, eta, p.horizon) for eta in p.etas])
    exact = np.array([eta < separation for eta in p.etas])
    n = np.arange(1, p.max_tasks + 1)
    # exact regime: every bracket holds one model, N_eta = |class|; otherwise the greedy cover (an upper bound)
    shared_part = np.where(exact, np.log(g_s), np.log(groups))
    log_joint = shared_part[None, :] + n[:, None] * np.log(g_t)
    log_product = n[:, None] * (shared_part[None, :] + np.log(g_t))
    log_core = np.array([math.log(theory.core_task_tuples(g_s * g_t, int(k), p.core_tasks)) for k in n])
    ds = xr.Dataset(
        {
            "log_core": (("tasks",), log_core,
                         {"long_name": "log N_eta of the core-task class {(phi_c1, ..., phi_cN) : m core models "
                                       "phi in Theta} at eta below the separation (distinct tuples, exact count)"}),
            "log_joint": (("tasks", "eta"), log_joint,
                          {"long_name": "log N_eta of the joint class {(theta[s, t_1], ..., theta[s, t_N])}"}),
            "log_product": (("tasks", "eta"), log_product,
                            {"long_name": "log N_eta of the product of N single-task classes"}),
            "exact": (("eta",), exact, {"long_name": "eta below the class separation (count exact, else upper bound)"}),
            "shared_groups": (("eta",), groups, {"long_name": "greedy contiguous groups of shared values with "
                                                              "envelope width <= eta for every level", "units": "1"}),
            "separation": ((), separation, {"long_name": "min over distinct models of max_pi ||P - P'||_1^pi"}),
            "neighbor_distance": (("shared_pair", "level"), neighbor,
                                  {"long_name": "distance between theta[s, t] and theta[s + 1, t]"}),
        },
        coords={
            "tasks": ("tasks", n, {"units": "tasks", "long_name": "number of tasks N"}),
            "eta": ("eta", np.asarray(p.etas), {"units": "probability", "long_name": "bracket width eta"}),
            "shared_pair": ("shared_pair", (table.shared[:-1] + table.shared[1:]) / 2,
                            {"units": "probability", "long_name": "midpoint of adjacent shared values"}),
            **_class_coords(table, p.family),
        },
    )
    ds.attrs.update({"norm": "||g||_inf^p = max over deterministic history-dependent policies of sum_tau pi(tau) "
                             "|g(tau)| (exact DP on the history tree)",
                     "joint_norm": "a joint bracket's width is the max over tasks of its components' widths"})
    return stamp(ds, study=STUDY, params=params, seed=seed)


# --- upstream multi-task learning --------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class TaskParams(FamilyParams):
    shared_true: float = param(0.8, "true shared parameter (snapped to the grid)", gt=0.5, lt=1)
    switch_cost: float = param(0.2, "bonus c for not switching (reward (1{o = goal} + c 1{a = 0}) / (1 + c))",
                               ge=0, le=10, unit="return")
    delta: float = param(0.1, "confidence level delta of beta = log(|class| / delta)", gt=0, lt=1)
    beta_scale: float = param(1.0, "multiplier of the confidence radius beta (1 = the union-bound value)",
                              gt=0, le=100)
    epsilon: float = param(0.05, "target accuracy of the episodes-to-epsilon readout: per-task TV width "
                                 "(reward-free learners) or optimistic gap (optimistic learners); no effect on "
                                 "the runs", gt=0, le=1)

    def check(self) -> None:
        super().check()
        if not self.shared_low <= self.shared_true <= self.shared_high:
            raise ValueError(f"shared_true must lie in [shared_low, shared_high] (got {self.shared_true})")

    def shared_index(self, table: ClassTable) -> int:
        return int(np.argmin(np.abs(table.shared - self.shared_true)))


def task_layout(n_tasks: int, g_t: int, identical: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Task n has the task-specific level n mod g_t and the goal observation n mod 2 (identical: level 0, goal 0)."""
    n = np.arange(n_tasks)
    if identical:
        return np.zeros(n_tasks, np.int64), np.zeros(n_tasks, np.int64)
    return n % g_t, n % 2


@dataclasses.dataclass(frozen=True)
class UpstreamParams(TaskParams):
    tasks: int = param(4, "number of upstream tasks N", ge=1, le=12, unit="tasks")
    learner: str = param("umt-psr", "umt-psr (joint class, reward-free TV exploration), single-task (the same rule "
                                    "on each task's own class) or omle-optimistic (joint class, optimistic "
                                    "planning)", choices=tuple(LEARNERS))
    identical_tasks: bool = param(False, "N copies of one task; the joint class is then {(theta, ..., theta)}")
    iterations: int = param(600, "iterations K (H episodes per task each)", ge=1, le=100_000,
                            unit="iterations")

    def check(self) -> None:
        super().check()
        if self.learner != "single-task" and not self.identical_tasks and len(self.task_levels) ** self.tasks > 2e6:
            raise ValueError(f"tasks must keep the joint enumeration g_t^N <= 2e6 (got {len(self.task_levels)}^"
                             f"{self.tasks})")
        if self.identical_tasks and self.learner == "omle-optimistic":
            raise ValueError("learner must be umt-psr or single-task with identical_tasks (got omle-optimistic)")


def upstream_beta(p: TaskParams, table: ClassTable, n_tasks: int, structure: str) -> float:
    """beta = log(|class| / delta): joint class, each task's own class at overall level delta, or the diagonal
    class {(theta, ..., theta)} of identical tasks (the single-task class)."""
    if structure == "joint":
        return p.beta_scale * theory.beta_joint(table.g_s, table.g_t, n_tasks, p.delta)
    if structure == "single":
        return p.beta_scale * theory.beta_single(table.g_s, table.g_t, n_tasks, p.delta)
    return p.beta_scale * theory.beta_single(table.g_s, table.g_t, 1, p.delta)


def run_optimistic(table: ClassTable, tasks: Tasks, allowed: np.ndarray, joint: bool, beta: float,
                   iterations: int, seed: int):
    ti = tasks.true_index
    return kernels.run_omle(table.leaf_ll, allowed, table.g_s, table.g_t, table.psi0[ti], table.ops[ti], ti,
                            tasks.policies, tasks.vstar, tasks.vtrue, tasks.vopt, joint, beta, iterations, seed)


def run_reward_free(table: ClassTable, tasks: Tasks, allowed: np.ndarray, mode: int, beta: float, iterations: int,
                    seed: int):
    ti = tasks.true_index
    return kernels.run_umt(table.leaf_ll, table.leaf_p, tv_table(table), allowed, table.g_s, table.g_t,
                           table.psi0[ti], table.ops[ti], ti, tasks.err, tasks.vtrue, tasks.vopt, mode, beta,
                           iterations, seed)


def _iteration_coords(iterations: int, horizon: int) -> dict:
    k = np.arange(iterations + 1)
    return {"iteration": ("iteration", k, ITER_ATTRS),
            "episodes": ("iteration", k * horizon, {"units": "episodes per task", "long_name": "episodes per task"})}


def _nan(n: int) -> np.ndarray:
    return np.full(n, np.nan)


def _records(width, width_max, err_max, subopt_out, covered, n_shared, gap, subopt) -> dict:
    return {
        "width": (("iteration",), width,
                  {"long_name": "TV width per task: max over pairs in the confidence set and policies of the summed "
                                "TV distance, divided by N (nan for optimistic planning)", "units": "probability"}),
        "width_max": (("iteration",), width_max,
                      {"long_name": "largest task component of the widest pair's TV distances", "units": "probability"}),
        "value_error_max": (("iteration",), err_max,
                            {"long_name": "max over the confidence set of |V_theta(pi_theta) - V_true(pi_theta)|, "
                                          "summed over tasks and divided by N", "units": "return"}),
        "subopt_out": (("iteration",), subopt_out.mean(axis=1),
                       {"long_name": "suboptimality of the output policy (greedy for the MLE), mean over tasks",
                        "units": "return"}),
        "subopt_out_max": (("iteration",), subopt_out.max(axis=1),
                           {"long_name": "suboptimality of the output policy, max over tasks", "units": "return"}),
        "covered": (("iteration",), covered, {"long_name": "every true model in the confidence set"}),
        "plausible_shared": (("iteration",), n_shared,
                             {"long_name": "shared values in the confidence set's projection", "units": "grid points"}),
        "gap": (("iteration",), gap,
                {"long_name": "optimistic gap V_bar(pi) - V(pi), mean over tasks (optimistic planning only)",
                 "units": "return"}),
        "subopt": (("iteration",), subopt,
                   {"long_name": "suboptimality of the played optimistic policy, mean over tasks (optimistic "
                                 "planning only)", "units": "return"}),
    }


def simulate_upstream(params: UpstreamParams, seed: int) -> xr.Dataset:
    """N tasks learnt by UMT-PSR, its single-task counterpart, or the optimistic baseline."""
    p = params
    table = p.table()
    levels, goals = task_layout(p.tasks, table.g_t, p.identical_tasks)
    true_index = p.shared_index(table) * table.g_t + levels
    tasks = task_tables(table, true_index, goals, p.switch_cost)
    allowed = np.ones(table.psi0.shape[0], bool)
    structure = "single" if p.learner == "single-task" else ("identical" if p.identical_tasks else "joint")
    beta = upstream_beta(p, table, p.tasks, structure)
    n = p.iterations + 1
    if p.learner == "omle-optimistic":
        gap, subopt, subopt_mle, covered, n_shared, _, _ = run_optimistic(table, tasks, allowed, True, beta,
                                                                          p.iterations, seed)
        records = _records(_nan(n), _nan(n), _nan(n), subopt_mle, covered, n_shared, gap.mean(axis=1),
                           subopt.mean(axis=1))
    else:
        mode = {"single": kernels.MODE_SINGLE, "joint": kernels.MODE_JOINT,
                "identical": kernels.MODE_IDENTICAL}[structure]
        width, width_max, err_max, subopt_out, covered, n_shared, _, _ = run_reward_free(
            table, tasks, allowed, mode, beta, p.iterations, seed)
        records = _records(width, width_max, err_max, subopt_out, covered, n_shared, _nan(n), _nan(n))
    if structure == "joint":
        log_size = theory.log_joint_size(table.g_s, table.g_t, p.tasks)
    elif structure == "single":
        log_size = theory.log_product_size(table.g_s, table.g_t, p.tasks)
    else:
        log_size = math.log(table.g_s * table.g_t)
    ds = xr.Dataset(
        {
            **records,
            "beta": ((), beta, {"long_name": "confidence radius beta (log-likelihood units)"}),
            "beta_per_task": ((), beta / p.tasks if structure != "single" else beta,
                              {"long_name": "beta per task: beta / N for a class tying the tasks, beta_single for "
                                            "each task's own class"}),
            "log_class_size": ((), log_size, {"long_name": "log size of the class learned"}),
            "optimal_value": ((), float(tasks.vopt.mean()),
                              {"long_name": "mean optimal value V* (the scale of suboptimality)", "units": "return"}),
        },
        coords=_iteration_coords(p.iterations, p.horizon),
    )
    ds.attrs.update({"learner_rule": LEARNERS[p.learner] + (" (tasks identical: class {(theta, ..., theta)})"
                                                           if structure == "identical" else ""),
                     "exploration": "per iteration and task: H episodes, the exploration policy (widest TV pair, "
                                    "or optimistic) and the same with a uniform action at step h = 1..H-1 (the "
                                    "steps whose action enters the likelihood)",
                     "output_policy": "optimal policy of each task's maximum-likelihood model",
                     "true_shared_value": float(table.shared[p.shared_index(table)])})
    return stamp(ds, study=STUDY, params=params, seed=seed)


# --- downstream transfer -----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class DownstreamParams(TaskParams):
    upstream_tasks: int = param(8, "upstream tasks N", ge=1, le=12, unit="tasks")
    upstream_iterations: int = param(200, "upstream UMT-PSR iterations", ge=0, le=100_000, unit="iterations")
    iterations: int = param(600, "downstream iterations K (H episodes each)", ge=1, le=100_000,
                            unit="iterations")
    target_level: int = param(0, "index of the target's task-specific level in task_levels", ge=0, le=100)
    target_goal: int = param(1, "goal observation of the target's reward", ge=0, le=1)
    target_shift: int = param(0, "target shared parameter minus the upstream one, in grid steps (0: similar)",
                              ge=-10_000, le=10_000)

    def check(self) -> None:
        super().check()
        if self.target_level >= len(self.task_levels):
            raise ValueError(f"target_level must index task_levels (got {self.target_level} with "
                             f"{len(self.task_levels)} levels)")
        if len(self.task_levels) ** self.upstream_tasks > 2_000_000:
            raise ValueError(f"upstream_tasks must keep g_t^N <= 2e6 (got {len(self.task_levels)}^"
                             f"{self.upstream_tasks})")


def child_seeds(seed: int, n: int) -> list[int]:
    """Independent kernel seeds for the stages of one simulation."""
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(n)]


def simulate_downstream(params: DownstreamParams, seed: int) -> xr.Dataset:
    """Upstream UMT-PSR, then OMLE on a target over the similarity-restricted class vs over the full class."""
    p = params
    table = p.table()
    M = table.psi0.shape[0]
    up_seed, down_seed = child_seeds(seed, 2)
    levels, goals = task_layout(p.upstream_tasks, table.g_t)
    s_up = p.shared_index(table)
    up = task_tables(table, s_up * table.g_t + levels, goals, p.switch_cost)
    beta_up = upstream_beta(p, table, p.upstream_tasks, "joint")
    if p.upstream_iterations:
        *_, mask, _ = run_reward_free(table, up, np.ones(M, bool), kernels.MODE_JOINT, beta_up,
                                      p.upstream_iterations, up_seed)
        shared_set = mask[0]
    else:   # no upstream data: every shared value is plausible
        shared_set = np.ones(table.g_s, bool)
    s_target = int(np.clip(s_up + p.target_shift, 0, table.g_s - 1))
    target = task_tables(table, np.array([s_target * table.g_t + p.target_level]), np.array([p.target_goal]),
                         p.switch_cost)
    restricted = np.repeat(shared_set, table.g_t)   # the similarity constraint: shared value plausible upstream
    runs, betas, sizes = {}, {}, {}
    for name, allowed in (("transfer", restricted), ("scratch", np.ones(M, bool))):
        sizes[name] = math.log(int(allowed.sum()))
        betas[name] = p.beta_scale * (sizes[name] + math.log(1 / p.delta))
        runs[name] = run_optimistic(table, target, allowed, False, betas[name], p.iterations, down_seed)
    names = list(runs)
    curves = xr.concat([xr.Dataset(_downstream_curves(*runs[n][:5])) for n in names], dim="learner")
    ds = curves.assign(
        {
            "beta": (("learner",), [betas[n] for n in names], {"long_name": "confidence radius beta"}),
            "log_class_size": (("learner",), [sizes[n] for n in names],
                               {"long_name": "log size of the target class (transfer: log of g_t times the "
                                             "shared values plausible after upstream learning)"}),
            "target_in_class": ((), bool(restricted[target.true_index[0]]),
                                {"long_name": "target's true model satisfies the similarity constraint"}),
            "optimal_value": ((), float(target.vopt[0]),
                              {"long_name": "target optimal value V* (the scale of gap and suboptimality)",
                               "units": "return"}),
        }
    ).assign_coords(
        {**_iteration_coords(p.iterations, p.horizon),
         "learner": ("learner", names, {"units": "1", "long_name": "downstream learner"})})
    ds.attrs.update({"similarity_constraint": "target shared parameter in the projection of the final upstream "
                                              "UMT-PSR confidence set; task-specific parameter free",
                     "downstream_learner": "optimistic MLE over the target class",
                     "true_shared_value": float(table.shared[s_up]),
                     "target_shared_value": float(table.shared[s_target])})
    return stamp(ds, study=STUDY, params=params, seed=seed)


def _downstream_curves(gap, subopt, subopt_mle, covered, n_shared) -> dict:
    return {
        "gap": (("iteration",), gap.mean(axis=1),
                {"long_name": "optimistic gap V_bar(pi) - V(pi)", "units": "return"}),
        "subopt": (("iteration",), subopt.mean(axis=1),
                   {"long_name": "suboptimality V* - V(pi) of the optimistic policy", "units": "return"}),
        "subopt_mle": (("iteration",), subopt_mle.mean(axis=1),
                       {"long_name": "suboptimality of the MLE's optimal policy", "units": "return"}),
        "covered": (("iteration",), covered, {"long_name": "true model in the confidence set"}),
        "plausible_shared": (("iteration",), n_shared,
                             {"long_name": "shared values in the confidence set's projection", "units": "grid points"}),
    }


# --- exact references on tiny POMDPs -----------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ExactParams(Params):
    instances: int = param(50, "random tiny POMDPs", ge=1, le=10_000)
    observations: int = param(2, "observations of the tiny POMDPs (= latent states, so E is invertible)",
                              ge=2, le=2)
    horizon: int = param(2, "horizon of the policy enumeration (2: 2^10 deterministic policies)", ge=2, le=2)
    likelihood_horizon: int = param(4, "horizon of the likelihood check against latent-path enumeration",
                                    ge=1, le=6)


def random_pomdp(rng: np.random.Generator, n_obs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    T = rng.dirichlet(np.ones(S), size=(A, S)).transpose(0, 2, 1)   # T[a][:, s] is a distribution
    E = rng.dirichlet(np.ones(n_obs), size=S).T
    return T, E, rng.dirichlet(np.ones(S))


def simulate_exact(params: ExactParams, seed: int) -> xr.Dataset:
    """Kernels against exhaustive enumeration on random tiny POMDPs (PSR form vs POMDP form)."""
    p = params
    rng = np.random.default_rng(seed)
    err_value, err_ll, err_l1, n_policies = (np.empty(p.instances) for _ in range(4))
    for i in range(p.instances):
        T, E, mu = random_pomdp(rng, p.observations)
        R = rng.random((p.observations, A))
        psi0, ops = to_psr(T, E, mu)
        value, _ = kernels.plan(psi0, ops, R, p.horizon)
        brute, n_pol = theory.optimal_value_bruteforce(T, E, mu, R, p.horizon)
        err_value[i], n_policies[i] = abs(value - brute), n_pol
        obs, act = kernels.leaf_trajectories(p.likelihood_horizon, A, p.observations)
        ll = kernels.loglik_table(psi0[None], ops[None], obs, act)[0]
        err_ll[i] = np.abs(np.exp(ll) - theory.trajectory_probs_paths(T, E, mu, obs, act)).max()
        T2, E2, mu2 = random_pomdp(rng, p.observations)
        P1 = kernels.leaf_probs(psi0, ops, p.horizon + 1)
        P2 = kernels.leaf_probs(*to_psr(T2, E2, mu2), p.horizon + 1)
        dp = kernels.policy_l1(np.abs(P1 - P2), p.horizon + 1, A, p.observations)
        err_l1[i] = abs(dp - theory.policy_l1_bruteforce(np.abs(P1 - P2), p.horizon + 1, A, p.observations))
    ds = xr.Dataset(
        {"value_error": (("instance",), err_value,
                         {"long_name": "|DP optimal value - max over all deterministic policies|", "units": "return"}),
         "likelihood_error": (("instance",), err_ll,
                              {"long_name": "max over trajectories |P_psr - sum over latent paths|",
                               "units": "probability"}),
         "l1_error": (("instance",), err_l1,
                      {"long_name": "|DP policy-maximised L1 - max over all deterministic policies|",
                       "units": "probability"}),
         "policies": (("instance",), n_policies, {"long_name": "deterministic policies enumerated", "units": "1"})},
        coords={"instance": ("instance", np.arange(p.instances), {"units": "1", "long_name": "random POMDP"})},
    )
    return stamp(ds, study=STUDY, params=params, seed=seed)
