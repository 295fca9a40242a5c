"""Critical learning periods in deep linear networks: parameters and simulators.

Model A (competition between two pathways; Kleinman, Achille & Soatto 2024,
after Shi et al. 2022): two deep linear pathways a, b read the same one-hot item
and add their outputs to predict 15 hierarchical features of 8 items.  A
*deficit* freezes pathway b for a window of time.  All times are gradient-flow
time ``t = lr * updates``; ``lr`` is the Euler step.

* :func:`simulate_pathways`: full-matrix GD of the network (Figs. 2, 3), with the
  exact per-mode map on the same initialisation alongside.
* :func:`simulate_phase`: the per-mode scalar model over many initial conditions
  (phase portraits, Figs. 1 and 7).
* :func:`simulate_split`: one mode, deficit windows in units of the learning time
  (how the final split depends on depth and on deficit onset).

Model B (deep matrix completion, :func:`simulate_completion` and
:func:`simulate_completion_flow`) follows below.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import xarray as xr

from theorylab.core.params import Params, param
from theorylab.core.provenance import stamp
from theorylab.core.sweep import single_threaded
from theorylab.deeplinear import kernels, theory

STUDY = "deeplinear"
PATHWAYS = ["a", "b"]
PATHWAY_ATTRS = {"units": "1", "long_name": "pathway"}
INIT_POOL = 100  # draws of the initial singular values, as in the width-100 reference network
TIME_ATTRS = {"units": "gradient-flow time (lr x updates)", "long_name": "time"}


def _steps(name: str, value: float, lr: float) -> int:
    """``value / lr`` as a whole number of updates, or a ValueError naming the parameter."""
    steps = value / lr
    if abs(steps - round(steps)) > 1e-6 * max(1.0, steps):
        raise ValueError(f"{name} must be a whole multiple of lr = {lr:g} (got {value:g})")
    return int(round(steps))


def _gate(n_steps: int, onset: int, length: int) -> np.ndarray:
    gate = np.zeros(n_steps, dtype=np.bool_)
    gate[onset:min(onset + length, n_steps)] = True
    return gate


def _check_stable(lr: float, depth: int, s_max: float) -> None:
    margin = theory.stability_margin(lr, depth, s_max)
    if margin >= 2.0:
        raise ValueError(f"lr must be < {2.0 * lr / margin:.4g} for depth {depth} and target {s_max:.4g} "
                         f"(got {lr:g}): lr * lambda_max = {margin:.3g} >= 2 is beyond GD's edge of stability")


# --- full network ---------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class PathwayParams(Params):
    depth: int = param(4, "weight matrices per pathway (D = 2 is one hidden layer)", ge=1, le=20)
    width: int = param(100, "hidden width H (>= 15 outputs; results do not depend on it)", ge=15, le=1000)
    lr: float = param(0.01, "learning rate = Euler step of gradient-flow time", gt=0, le=0.1)
    t_final: float = param(10.0, "training time (lr x updates)", gt=0, le=1e4, unit="time")
    record_dt: float = param(0.01, "time between recorded states", gt=0, unit="time")
    init_scale: float = param(0.01, "end-to-end initial singular value epsilon", gt=0, lt=1)
    init_noise: float = param(0.1, "relative jitter of the initial singular values", ge=0, lt=1)
    deficit_onset: float = param(0.0, "time at which pathway b is frozen", ge=0, unit="time")
    deficit_length: float = param(1.5, "duration of the deficit (0 = none)", ge=0, unit="time")
    gate: str = param("detach", "deficit semantics: b frozen but still predicts (detach) or also silent (remove)",
                      choices=("detach", "remove"))
    lesion_mode: int = param(-1, "mode of Sigma_yx pathway a cannot represent (-1 = none)", ge=-1, le=7)

    def check(self) -> None:
        n_steps = _steps("t_final", self.t_final, self.lr)
        every = _steps("record_dt", self.record_dt, self.lr)
        if n_steps % every:
            raise ValueError(f"t_final must be a whole multiple of record_dt = {self.record_dt:g} "
                             f"(got {self.t_final:g})")
        _steps("deficit_onset", self.deficit_onset, self.lr)
        _steps("deficit_length", self.deficit_length, self.lr)
        _check_stable(self.lr, self.depth, float(theory.target_strengths().max()))


def aligned_init(depth: int, width: int, init_scale: float, init_noise: float,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Aligned, balanced layers padded to (D, H, H), and the initial per-mode strengths d[:8].

    d_i = eps (1 + noise xi_i), the largest 8 of ``INIT_POOL`` draws in descending
    order for the modes and eps for the other hidden directions (which never reach
    the output); one random orthogonal R for all layers; W_1 = R diag(d^(1/D)) V^T,
    middle layers R diag(d^(1/D)) R^T, W_D = U diag(d^(1/D)) R^T; so the end-to-end
    map is U diag(d) V^T.  Drawing d from a fixed pool makes K independent of H.
    """
    _, U, _, V = theory.hierarchical_data()
    n_out, n_in = U.shape[0], V.shape[0]
    pool = np.sort(init_scale * (1.0 + init_noise * rng.standard_normal(INIT_POOL)))[::-1]
    if pool[n_in - 1] <= 0:
        raise ValueError("init_noise is too large: an initial singular value is not positive")
    d = np.full(width, init_scale)
    d[:n_in] = pool[:n_in]
    q, r = np.linalg.qr(rng.standard_normal((width, width)))
    R = q * np.sign(np.diag(r))
    root = d ** (1.0 / depth)
    W = np.zeros((depth, width, width))
    if depth == 1:
        W[0, :n_out, :n_in] = U[:, :n_in] * d[:n_in] @ V.T
        return W, d[:n_in]
    W[0, :, :n_in] = (R[:, :n_in] * root[:n_in]) @ V.T
    for l in range(1, depth - 1):
        W[l] = (R * root) @ R.T
    W[depth - 1, :n_out, :] = (U[:, :n_in] * root[:n_in]) @ R[:, :n_in].T
    return W, d[:n_in]


