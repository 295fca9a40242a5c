"""Deep matrix completion with a deficit: parameters and simulators.

Kleinman, Achille & Soatto (2024), following Arora et al. (2019): a deep linear network
(``D`` bias-free ``N x N`` layers) is trained by full-batch GD to complete a low-rank matrix
from ``m`` observed entries.  A *deficit* is either pre-training on an unrelated task or
training on a subset of the observations.

Public API: :class:`CompletionParams` + :func:`simulate_completion` (the sweeps of the
matrix-completion figures) and :class:`CompletionFlowParams` + :func:`simulate_completion_flow`
(GD against the Arora end-to-end gradient flow).

Data.  A rank-R target is ``M = L L'^T / sqrt(R)`` with ``L, L'`` i.i.d. standard normal
``N x R``, rescaled to ``||M||_F = N`` (mean squared entry 1).  The observed set is the first
``m`` entries of one uniform random permutation of the ``N^2`` positions, so sets for
different ``m`` (and the subset used during a deficit) are nested.  Every random object has
its own stream derived from the seed, so changing the depth, a rank or ``m`` leaves the other
objects unchanged.

Modes.  ``n_obs_deficit = 0`` (task switch): task 1 fits ``M1`` (rank ``rank1``) and task 2
fits an independent ``M2`` (rank ``rank2``) on the same observed set.  ``n_obs_deficit > 0``
(subset -> full): one target (rank ``rank2 = rank1``); task 1 observes the first
``n_obs_deficit`` entries, task 2 all ``n_obs``.  Test loss: mean over all ``N^2`` entries
of ``(M_target - W)^2``; :mod:`theorylab.matcomp.kernels` states the step indexing.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import xarray as xr

from theorylab.core.params import Params, param
from theorylab.core.provenance import stamp
from theorylab.core.sweep import single_threaded
from theorylab.matcomp import kernels, theory


STUDY = "matcomp"
MAX_LOG_POINTS = 20_000
SIGNIFICANT_SV = 0.01  # a singular value counts as significant above 1% of the target's largest


# --- data ---------------------------------------------------------------------------------------

def streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent generators for the task-1 target, task-2 target, observations and init."""
    children = np.random.SeedSequence(seed).spawn(4)
    return {name: np.random.default_rng(c)
            for name, c in zip(("target1", "target2", "observations", "init"), children)}


def low_rank_target(rng: np.random.Generator, N: int, rank: int) -> np.ndarray:
    """``M = L L'^T / sqrt(R)`` with Gaussian ``N x R`` factors, rescaled to ``||M||_F = N``."""
    L = rng.standard_normal((N, rank))
    Lp = rng.standard_normal((N, rank))
    M = L @ Lp.T / np.sqrt(rank)
    return M * (N / np.linalg.norm(M))


