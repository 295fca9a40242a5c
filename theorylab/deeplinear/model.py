"""Critical learning periods in deep linear networks: parameters and simulators.

Competition between two pathways (Kleinman, Achille & Soatto 2024, after Shi et
al. 2022): two deep linear pathways a, b read the same one-hot item
and add their outputs to predict 15 hierarchical features of 8 items.  A
*deficit* freezes pathway b for a window of time.  All times are gradient-flow
time ``t = lr * updates``; ``lr`` is the Euler step.

* :func:`simulate_pathways`: full-matrix GD of the network (Figs. 2, 3), with the
  exact per-mode map on the same initialisation alongside.
* :func:`simulate_phase`: the per-mode scalar model over many initial conditions
  (phase portraits, Figs. 1 and 7).
* :func:`simulate_split`: one mode, deficit windows in units of the learning time
  (how the final split depends on depth and on deficit onset).
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


def _steps(name: str, value: float, lr: float, least: int = 0) -> int:
    """``value / lr`` as a whole number of updates (at least ``least``), or a ValueError naming the parameter."""
    steps = value / lr
    if not least <= steps <= 1e9:  # also catches overflow to inf and underflow to 0
        raise ValueError(f"{name} must be between {least} and 1e9 updates of lr = {lr:g} (got {value:g})")
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
    record_dt: float = param(0.01, "time between recorded states", gt=0, le=1e4, unit="time")
    init_scale: float = param(0.01, "end-to-end initial singular value epsilon", gt=0, lt=1)
    init_noise: float = param(0.1, "relative jitter of the initial singular values", ge=0, lt=1)
    deficit_onset: float = param(0.0, "time at which pathway b is frozen", ge=0, le=1e4, unit="time")
    deficit_length: float = param(1.5, "duration of the deficit (0 = none)", ge=0, le=1e4, unit="time")
    gate: str = param("detach", "deficit semantics: b frozen but still predicts (detach) or also silent (remove)",
                      choices=("detach", "remove"))
    lesion_mode: int = param(-1, "mode of Sigma_yx pathway a cannot represent (-1 = none)", ge=-1, le=7)
    activation: str = param("linear", "activation after every layer, the output layer included",
                            choices=("linear", "tanh", "relu"))

    def check(self) -> None:
        n_steps = _steps("t_final", self.t_final, self.lr)
        every = _steps("record_dt", self.record_dt, self.lr, least=1)
        if n_steps % every:
            raise ValueError(f"t_final must be a whole multiple of record_dt = {self.record_dt:g} "
                             f"(got {self.t_final:g})")
        _steps("deficit_onset", self.deficit_onset, self.lr)
        _steps("deficit_length", self.deficit_length, self.lr)
        _check_stable(self.lr, self.depth, float(theory.target_strengths().max()))
        if self.activation != "linear" and self.lesion_mode >= 0:
            raise ValueError(f"lesion_mode must be -1 for a nonlinear network (got {self.lesion_mode} "
                             f"with activation {self.activation!r})")


ACTIVATIONS = {"linear": kernels.LINEAR, "tanh": kernels.TANH, "relu": kernels.RELU}


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
    every = _steps("record_dt", p.record_dt, p.lr, least=1)
    gate = _gate(n_steps, _steps("deficit_onset", p.deficit_onset, p.lr),
                 _steps("deficit_length", p.deficit_length, p.lr))
    lesion = p.lesion_mode >= 0
    keep_u, keep_v = np.ones(U.shape[0]), np.ones(n_modes)
    if lesion:
        keep_u[p.lesion_mode] = keep_v[p.lesion_mode] = 0.0
    proj_u = _padded((U * keep_u) @ U.T, p.width)
    proj_v = _padded((V * keep_v) @ V.T, p.width)
    target = _padded(Y.T, p.width)  # the sum-loss target: prediction Omega must equal Y^T = 8 Sigma_yx
    if p.activation == "linear":
        k_gd, loss, offdiag, final = kernels.pathway_gd(
            W0, W0.copy(), target, _padded(U, p.width), _padded(V, p.width), p.lr, n_steps, gate,
            p.gate == "remove", lesion, proj_u, proj_v, n_modes, every)
    else:
        k_gd, loss, offdiag, final = kernels.nonlinear_pathway_gd(
            W0, W0.copy(), np.ascontiguousarray(target[:, :n_modes]), _padded(U, p.width), _padded(V, p.width),
            p.lr, n_steps, gate, p.gate == "remove", ACTIVATIONS[p.activation], n_modes, n_modes, every)

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
                  {"long_name": "path singular value u^T Y_p v of the responses to the items (full-matrix GD)"}),
            "K_map": (("time", "pathway", "mode"), np.stack([ka_map, kb_map], axis=1),
                      {"long_name": "path singular value of the linear network (per-mode scalar map)"}),
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
    record_dt: float = param(0.01, "time between recorded states", gt=0, le=1e5, unit="time")
    deficit: str = param("early", "which deficit window applies", choices=("none", "early", "late"))
    early_window: tuple[float, ...] = param((0.0, 0.015), "(onset, length) of the early deficit", ge=0,
                                            le=1e5, unit="time")
    late_window: tuple[float, ...] = param((0.1, 0.015), "(onset, length) of the late deficit", ge=0,
                                           le=1e5, unit="time")

    def check(self) -> None:
        for name in ("early_window", "late_window"):
            window = getattr(self, name)
            if len(window) != 2:
                raise ValueError(f"{name} must be (onset, length) (got {window!r})")
            _steps(name, window[0], self.lr)
            _steps(name, window[1], self.lr)
        n_steps = _steps("t_final", self.t_final, self.lr)
        if n_steps % _steps("record_dt", self.record_dt, self.lr, least=1):
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
    every = _steps("record_dt", p.record_dt, p.lr, least=1)
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