def _padded(a: np.ndarray, width: int) -> np.ndarray:
    out = np.zeros((width, width))
    out[:a.shape[0], :a.shape[1]] = a
    return out


def simulate_pathways(params: PathwayParams, seed: int) -> xr.Dataset:
    """GD of the two-pathway network and, on the same initialisation, the per-mode map."""
    p = params
    Y, U, _, V = theory.hierarchical_data()
    s = theory.target_strengths()
    n_modes = V.shape[0]
    rng = np.random.default_rng(seed)
    W0, d = aligned_init(p.depth, p.width, p.init_scale, p.init_noise, rng)
    n_steps = _steps("t_final", p.t_final, p.lr)
    every = _steps("record_dt", p.record_dt, p.lr)
    gate = _gate(n_steps, _steps("deficit_onset", p.deficit_onset, p.lr),
                 _steps("deficit_length", p.deficit_length, p.lr))
    lesion = p.lesion_mode >= 0
    keep_u, keep_v = np.ones(U.shape[0]), np.ones(n_modes)
    if lesion:
        keep_u[p.lesion_mode] = keep_v[p.lesion_mode] = 0.0
    proj_u = _padded((U * keep_u) @ U.T, p.width)
    proj_v = _padded((V * keep_v) @ V.T, p.width)
    target = _padded(Y.T, p.width)  # the sum-loss target: prediction Omega must equal Y^T = 8 Sigma_yx
    k_gd, loss, offdiag, final = kernels.pathway_gd(
        W0, W0.copy(), target, _padded(U, p.width), _padded(V, p.width), p.lr, n_steps, gate,
        p.gate == "remove", lesion, proj_u, proj_v, n_modes, every)

    lesion_a = np.zeros(n_modes, dtype=np.bool_)
    if lesion:
        lesion_a[p.lesion_mode] = True
    p0 = d ** (1.0 / p.depth)
    ka_map, kb_map = kernels.mode_map(s, p0, p0.copy(), p.depth, 0.0, p.lr, n_steps, gate,
                                      p.gate == "remove", lesion_a, every)
    if lesion:  # the map keeps p_a of the lesioned mode frozen; the network's output of it is projected away
        ka_map[:, p.lesion_mode] = 0.0

    time = np.arange(k_gd.shape[0]) * p.record_dt  # not steps * lr: identical labels across lr
    ds = xr.Dataset(
        {
            "K": (("time", "pathway", "mode"), k_gd,
                  {"long_name": "path singular value u^T Omega_p v (full-matrix GD)"}),
            "K_map": (("time", "pathway", "mode"), np.stack([ka_map, kb_map], axis=1),
                      {"long_name": "path singular value (per-mode scalar map)"}),
            "loss": (("time",), loss, {"long_name": "training loss 1/2 sum over items of squared error"}),
            "offdiag": (("time",), offdiag, {"long_name": "largest off-diagonal |u_i^T Omega v_j|"}),
            "K_matrix": (("pathway", "out_mode", "mode"), final[:, :U.shape[0], :n_modes],
                         {"long_name": "final U^T Omega_p V (feature modes x item modes)"}),
        },
        coords={
            "time": ("time", time, TIME_ATTRS),
            "epoch": ("time", np.arange(k_gd.shape[0]) * every, {"long_name": "GD update (epoch)", "units": "updates"}),
            "pathway": ("pathway", PATHWAYS, PATHWAY_ATTRS),
            "mode": ("mode", np.arange(n_modes), {"long_name": "mode of Sigma_yx (descending)", "units": "1"}),
            "s": ("mode", s, {"long_name": "target strength 8 S_alpha", "units": "1"}),
        },
    )
    return stamp(ds, study=STUDY, params=params, seed=seed)