def sample_observations(rng: np.random.Generator, N: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, cols)`` of ``m`` distinct entries: a prefix of a uniform permutation of ``N^2``.

    Prefixes are nested: the first ``m' < m`` entries are the sample for ``m'``.
    """
    flat = rng.permutation(N * N)[:m]
    return flat // N, flat % N


def observation_mask(rows: np.ndarray, cols: np.ndarray, N: int) -> np.ndarray:
    mask = np.zeros((N, N))
    mask[rows, cols] = 1.0
    return mask


def gaussian_init(rng: np.random.Generator, N: int, depth: int, init_scale: float) -> np.ndarray:
    """Layers with i.i.d. ``N(0, (init_scale^(1/D) / sqrt(N))^2)`` entries: ``||W(0)||_F ~ init_scale sqrt(N)``."""
    return rng.standard_normal((depth, N, N)) * (init_scale ** (1.0 / depth) / np.sqrt(N))


def identity_init(rng: np.random.Generator, N: int, depth: int, init_scale: float,
                  jitter: float) -> np.ndarray:
    """Every layer ``init_scale^(1/D) I + jitter * diag(xi)`` with one common ``xi ~ N(0, I)``.

    All layers are the same diagonal matrix, so they are exactly balanced; the jitter
    only separates the otherwise equal singular values.
    """
    diag = init_scale ** (1.0 / depth) + jitter * rng.standard_normal(N)
    return np.broadcast_to(np.diag(diag), (depth, N, N)).copy()


# --- task-switch / subset simulator -------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class CompletionParams(Params):
    """Deep matrix completion with a deficit (task switch or subset of observations)."""

    N: int = param(100, "matrix size N (rows = columns = hidden width)", ge=2, le=1000)
    depth: int = param(3, "number of N x N linear layers D", ge=1, le=5)
    rank1: int = param(10, "rank of the task-1 target M1 (must equal rank2 in subset mode)", ge=1, le=1000)
    rank2: int = param(5, "rank of the final target M2", ge=1, le=1000)
    n_obs: int = param(2000, "observed entries m of the final task", ge=1, le=1_000_000)
    n_obs_deficit: int = param(0, "0: task switch M1 -> M2; > 0: first m_def observed entries during the deficit", ge=0,
                               le=999_999)
    lr: float = param(0.2, "GD learning rate (one epoch = one full-batch step)", gt=0.0, le=10.0)
    init_scale: float = param(1e-3, "init scale: layer entries ~ N(0, init_scale^(2/D)/N), ||W(0)||_F ~ init_scale sqrt(N)", gt=0.0, le=10.0)
    t_switch: tuple[int, ...] = param((0, 1000, 5000, 10000, 20000, 40000, 60000, 80000, 100000),
                                      "deficit lengths T_sw (strictly increasing)", ge=0, le=1_000_000,
                                      unit="steps")
    n_continue: int = param(30000, "epochs after the switch (test loss at epoch T_sw + n_continue - 1)", ge=2,
                             le=1_000_000, unit="steps")
    log_every: int = param(0, "log singular values and test loss every this many epochs (0: off)", ge=0,
                            le=1_000_000, unit="steps")
    n_sv: int = param(10, "number of top singular values logged", ge=1, le=1000)
    dtype: str = param("float32", "floating-point type of the GD run", choices=("float32", "float64"))
    nuclear_baseline: bool = param(False, "also solve min ||X||_* s.t. X = M on the final observed set (SCS)")

    def check(self) -> None:
        N = self.N
        for name in ("rank1", "rank2", "n_sv"):
            if getattr(self, name) > N:
                raise ValueError(f"{name} must be <= N = {N} (got {getattr(self, name)})")
        if self.n_obs > N * N:
            raise ValueError(f"n_obs must be <= N^2 = {N * N} (got {self.n_obs})")
        if self.n_obs_deficit >= self.n_obs:
            raise ValueError(f"n_obs_deficit must be < n_obs = {self.n_obs} (got {self.n_obs_deficit})")
        if self.n_obs_deficit > 0 and self.rank1 != self.rank2:
            raise ValueError(f"rank1 must equal rank2 = {self.rank2} in subset mode "
                             f"(n_obs_deficit > 0 uses one target) (got {self.rank1})")
        if any(b <= a for a, b in zip(self.t_switch, self.t_switch[1:])):
            raise ValueError(f"t_switch must be strictly increasing (got {self.t_switch})")
        bound = stable_lr_bound(N, self.depth, self.n_obs_deficit or self.n_obs)
        if self.lr >= bound:
            raise ValueError(f"lr must be < {bound:.3g}, the GD stability estimate "
                             f"2 m / (D N^(2-2/D)) for these N, depth, m (got {self.lr})")
        if self.log_every > 0:
            n_log = (max(self.t_switch) + self.n_continue - 1) // self.log_every + 1
            if n_log > MAX_LOG_POINTS:
                raise ValueError(f"log_every must be >= {(max(self.t_switch) + self.n_continue) // MAX_LOG_POINTS + 1} "
                                 f"(at most {MAX_LOG_POINTS} log points) (got {self.log_every})")


def stable_lr_bound(N: int, depth: int, m: int) -> float:
    """A conservative GD stability limit ``2 m / (D sigma_max^(2 - 2/D))`` with ``sigma_max = ||M||_F = N``.

    The loss is ``1/(2m) ||P_Omega(W - M)||^2``; near a balanced solution the layer Hessian's
    largest eigenvalue is about ``D sigma_1^(2-2/D) / m`` (Arora et al. 2018), and
    ``sigma_1 <= ||M||_F = N``.
    """
    return 2.0 * m / (depth * float(N) ** (2.0 - 2.0 / depth))


@dataclasses.dataclass(frozen=True)
class _Problem:
    M1: np.ndarray
    M2: np.ndarray
    mask1: np.ndarray
    mask2: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    W0: np.ndarray


def make_problem(p: CompletionParams, seed: int) -> _Problem:
    """Targets, nested observation sets and the initial layers for one seed (float64)."""
    rng = streams(seed)
    M2 = low_rank_target(rng["target2"], p.N, p.rank2)
    rows, cols = sample_observations(rng["observations"], p.N, p.n_obs)
    mask2 = observation_mask(rows, cols, p.N)
    if p.n_obs_deficit > 0:
        M1 = M2
        mask1 = observation_mask(rows[:p.n_obs_deficit], cols[:p.n_obs_deficit], p.N)
    else:
        M1 = low_rank_target(rng["target1"], p.N, p.rank1)
        mask1 = mask2
    W0 = gaussian_init(rng["init"], p.N, p.depth, p.init_scale)
    return _Problem(M1, M2, mask1, mask2, rows, cols, W0)


def run_gd(W0: np.ndarray, M1: np.ndarray, mask1: np.ndarray, M2: np.ndarray, mask2: np.ndarray,
           lr: float, t_switch, n_continue: int, log_every: int, n_sv: int, dtype: str):
    """Call the branching kernel with the task encoding it expects (see :mod:`theorylab.matcomp.kernels`).

    Each task goes in as its observed entries in row-major order, ``M_Omega / m`` and ``1 / m``.
    """
    dt = np.dtype(dtype).type

    def task(M, mask):
        rows, cols = np.nonzero(mask)   # row-major: consecutive entries share rows of W_{D-1}
        m = rows.size
        return (rows.astype(np.int64), cols.astype(np.int64), (M[rows, cols] / m).astype(dt), dt(1.0 / m))

    args = (np.ascontiguousarray(W0, dtype=dt), *task(M1, mask1), *task(M2, mask2),
            M1.astype(dt), M2.astype(dt), dt(lr),
            np.asarray(t_switch, dtype=np.int64), int(n_continue), int(log_every), int(n_sv))
    with single_threaded():
        return kernels.gd_branches(*args)


def run_gd_dense(W0: np.ndarray, M1: np.ndarray, mask1: np.ndarray, M2: np.ndarray, mask2: np.ndarray,
                 lr: float, t_switch, n_continue: int, log_every: int, n_sv: int, dtype: str):
    """:func:`run_gd` through the dense baseline kernel (tests and benchmarks)."""
    dt = np.dtype(dtype).type
    m1, m2 = float(mask1.sum()), float(mask2.sum())
    args = (np.ascontiguousarray(W0, dtype=dt),
            (mask1 / m1).astype(dt), (mask1 * M1 / m1).astype(dt),
            (mask2 / m2).astype(dt), (mask2 * M2 / m2).astype(dt),
            M1.astype(dt), M2.astype(dt), dt(lr),
            np.asarray(t_switch, dtype=np.int64), int(n_continue), int(log_every), int(n_sv))
    with single_threaded():
        return kernels.gd_branches_dense(*args)


def _coords_step(n_log: int, log_every: int) -> dict:
    return {"step": ("step", np.arange(n_log, dtype=np.int64) * log_every,
                     {"long_name": "epoch (GD steps)", "units": "steps"})}


def simulate_completion(params: CompletionParams, seed: int) -> xr.Dataset:
    """GD on a deep factorisation: task 1 for ``T_sw + 1`` epochs, then task 2; test loss per ``T_sw``.

    Dims: ``t_switch``, ``sv`` and, when ``log_every > 0``, ``step``.  Deterministic in ``seed``.
    """
    p = params
    prob = make_problem(p, seed)
    test_loss, task1_loss, W_final, sigma, test_traj = run_gd(
        prob.W0, prob.M1, prob.mask1, prob.M2, prob.mask2, p.lr, p.t_switch, p.n_continue,
        p.log_every, p.n_sv, p.dtype)

    final_sv = np.linalg.svd(W_final.astype(np.float64), compute_uv=False)  # (n_br, N)
    target_sv = np.linalg.svd(prob.M2, compute_uv=False)
    n_significant = np.sum(final_sv > SIGNIFICANT_SV * target_sv[0], axis=1)
    if p.depth == 1:
        closed = theory.depth1_test_loss(prob.W0[0], prob.M1, prob.mask1, prob.M2, prob.mask2,
                                            p.lr, p.t_switch, p.n_continue)
    else:
        closed = np.full(len(p.t_switch), np.nan)
    nuclear, nuclear_status = np.nan, "off"
    if p.nuclear_baseline:
        try:
            X, info = theory.nuclear_norm_completion(prob.M2[prob.rows, prob.cols], prob.rows,
                                                        prob.cols, p.N)
            nuclear, nuclear_status = float(np.mean((prob.M2 - X) ** 2)), info["status"]
        except RuntimeError as err:  # a failed convex solve is reported (NaN), not fatal
            nuclear_status = str(err)

    ts_attrs = {"long_name": "pre-training steps T_sw", "units": "steps"}
    coords = {"t_switch": ("t_switch", np.asarray(p.t_switch, dtype=np.int64), ts_attrs),
              "sv": ("sv", np.arange(1, p.n_sv + 1), {"long_name": "singular value index (1 = largest)",
                                                      "units": "1"})}
    data = {
        "test_loss": ("t_switch", test_loss, {
            "long_name": "test MSE on the final target (all N^2 entries)", "units": "1"}),
        "task1_loss": ("t_switch", task1_loss, {
            "long_name": "test MSE on the task-1 target at the switch", "units": "1"}),
        "final_sigma": (("t_switch", "sv"), final_sv[:, :p.n_sv], {
            "long_name": "top singular values of the final end-to-end matrix", "units": "1"}),
        "n_significant_sv": ("t_switch", n_significant.astype(np.int64), {
            "long_name": f"singular values of the final W above {SIGNIFICANT_SV:g} x target's largest",
            "units": "1"}),
        "diverged": ("t_switch", np.isnan(test_loss).astype(np.int8), {
            "long_name": "1 if GD produced non-finite weights", "units": "1"}),
        "closed_form_loss": ("t_switch", closed, {
            "long_name": "depth-1 closed-form test MSE (NaN for depth > 1)", "units": "1"}),
        "unobserved_energy": ((), theory.unobserved_energy(prob.M2, prob.mask2), {
            "long_name": "mean over all entries of M^2 on unobserved entries (depth-1, zero-init limit)",
            "units": "1"}),
        "nuclear_loss": ((), nuclear, {
            "long_name": "test MSE of nuclear-norm completion on the final observed set (NaN if off)",
            "units": "1", "solver_status": nuclear_status}),
        "target_sigma": ("sv", target_sv[:p.n_sv], {
            "long_name": "singular values of the final target", "units": "1"}),
        "obs_rms": ((), float(np.sqrt(np.mean(prob.M2[prob.rows, prob.cols] ** 2))), {
            "long_name": "RMS of the observed final-target entries", "units": "1"}),
    }
    if p.log_every > 0:
        coords.update(_coords_step(sigma.shape[1], p.log_every))
        data["sigma"] = (("t_switch", "step", "sv"), sigma, {
            "long_name": "top singular values of W during training", "units": "1"})
        data["test_traj"] = (("t_switch", "step"), test_traj, {
            "long_name": "test MSE on the final target during training", "units": "1"})
    ds = xr.Dataset(data, coords=coords)
    return stamp(ds, study=STUDY, params=p, seed=seed)


# --- GD vs the end-to-end gradient flow ---------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class CompletionFlowParams(Params):
    """GD from an exactly balanced identity init against the Arora end-to-end flow.

    Durations are in flow time ``t = lr x epoch`` so that a sweep over ``lr`` compares GD
    runs of different step sizes on one time grid; each must be a whole number of steps.
    """

    N: int = param(20, "matrix size N (an adaptive flow solve needs N <= 60; Euler steps reach 100)", ge=2, le=100)
    depth: int = param(3, "number of N x N linear layers D", ge=1, le=5)
    rank1: int = param(4, "rank of the task-1 target", ge=1, le=100)
    rank2: int = param(2, "rank of the task-2 target", ge=1, le=100)
    n_obs: int = param(200, "observed entries m (same set for both tasks)", ge=1, le=10_000)
    lr: float = param(0.05, "GD learning rate; the flow time is t = lr x epoch", gt=0.0, le=10.0)
    init_scale: float = param(1e-2, "every layer starts at init_scale^(1/D) I (+ jitter)", gt=0.0, le=10.0)
    jitter: float = param(1e-6, "common diagonal jitter on every layer (<= 1e-5)", ge=0.0, le=1e-5)
    switch_time: tuple[float, ...] = param((0.0, 200.0), "deficit lengths lr x T_sw (strictly increasing)",
                                           ge=0.0, le=1e4, unit="time")
    continue_time: float = param(200.0, "duration lr x n_continue after the switch", gt=0.0, le=1e4,
                                  unit="time")
    log_time: float = param(2.0, "compare every log_time (a whole number of steps)", gt=0.0, le=1e4,
                             unit="time")
    n_sv: int = param(4, "number of top singular values compared", ge=1, le=100)
    ode_rtol: float = param(1e-8, "relative tolerance of solve_ivp (DOP853)", gt=0.0, le=1e-4)
    flow_solver: str = param("ivp", "end-to-end flow by solve_ivp (DOP853), or by Euler steps of size lr (euler)",
                             choices=("ivp", "euler"))

    def steps(self, duration: float) -> int:
        """``duration / lr`` as a whole number of epochs."""
        return int(round(duration / self.lr))

    def check(self) -> None:
        for name in ("rank1", "rank2", "n_sv"):
            if getattr(self, name) > self.N:
                raise ValueError(f"{name} must be <= N = {self.N} (got {getattr(self, name)})")
        if self.n_obs > self.N * self.N:
            raise ValueError(f"n_obs must be <= N^2 = {self.N * self.N} (got {self.n_obs})")
        if any(b <= a for a, b in zip(self.switch_time, self.switch_time[1:])):
            raise ValueError(f"switch_time must be strictly increasing (got {self.switch_time})")
        for name in ("switch_time", "continue_time", "log_time"):
            for value in np.atleast_1d(getattr(self, name)):
                if abs(value / self.lr - round(value / self.lr)) > 1e-6:
                    raise ValueError(f"{name} must be a whole number of steps of lr = {self.lr} "
                                     f"(got {getattr(self, name)})")
        if self.steps(self.continue_time) < 2:
            raise ValueError(f"continue_time must be >= 2 lr = {2 * self.lr} (got {self.continue_time})")
        if self.steps(self.log_time) < 1:
            raise ValueError(f"log_time must be >= lr = {self.lr} (got {self.log_time})")
        bound = stable_lr_bound(self.N, self.depth, self.n_obs)
        if self.lr >= bound:
            raise ValueError(f"lr must be < {bound:.3g}, the GD stability estimate (got {self.lr})")
        if self.flow_solver == "ivp" and self.N > 60:
            raise ValueError(f"N must be <= 60 with flow_solver = 'ivp' (an adaptive solve of N^2 = {self.N ** 2} "
                             f"coupled equations); use flow_solver = 'euler' (got {self.N})")
        n_log = int((max(self.switch_time) + self.continue_time) / self.log_time) + 1
        if n_log > MAX_LOG_POINTS:
            raise ValueError(f"log_time must be larger: {n_log} log points > {MAX_LOG_POINTS} "
                             f"(got {self.log_time})")


def simulate_completion_flow(params: CompletionFlowParams, seed: int) -> xr.Dataset:
    """Top singular values of GD (float64) and of the end-to-end flow on the same time grid.

    Dims: ``t_switch`` (in flow time), ``time``, ``sv``.  GD epoch ``e`` sits at ``t = lr e``;
    the flow uses task 1 on ``[0, lr (T_sw + 1)]`` (GD's ``T_sw + 1`` task-1 updates) and
    task 2 after, up to the last measured epoch ``T_sw + n_continue - 1``.
    """
    p = params
    rng = streams(seed)
    M1 = low_rank_target(rng["target1"], p.N, p.rank1)
    M2 = low_rank_target(rng["target2"], p.N, p.rank2)
    rows, cols = sample_observations(rng["observations"], p.N, p.n_obs)
    mask = observation_mask(rows, cols, p.N)
    W0 = identity_init(rng["init"], p.N, p.depth, p.init_scale, p.jitter)
    t_switch = [p.steps(t) for t in p.switch_time]
    n_continue, log_every = p.steps(p.continue_time), p.steps(p.log_time)
    _, _, _, sigma_gd, traj_gd = run_gd(W0, M1, mask, M2, mask, p.lr, t_switch, n_continue,
                                        log_every, p.n_sv, "float64")
    steps = np.arange(sigma_gd.shape[1], dtype=np.int64) * log_every
    sigma_ode = np.full_like(sigma_gd, np.nan)
    traj_ode = np.full_like(traj_gd, np.nan)
    W_start = W0[0]
    for layer in W0[1:]:
        W_start = layer @ W_start  # W = W_D ... W_1
    if p.flow_solver == "euler":
        with single_threaded():
            sigma_ode, traj_ode = theory.end_to_end_euler_branches(
                W_start, M1, mask, M2, mask, p.depth, p.lr, t_switch, n_continue, log_every, p.n_sv)
    for b, ts in enumerate(t_switch if p.flow_solver == "ivp" else []):
        last = ts + n_continue - 1
        keep = steps <= last
        phases = [(M1, mask, p.lr * (ts + 1))]
        if last > ts + 1:
            phases.append((M2, mask, p.lr * last))
        Ws = theory.end_to_end_flow(W_start, phases, p.depth, p.lr * steps[keep],
                                       rtol=p.ode_rtol, atol=p.ode_rtol * 1e-3)
        sigma_ode[b, keep] = np.linalg.svd(Ws, compute_uv=False)[:, :p.n_sv]
        traj_ode[b, keep] = np.mean((M2 - Ws) ** 2, axis=(1, 2))
    coords = {
        "t_switch": ("t_switch", np.asarray(p.switch_time, dtype=np.float64),
                     {"long_name": "pre-training duration lr x T_sw", "units": "time (lr x steps)"}),
        "time": ("time", np.round(p.lr * steps, 12),
                 {"long_name": "flow time t = lr x epoch", "units": "time (lr x steps)"}),
        "sv": ("sv", np.arange(1, p.n_sv + 1), {"long_name": "singular value index (1 = largest)",
                                                "units": "1"}),
    }
    ds = xr.Dataset({
        "sigma_gd": (("t_switch", "time", "sv"), sigma_gd, {
            "long_name": "top singular values of W, gradient descent", "units": "1"}),
        "sigma_ode": (("t_switch", "time", "sv"), sigma_ode, {
            "long_name": f"top singular values of W, end-to-end gradient flow ({p.flow_solver})", "units": "1"}),
        "test_traj_gd": (("t_switch", "time"), traj_gd, {
            "long_name": "test MSE on the task-2 target, gradient descent", "units": "1"}),
        "test_traj_ode": (("t_switch", "time"), traj_ode, {
            "long_name": f"test MSE on the task-2 target, gradient flow ({p.flow_solver})", "units": "1"}),
        "target1_sigma": ("sv", np.linalg.svd(M1, compute_uv=False)[:p.n_sv], {
            "long_name": "singular values of the task-1 target", "units": "1"}),
        "target2_sigma": ("sv", np.linalg.svd(M2, compute_uv=False)[:p.n_sv], {
            "long_name": "singular values of the task-2 target", "units": "1"}),
    }, coords=coords)
    return stamp(ds, study=STUDY, params=p, seed=seed)