# --- phase portraits ------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class PhaseParams(Params):
    depth: int = param(2, "layers per pathway", ge=1, le=30)
    regime: str = param("large", "small: balanced network (c=0); large: reduced model q^2 - p^2 = 1 (c=1)",
                        choices=("small", "large"))
    target: float = param(10.0, "target strength s of the single mode", gt=0, le=100)
    n_inits: int = param(100, "initial conditions", ge=1, le=100_000)
    init_mean: float = param(0.0, "mean of the initial layer value p", ge=-1, le=1)
    init_std: float = param(0.01, "standard deviation of the initial p (0 = all equal)", ge=0, le=1)
    lr: float = param(0.001, "Euler step dt", gt=0, le=0.1)
    t_final: float = param(1.0, "integration time", gt=0, le=1e5, unit="time")
    record_dt: float = param(0.01, "time between recorded states", gt=0, unit="time")
    deficit: str = param("early", "which deficit window applies", choices=("none", "early", "late"))
    early_window: tuple[float, ...] = param((0.0, 0.015), "(onset, length) of the early deficit", ge=0,
                                            unit="time")
    late_window: tuple[float, ...] = param((0.1, 0.015), "(onset, length) of the late deficit", ge=0,
                                           unit="time")

    def check(self) -> None:
        for name in ("early_window", "late_window"):
            window = getattr(self, name)
            if len(window) != 2:
                raise ValueError(f"{name} must be (onset, length) (got {window!r})")
            _steps(name, window[0], self.lr)
            _steps(name, window[1], self.lr)
        n_steps = _steps("t_final", self.t_final, self.lr)
        if n_steps % _steps("record_dt", self.record_dt, self.lr):
            raise ValueError(f"t_final must be a whole multiple of record_dt = {self.record_dt:g} "
                             f"(got {self.t_final:g})")
        if self.n_inits > 1 and self.init_std == 0:
            raise ValueError("init_std must be > 0 when n_inits > 1 (identical copies otherwise)")
        if self.regime == "small" and self.init_mean - 6 * self.init_std <= 0:
            raise ValueError("init_mean must exceed 6 init_std in the small regime (balanced p > 0) "
                             f"(got mean {self.init_mean:g}, std {self.init_std:g})")
        if self.regime == "small":
            _check_stable(self.lr, self.depth, self.target)


def simulate_phase(params: PhaseParams, seed: int) -> xr.Dataset:
    """Per-mode scalar dynamics of both pathways from ``n_inits`` initial conditions."""
    p = params
    rng = np.random.default_rng(seed)
    pa0 = p.init_mean + p.init_std * rng.standard_normal(p.n_inits)
    pb0 = p.init_mean + p.init_std * rng.standard_normal(p.n_inits)
    n_steps = _steps("t_final", p.t_final, p.lr)
    every = _steps("record_dt", p.record_dt, p.lr)
    window = {"early": p.early_window, "late": p.late_window, "none": (0.0, 0.0)}[p.deficit]
    gate = _gate(n_steps, _steps("deficit onset", window[0], p.lr), _steps("deficit length", window[1], p.lr))
    c = 0.0 if p.regime == "small" else 1.0
    ka, kb = kernels.mode_map(np.full(p.n_inits, p.target), pa0, pb0, p.depth, c, p.lr, n_steps, gate,
                              False, np.zeros(p.n_inits, np.bool_), every)
    ds = xr.Dataset(
        {"K": (("time", "pathway", "init"), np.stack([ka, kb], axis=1),
               {"long_name": "path singular value K"}),
         "p0": (("pathway", "init"), np.stack([pa0, pb0]), {"long_name": "initial layer value p"})},
        coords={"time": ("time", np.arange(ka.shape[0]) * p.record_dt, TIME_ATTRS),
                "pathway": ("pathway", PATHWAYS, PATHWAY_ATTRS),
                "init": ("init", np.arange(p.n_inits), {"long_name": "initial condition", "units": "1"})},
    )
    ds.attrs["deficit_start"], ds.attrs["deficit_stop"] = window[0], window[0] + window[1]
    return stamp(ds, study=STUDY, params=params, seed=seed)


# --- final split vs depth and onset ---------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class SplitParams(Params):
    depth: int = param(3, "layers per pathway", ge=1, le=20)
    target: float = param(math.sqrt(15.0), "target strength s", gt=0, le=100)
    k0: float = param(0.01, "initial strength K of each pathway", gt=0, lt=1)
    lr: float = param(0.01, "Euler step", gt=0, le=0.1)
    deficit_onset: float = param(0.0, "deficit onset in units of t_half(D)", ge=0, le=100)
    deficit_length: float = param(0.25, "deficit length in units of t_half(D) (0 = none)", ge=0, le=100)
    t_final: float = param(20.0, "run length in units of t_half(D)", gt=0, le=1000)
    record_dt: float = param(0.05, "nominal spacing of records in units of t_half(D)", gt=0, le=10)

    def check(self) -> None:
        if not 4 * self.k0 < self.target:
            raise ValueError(f"k0 must be < target / 4 (got {self.k0:g} for target {self.target:g})")
        if self.deficit_onset + self.deficit_length >= self.t_final:
            raise ValueError("t_final must exceed deficit_onset + deficit_length "
                             f"(got {self.t_final:g} <= {self.deficit_onset + self.deficit_length:g})")
        _check_stable(self.lr, self.depth, self.target)


def simulate_split(params: SplitParams, seed: int) -> xr.Dataset:
    """One mode, two pathways, a deficit timed relative to the learning time t_half(D).

    Deterministic (no random draw): ``seed`` only labels the run.  Window edges are
    rounded to whole updates; ``time`` holds the exact recorded times.
    """
    p = params
    t_half = theory.half_time(p.depth, p.target, p.k0)
    every = max(1, round(p.record_dt * t_half / p.lr))
    n_rec = round(p.t_final / p.record_dt)
    n_steps = n_rec * every
    onset, length = round(p.deficit_onset * t_half / p.lr), round(p.deficit_length * t_half / p.lr)
    gate = _gate(n_steps, onset, length)
    p0 = np.array([p.k0 ** (1.0 / p.depth)])
    args = (np.array([p.target]), p0, p0.copy(), p.depth, 0.0, p.lr)
    ka, kb = kernels.mode_map(*args, n_steps, gate, False, np.zeros(1, np.bool_), every)
    # state at the end of the deficit: from there on both pathways learn (invariant theory)
    end = onset + length
    ka_end, kb_end = kernels.mode_map(*args, end, gate[:end], False, np.zeros(1, np.bool_), max(end, 1))
    ds = xr.Dataset(
        {"K": (("tau", "pathway"), np.stack([ka[:, 0], kb[:, 0]], axis=1), {"long_name": "path strength K"}),
         "time": (("tau",), np.arange(n_rec + 1) * every * p.lr, TIME_ATTRS),
         "K_deficit_end": (("pathway",), [ka_end[-1, 0], kb_end[-1, 0]],
                           {"long_name": "K when the deficit ends"}),
         "t_half": ((), t_half, {"long_name": "learning time of the symmetric network", **TIME_ATTRS})},
        coords={"tau": ("tau", np.arange(n_rec + 1) * p.record_dt,
                        {"long_name": "nominal time / t_half(D)", "units": "t_half"}),
                "pathway": ("pathway", PATHWAYS, PATHWAY_ATTRS)},
    )
    ds.attrs["deficit_start_update"], ds.attrs["deficit_stop_update"] = onset, end
    return stamp(ds, study=STUDY, params=params, seed=seed)


# ================================================================================================
# Model B: deep matrix completion with a task switch
#
# Model B: deep matrix completion with a task switch or a subset -> full observation deficit.
#
# Public API: :class:`CompletionParams` + :func:`simulate_completion` (the sweeps of the
# matrix-completion figures) and :class:`CompletionFlowParams` + :func:`simulate_completion_flow`
# (GD against the Arora end-to-end gradient flow, test T10).
#
# Data (Kleinman, Achille & Soatto 2024, following Arora et al. 2019).  A rank-R target is
# ``M = L L'^T / sqrt(R)`` with ``L, L'`` i.i.d. standard normal ``N x R``, rescaled to
# ``||M||_F = N`` (mean squared entry 1).  The observed set is the first ``m`` entries of one
# uniform random permutation of the ``N^2`` positions, so sets for different ``m`` (and the
# subset used during a deficit) are nested.  Every random object has its own stream derived
# from the seed, so changing the depth, a rank or ``m`` leaves the other objects unchanged.
#
# Modes.  ``n_obs_deficit = 0`` (task switch): task 1 fits ``M1`` (rank ``rank1``) and task 2
# fits an independent ``M2`` (rank ``rank2``) on the same observed set.  ``n_obs_deficit > 0``
# (subset -> full): one target (rank ``rank2 = rank1``); task 1 observes the first
# ``n_obs_deficit`` entries, task 2 all ``n_obs``.  Test loss: mean over all ``N^2`` entries
# of ``(M_target - W)^2``, see :mod:`theorylab.deeplinear.mc_kernels` for the step indexing.
# ================================================================================================

STUDY = "deeplinear"
MAX_LOG_POINTS = 20_000
SIGNIFICANT_SV = 0.01  # a singular value counts as significant above 1% of the target's largest


# --- BLAS threads -------------------------------------------------------------------------------


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
    rank1: int = param(10, "rank of the task-1 target M1 (must equal rank2 in subset mode)", ge=1)
    rank2: int = param(5, "rank of the final target M2", ge=1)
    n_obs: int = param(2000, "observed entries m of the final task", ge=1)
    n_obs_deficit: int = param(0, "0: task switch M1 -> M2; > 0: first m_def observed entries during the deficit", ge=0)
    lr: float = param(0.2, "GD learning rate (one epoch = one full-batch step)", gt=0.0)
    init_scale: float = param(1e-3, "init scale: layer entries ~ N(0, init_scale^(2/D)/N), ||W(0)||_F ~ init_scale sqrt(N)", gt=0.0, le=10.0)
    t_switch: tuple[int, ...] = param((0, 1000, 5000, 10000, 20000, 40000, 60000, 80000, 100000),
                                      "deficit lengths T_sw (strictly increasing)", ge=0, unit="steps")
    n_continue: int = param(30000, "epochs after the switch (test loss at epoch T_sw + n_continue - 1)", ge=2, unit="steps")
    log_every: int = param(0, "log singular values and test loss every this many epochs (0: off)", ge=0, unit="steps")
    n_sv: int = param(10, "number of top singular values logged", ge=1)
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
    """Call the branching kernel with the task encoding it expects (see ``mc_kernels``)."""
    dt = np.dtype(dtype).type
    m1, m2 = float(mask1.sum()), float(mask2.sum())
    args = (np.ascontiguousarray(W0, dtype=dt),
            (mask1 / m1).astype(dt), (mask1 * M1 / m1).astype(dt),
            (mask2 / m2).astype(dt), (mask2 * M2 / m2).astype(dt),
            M1.astype(dt), M2.astype(dt), dt(lr),
            np.asarray(t_switch, dtype=np.int64), int(n_continue), int(log_every), int(n_sv))
    with single_threaded():
        return kernels.mc_gd_branches(*args)


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
    """GD from an exactly balanced identity init against the Arora end-to-end flow (test T10).

    Durations are in flow time ``t = lr x epoch`` so that a sweep over ``lr`` compares GD
    runs of different step sizes on one time grid; each must be a whole number of steps.
    """

    N: int = param(20, "matrix size N (the flow needs two eigh of N x N per evaluation)", ge=2, le=60)
    depth: int = param(3, "number of N x N linear layers D", ge=1, le=5)
    rank1: int = param(4, "rank of the task-1 target", ge=1)
    rank2: int = param(2, "rank of the task-2 target", ge=1)
    n_obs: int = param(200, "observed entries m (same set for both tasks)", ge=1)
    lr: float = param(0.05, "GD learning rate; the flow time is t = lr x epoch", gt=0.0)
    init_scale: float = param(1e-2, "every layer starts at init_scale^(1/D) I (+ jitter)", gt=0.0, le=10.0)
    jitter: float = param(1e-6, "common diagonal jitter on every layer (<= 1e-5)", ge=0.0, le=1e-5)
    switch_time: tuple[float, ...] = param((0.0, 200.0), "deficit lengths lr x T_sw (strictly increasing)",
                                           ge=0.0, unit="time")
    continue_time: float = param(200.0, "duration lr x n_continue after the switch", gt=0.0, unit="time")
    log_time: float = param(2.0, "compare every log_time (a whole number of steps)", gt=0.0, unit="time")
    n_sv: int = param(4, "number of top singular values compared", ge=1)
    ode_rtol: float = param(1e-8, "relative tolerance of solve_ivp (DOP853)", gt=0.0, le=1e-4)

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
    for b, ts in enumerate(t_switch):
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
            "long_name": "top singular values of W, end-to-end gradient flow", "units": "1"}),
        "test_traj_gd": (("t_switch", "time"), traj_gd, {
            "long_name": "test MSE on the task-2 target, gradient descent", "units": "1"}),
        "test_traj_ode": (("t_switch", "time"), traj_ode, {
            "long_name": "test MSE on the task-2 target, gradient flow", "units": "1"}),
        "target1_sigma": ("sv", np.linalg.svd(M1, compute_uv=False)[:p.n_sv], {
            "long_name": "singular values of the task-1 target", "units": "1"}),
        "target2_sigma": ("sv", np.linalg.svd(M2, compute_uv=False)[:p.n_sv], {
            "long_name": "singular values of the task-2 target", "units": "1"}),
    }, coords=coords)
    return stamp(ds, study=STUDY, params=p, seed=seed)
