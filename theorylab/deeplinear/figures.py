"""Figures of the critical-periods study: one function per figure, Dataset in, Figure out.

Each function's docstring is the figure's caption.  Theory curves (gradient
flow, invariant predictions, flow fields) come from :mod:`theory`; nothing here
runs a simulation.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.ticker import FuncFormatter, MaxNLocator

from theorylab.core.plotting import figure
from theorylab.deeplinear import theory

MODE_COLORS = plt.get_cmap("tab10").colors
PATHWAY_COLORS = {"a": "#1f77b4", "b": "#d62728"}


def _deficit_label(onset: float, t_final: float) -> str:
    frac = onset / t_final
    return "early" if frac < 0.2 else ("middle" if frac < 0.6 else "late")


def _shade(ax, start: float, stop: float) -> None:
    ax.axvspan(start, stop, color="0.85", zorder=0, lw=0)
    for x in (start, stop):
        ax.axvline(x, color="0.5", ls="--", lw=0.8, zorder=0)


def fig2_deficit_timing(ds: xr.Dataset) -> plt.Figure:
    """Critical period in the two-pathway network (depth 4). Pathway b is frozen during the grey window
    (early, middle or late). Markers: full-matrix GD, K_a (x) and K_b (+) every 35 epochs, one colour per
    mode of Sigma_yx; dashed black: scipy gradient flow from the same initialisation. An early deficit
    hands every feature to pathway a; a middle one only the weak features not yet learned; a late one
    changes nothing."""
    sub = ds.isel(seed=0)
    lr = float(ds.attrs["lr"])
    length = float(ds.attrs["deficit_length"])
    onsets = ds.deficit_onset.values
    fig, axes = figure(1, len(onsets), figsize=(3.2 * len(onsets), 3.0), sharey=True)
    depth = int(ds.attrs["depth"])
    s = sub.s.values
    for ax, onset in zip(np.atleast_1d(axes), onsets):
        run = sub.sel(deficit_onset=onset)
        epochs = run.epoch.values
        p0 = run.K.isel(time=0, pathway=0).values ** (1.0 / depth)
        t_fine = np.linspace(0, float(run.time[-1]), 801)
        ka, kb = theory.flow_modes(s, p0, p0, depth, t_fine, gate=(onset, onset + length),
                                   remove_b=ds.attrs["gate"] == "remove")
        _shade(ax, onset / lr, (onset + length) / lr)
        marks = slice(None, None, 35)
        for m in range(s.size):
            color = MODE_COLORS[m % 10]
            ax.plot(epochs[marks], run.K.sel(pathway="a", mode=m).values[marks], "x", ms=4, color=color)
            ax.plot(epochs[marks], run.K.sel(pathway="b", mode=m).values[marks], "+", ms=5, color=color)
        ax.plot(t_fine / lr, ka, "k--", lw=0.7)
        ax.plot(t_fine / lr, kb, "k--", lw=0.7)
        ax.set_title(f"{_deficit_label(onset, float(run.time[-1])).capitalize()} deficit")
        ax.set_xlabel("epoch (GD update)")
    axes[0].set_ylabel(r"path singular value $K_\alpha$")
    handles = [plt.Line2D([], [], ls="", marker="x", color="k", label="GD, pathway a"),
               plt.Line2D([], [], ls="", marker="+", color="k", label="GD, pathway b"),
               plt.Line2D([], [], ls="--", color="k", label="gradient flow")]
    handles += [plt.Line2D([], [], color=MODE_COLORS[m], label=f"mode {m} (s={s[m]:.2f})")
                for m in (0, 1, 2, 4)]
    np.atleast_1d(axes)[len(onsets) // 2].legend(handles=handles, loc="upper right", fontsize=7)
    return fig


def fig3_lesion(ds: xr.Dataset) -> plt.Figure:
    """Competition allocates features (depth 3). Pathway b is frozen for the first 200 epochs (grey) and
    pathway a cannot represent mode 1. Left: modes 0-4 under GD (x: a, +: b) with gradient flow (dashed;
    the lesioned mode in its colour). Right: final U^T Omega_p V of each pathway in the SVD basis. Once
    free, b learns the lesioned feature and nothing else."""
    sub = ds.isel(seed=0)
    lr = float(ds.attrs["lr"])
    depth = int(ds.attrs["depth"])
    mode = int(ds.attrs["lesion_mode"])
    onset, length = float(ds.attrs["deficit_onset"]), float(ds.attrs["deficit_length"])
    s = sub.s.values
    fig = plt.figure(figsize=(10, 3.2), layout="constrained")
    grid = fig.add_gridspec(1, 4, width_ratios=[2.4, 1, 1, 0.08])
    ax = fig.add_subplot(grid[0])
    p0 = sub.K.isel(time=0, pathway=1).values ** (1.0 / depth)
    lesion = np.arange(s.size) == mode
    t_fine = np.linspace(0, float(sub.time[-1]), 801)
    ka, kb = theory.flow_modes(s, p0, p0, depth, t_fine, gate=(onset, onset + length), lesion_a=lesion)
    _shade(ax, onset / lr, (onset + length) / lr)
    marks = slice(None, None, 35)
    for m in range(5):
        color = MODE_COLORS[m]
        ax.plot(sub.epoch[marks], sub.K.sel(pathway="a", mode=m)[marks], "x", ms=4, color=color)
        ax.plot(sub.epoch[marks], sub.K.sel(pathway="b", mode=m)[marks], "+", ms=5, color=color,
                label=f"mode {m}" + (" (lesioned in a)" if m == mode else ""))
        line = color if m == mode else "k"
        ax.plot(t_fine / lr, ka[:, m], "--", color=line, lw=0.7)
        ax.plot(t_fine / lr, kb[:, m], "--", color=line, lw=0.7)
    ax.set_xlabel("epoch (GD update)")
    ax.set_ylabel(r"path singular value $K_\alpha$")
    ax.legend(loc="center right", fontsize=7)
    vmax = float(np.abs(sub.K_matrix).max())
    for i, pathway in enumerate(("a", "b")):
        hax = fig.add_subplot(grid[1 + i])
        im = hax.imshow(sub.K_matrix.sel(pathway=pathway).values, cmap="magma", vmin=0, vmax=vmax,
                        aspect="auto")
        hax.set_title(f"final $U^T\\Omega_{pathway}V$")
        hax.set_xlabel("item mode")
        hax.set_ylabel("feature mode")
    fig.colorbar(im, cax=fig.add_subplot(grid[3]))
    return fig


def fig_flow_convergence(ds: xr.Dataset) -> plt.Figure:
    """GD converges to gradient flow at first order. Maximum over modes and times of |K_GD - K_flow|
    (scipy LSODA, rtol 1e-10) against the learning rate, for each depth, with an early deficit of
    pathway b; the dotted line has slope 1."""
    sub = ds.isel(seed=0)
    fig, ax = figure(figsize=(3.6, 3.0))
    lrs = np.sort(ds.lr.values)
    start = float(ds.attrs["deficit_onset"])
    gate = (start, start + float(ds.attrs["deficit_length"]))
    for depth in ds.depth.values:
        errors = []
        for lr in lrs:
            run = sub.sel(depth=depth, lr=lr)
            p0 = run.K.isel(time=0, pathway=0).values ** (1.0 / depth)
            ka, kb = theory.flow_modes(run.s.values, p0, p0, int(depth), run.time.values, gate=gate)
            errors.append(float(np.abs(np.stack([ka, kb], axis=1) - run.K.values).max()))
        ax.loglog(lrs, errors, "o-", label=f"D = {depth}")
    ref = errors[0] * lrs / lrs[0]
    ax.loglog(lrs, ref, "k:", label="slope 1")
    ax.set_xlabel("learning rate (Euler step)")
    ax.set_ylabel(r"max $|K_{GD} - K_{flow}|$")
    ax.legend()
    return fig


def _final_share(ds: xr.Dataset) -> xr.DataArray:
    final = ds.isel(seed=0).K.isel(tau=-1)
    return final.sel(pathway="b") / final.sum("pathway")


def fig_depth_split(ds: xr.Dataset) -> plt.Figure:
    """Depth amplifies an early deficit. Final share of the feature held by the deprived pathway b after
    a deficit of a quarter of the learning time t_half(D) at the start (s = sqrt(15), K0 = 0.01 per
    pathway). Dots: GD (per-mode map, lr 0.01); crosses: the invariant's prediction from the state at the
    end of the deficit (brentq)."""
    share = _final_share(ds)
    target = float(ds.attrs["target"])
    predicted = []
    for depth in ds.depth.values:
        ka, kb = ds.isel(seed=0).K_deficit_end.sel(depth=depth).values
        pa, pb = theory.final_split(float(ka), float(kb), target, int(depth))
        predicted.append(pb / (pa + pb))
    fig, ax = figure(figsize=(3.6, 3.0))
    ax.plot(ds.depth, share, "o-", label="GD")
    ax.plot(ds.depth, predicted, "kx", ms=7, label="invariant prediction")
    ax.axhline(0.5, color="0.6", ls=":", lw=0.8)
    ax.set_xlabel("depth D (layers per pathway)")
    ax.set_ylabel(r"final share of b, $K_b/(K_a+K_b)$")
    ax.set_ylim(0, 0.55)
    ax.legend()
    return fig


def fig_onset_split(ds: xr.Dataset) -> plt.Figure:
    """The critical window closes once the feature is learned. Final share of the deprived pathway b
    against the onset of a deficit lasting 0.25 t_half(D), with onset in units of t_half(D): early
    deficits are decisive, deficits after ~1.5 t_half leave the symmetric 50/50 split."""
    share = _final_share(ds)
    fig, ax = figure(figsize=(3.6, 3.0))
    for depth in ds.depth.values:
        ax.plot(ds.deficit_onset, share.sel(depth=depth), "o-", label=f"D = {depth}")
    ax.axhline(0.5, color="0.6", ls=":", lw=0.8)
    ax.set_xlabel(r"deficit onset / $t_{1/2}(D)$")
    ax.set_ylabel(r"final share of b, $K_b/(K_a+K_b)$")
    ax.set_ylim(0, 0.55)
    ax.legend()
    return fig


def fig_learning_time(ds: xr.Dataset) -> plt.Figure:
    """Learning time of the symmetric two-pathway network without deficit. Time for K_a + K_b to reach
    s/2 from 2 K0 (s = sqrt(15), K0 = 0.01) measured under GD at two learning rates, against the
    gradient-flow quadrature (line). Depth lengthens the plateau at small initialisation."""
    sub = ds.isel(seed=0)
    target, k0 = float(ds.attrs["target"]), float(ds.attrs["k0"])
    depths = ds.depth.values
    fig, ax = figure(figsize=(3.6, 3.0))
    fine = np.arange(1, depths.max() + 1)
    ax.plot(fine, [theory.half_time(int(d), target, k0) for d in fine], "k-", lw=1, label="quadrature")
    for lr, marker in zip(ds.lr.values, ("o", "s", "^")):
        measured = []
        for depth in depths:
            run = sub.sel(depth=depth, lr=lr)
            total, t = run.K.sum("pathway").values, run.time.values
            measured.append(np.interp(target / 2, total, t))
        ax.plot(depths, measured, marker, mfc="none", label=f"GD, lr = {lr:g}")
    ax.set_xlabel("depth D")
    ax.set_ylabel(r"$t_{1/2}$ (gradient-flow time)")
    ax.legend()
    return fig


def _phase_panels(ds: xr.Dataset, lr: float | None, stream: bool) -> plt.Figure:
    sub = ds.isel(seed=0)
    if lr is not None:
        sub = sub.sel(lr=lr)
    target = float(ds.attrs["target"])
    c = 0.0 if ds.attrs["regime"] == "small" else 1.0
    depths = ds.depth.values
    rows = ("early", "late")
    fig, axes = figure(len(rows), len(depths), figsize=(2.4 * len(depths), 4.8), sharex=True, sharey=True)
    grid = np.arange(0.01, target, 0.5)
    KA, KB = np.meshgrid(grid, grid)
    for j, depth in enumerate(depths):
        if stream:
            dka, dkb = theory.flow_field(KA, KB, target, int(depth), c)
        for i, deficit in enumerate(rows):
            ax = axes[i, j]
            if stream:
                ax.streamplot(KA, KB, dka, dkb, color="#9467bd", density=0.7, linewidth=0.5, arrowsize=0.6)
            ax.plot([0, target], [target, 0], color="#1f77b4", lw=1.2)
            run = sub.K.sel(depth=depth, deficit=deficit)
            ka, kb = run.sel(pathway="a").values, run.sel(pathway="b").values
            ax.plot(ka, kb, color="k", lw=0.6 if ka.ndim > 1 and ka.shape[1] > 1 else 2.0, alpha=0.8)
            ax.set_xlim(0, target)
            ax.set_ylim(0, target)
            ax.set_aspect("equal")
            if i == 0:
                ax.set_title(f"D = {depth}")
            if j == 0:
                ax.set_ylabel(f"{deficit} deficit\n$K_b$")
            if i == len(rows) - 1:
                ax.set_xlabel("$K_a$")
    return fig


def fig1_phase_large(ds: xr.Dataset) -> plt.Figure:
    """Deeper networks are more affected by an early deficit (reduced large-init model, s = 10).
    Black: 100 trajectories from p ~ N(0, 0.01^2) with pathway b frozen for updates [0, 15) (top) or
    [100, 115) (bottom), dt = 0.001; purple: the no-deficit flow field; blue: the solutions
    K_a + K_b = s. Early deficits push the end point towards pathway a, more so with depth; late
    deficits do not favour either pathway on average."""
    return _phase_panels(ds, lr=None, stream=True)


def fig7_phase_small(ds: xr.Dataset) -> plt.Figure:
    """Small-initialisation phase portraits (balanced network, p_a = p_b = 0.005, s = 10, dt = 0.01).
    One trajectory per panel; pathway b frozen for the first 4 updates (top) or for updates
    [500000, 510000) (bottom). The tiny early head start becomes a permanent, depth-dependent split;
    the late deficit changes nothing."""
    return _phase_panels(ds, lr=float(ds.lr.max()), stream=True)


# ================================================================================================
# Model B: deep matrix completion with a task switch
#
# Model B (deep matrix completion) figures: one function per figure, Dataset in, Figure out.
#
# Each function's docstring is the figure's caption.  Curves are medians over seeds with an
# interquartile band when there are several seeds.  Sign convention (spec P9): the paper's depth
# plots show ``loss(0) - loss(T_sw)``, negative when pre-training hurts; here damage is
# ``loss(T_sw) - loss(0)``, positive when pre-training hurts, and the main panels show the
# test loss itself with the from-scratch level marked.  Nothing here simulates.
# ================================================================================================

T_LABEL = "pre-training steps T_sw"
LOSS_LABEL = "test MSE"
DEPTH_COLORS = {1: "#7f7f7f", 2: "#1f77b4", 3: "#d62728", 4: "#2ca02c", 5: "#9467bd"}


def _with_seed(da: xr.DataArray) -> xr.DataArray:
    return da if "seed" in da.dims else da.expand_dims(seed=[0])


def _curve(ax, da: xr.DataArray, label: str, color, marker: str = "o") -> None:
    """Median over seeds (line) and interquartile band of a ``(seed, t_switch)`` array."""
    da = _with_seed(da)
    x = da.t_switch.values
    med = da.median("seed").values
    ax.plot(x, med, marker=marker, ms=3.5, color=color, label=label)
    if da.sizes["seed"] > 1:
        ax.fill_between(x, da.quantile(0.25, "seed").values, da.quantile(0.75, "seed").values,
                        color=color, alpha=0.15, lw=0)


def _nuclear(ax, ds: xr.Dataset) -> None:
    if "nuclear_loss" not in ds:
        return
    values = ds["nuclear_loss"].values
    values = values[np.isfinite(values)]
    if values.size:
        ax.axhline(float(np.median(values)), color="k", ls="--", lw=0.9, label="nuclear norm (SCS)")


def _steps_axis(ax) -> None:
    """Step counts as 0, 20k, 40k ... (long runs) with at most 5 ticks."""
    ax.xaxis.set_major_locator(MaxNLocator(5, integer=True))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1000:g}k" if abs(v) >= 1000 else f"{v:g}"))


def _loss_axes(ax, log: bool = True) -> None:
    _steps_axis(ax)
    ax.set_xlabel(T_LABEL)
    ax.set_ylabel(LOSS_LABEL)
    if log:
        ax.set_yscale("log")


def _positive(da: xr.DataArray) -> xr.DataArray:
    """Clip at 1e-7 for log axes (from-scratch losses of deep nets reach ~1e-7)."""
    return da.clip(min=1e-7)


def _colors(n: int, cmap: str = "viridis"):
    return plt.get_cmap(cmap)(np.linspace(0.0, 0.85, max(n, 1)))


def _seed_note(ds: xr.Dataset) -> str:
    n = ds.sizes.get("seed", 1)
    return f"{n} seeds: median, quartiles" if n > 1 else "1 seed"


def fig_mc_singular_values(ds: xr.Dataset) -> plt.Figure:
    """Matrix completion, task switch (MC-a). Top singular values of the end-to-end matrix W during
    training, for a depth-2 and a depth-3 network (first seed) and three pre-training lengths; the grey
    dashed line marks the switch from task 1 (rank R1) to task 2 (rank R2). From scratch exactly R2
    singular values rise; after long pre-training the R1 task-1 directions persist and are reshaped,
    and the final W has more significant singular values than the target."""
    depths = [d for d in ds.depth.values if d >= 2] or list(ds.depth.values)
    t_all = ds.t_switch.values
    picks = sorted({t_all[0], t_all[len(t_all) // 2], t_all[-1]})
    fig, axes = figure(len(depths), len(picks), figsize=(3.0 * len(picks), 2.4 * len(depths)),
                       sharex=True, squeeze=False)
    for i, depth in enumerate(depths):
        run = _with_seed(ds["sigma"].sel(depth=depth)).isel(seed=0)
        colors = _colors(run.sizes["sv"], "summer")
        for j, ts in enumerate(picks):
            ax = axes[i, j]
            trace = run.sel(t_switch=ts)
            steps = trace.step.values
            for r in range(trace.sizes["sv"]):
                ax.plot(steps, trace.isel(sv=r).values, color=colors[r], lw=1.0)
            ax.axvline(ts, color="0.5", ls="--", lw=0.8)
            _steps_axis(ax)
            ax.set_title(f"D = {depth}, T_sw = {ts:,}")
            if i == len(depths) - 1:
                ax.set_xlabel("epoch (GD steps)")
            if j == 0:
                ax.set_ylabel("singular values of W")
    return fig


def fig_mc_depth(ds: xr.Dataset) -> plt.Figure:
    """Matrix completion, effect of depth (MC-b; task switch rank R1 -> R2). Left: final test MSE
    against the length T_sw of pre-training on task 1, per depth; dotted lines mark each depth's
    from-scratch level loss(0), open squares the depth-1 closed form, the dashed black line the
    nuclear-norm completion. Right: damage loss(T_sw) - loss(0) (positive = pre-training hurts; the
    paper plots the opposite sign). Depth 1 is flat (history-free); deeper networks are damaged once
    pre-training lasts long enough for task 1 to be learned."""
    fig, (ax, bx) = figure(1, 2, figsize=(8.0, 3.2))
    for depth in ds.depth.values:
        color = DEPTH_COLORS.get(int(depth), "k")
        loss = _with_seed(ds["test_loss"].sel(depth=depth))
        _curve(ax, _positive(loss), f"D = {depth}", color)
        ax.axhline(max(float(loss.isel(t_switch=0).median()), 1e-7), color=color, ls=":", lw=0.8)
        _curve(bx, loss - loss.isel(t_switch=0), f"D = {depth}", color)
        if int(depth) == 1 and "closed_form_loss" in ds:
            closed = _with_seed(ds["closed_form_loss"].sel(depth=depth)).median("seed")
            ax.plot(closed.t_switch.values, closed.values, "s", mfc="none", color="k", ms=6,
                    label="D = 1 closed form")
    _nuclear(ax, ds)
    _loss_axes(ax)
    ax.set_title(f"test loss; {_seed_note(ds)}")
    ax.legend(loc="lower right")
    bx.axhline(0.0, color="0.6", lw=0.6)
    _steps_axis(bx)
    bx.set_xlabel(T_LABEL)
    bx.set_ylabel("damage loss(T_sw) - loss(0) (test MSE)")
    bx.set_title("damage (> 0: pre-training hurts)")
    return fig


def _sweep_figure(ds: xr.Dataset, dim: str, label, title: str) -> plt.Figure:
    fig, (ax, bx) = figure(1, 2, figsize=(8.0, 3.2))
    values = list(ds[dim].values)
    for value, color in zip(values, _colors(len(values))):
        loss = _with_seed(ds["test_loss"].sel({dim: value}))
        _curve(ax, _positive(loss), label(value), color)
        _curve(bx, loss - loss.isel(t_switch=0), label(value), color)
    _nuclear(ax, ds)
    _loss_axes(ax)
    ax.set_title(f"{title}; {_seed_note(ds)}")
    ax.legend(fontsize=7)
    bx.axhline(0.0, color="0.6", lw=0.6)
    _steps_axis(bx)
    bx.set_xlabel(T_LABEL)
    bx.set_ylabel("damage loss(T_sw) - loss(0) (test MSE)")
    bx.set_title("damage (> 0: pre-training hurts)")
    return fig


def fig_mc_rank(ds: xr.Dataset) -> plt.Figure:
    """Matrix completion, effect of the task-1 rank (MC-c; depth 3, final rank R2 fixed). Final test MSE
    (left) and damage loss(T_sw) - loss(0) (right) against the pre-training length, one curve per
    task-1 rank R1. Pre-training on a task of lower or equal rank is (nearly) harmless; a task of
    higher rank is damaging once it has been learned."""
    r2 = int(ds.attrs.get("rank2", 0))
    return _sweep_figure(ds, "rank1", lambda r: f"R1 = {r}" + (" (> R2)" if r > r2 else ""),
                         f"task 1 rank -> rank {r2}")


def fig_mc_observations(ds: xr.Dataset) -> plt.Figure:
    """Matrix completion, number of observations (MC-d; depth 3, task switch). Final test MSE (left)
    and damage (right) against the pre-training length, one curve per number of observed entries m.
    Near the information limit pre-training is catastrophic; with abundant observations the damage
    shrinks by orders of magnitude."""
    return _sweep_figure(ds, "n_obs", lambda m: f"m = {m}", "observed entries")


def fig_mc_init(ds: xr.Dataset) -> plt.Figure:
    """Matrix completion, initialisation scale (appendix; depth 3, task switch). Final test MSE (left)
    and damage (right) against the pre-training length, one curve per init scale (||W(0)||_F ~ scale x
    sqrt(N)). Smaller initialisation learns task 1 later, so the critical period starts later."""
    return _sweep_figure(ds, "init_scale", lambda s: f"init {s:g}", "init scale")


def fig_mc_subset(ds: xr.Dataset) -> plt.Figure:
    """Matrix completion, subset -> full observations (MC-e; depth 3, one low-rank target). The network
    first trains on a subset of the observed entries for T_sw steps, then on all m. Final test MSE
    (left) and damage (right) against T_sw, one curve per final m: the early deficit is not undone by
    the extra observations."""
    return _sweep_figure(ds, "n_obs", lambda m: f"m = {m}", f"first {ds.attrs.get('n_obs_deficit', '?')} entries, then m")


def fig_mc_subset_depth(ds: xr.Dataset) -> plt.Figure:
    """Matrix completion, subset deficit vs depth (MC-f). Training on a subset of the observed entries
    for T_sw steps before seeing all of them: final test MSE (left, dotted: from-scratch levels) and
    damage (right) per depth. Depth 1 is unaffected; deep networks lose the ability to use the extra
    data (loss of plasticity)."""
    return fig_mc_depth(ds)


def fig_mc_seeds(ds: xr.Dataset) -> plt.Figure:
    """Matrix completion, robustness across seeds (appendix; depth 3, task switch). Final test MSE
    against the pre-training length, one line per seed (targets, observed entries and initialisation
    all change with the seed). Every seed recovers the target from scratch and is damaged by long
    pre-training; the onset of the damage varies with the seed."""
    fig, ax = figure(1, 1, figsize=(4.2, 3.2))
    loss = _with_seed(ds["test_loss"])
    for seed, color in zip(loss.seed.values, _colors(loss.sizes["seed"], "tab10")):
        ax.plot(loss.t_switch.values, _positive(loss.sel(seed=seed)).values, "o-", ms=3.5,
                color=color, label=f"seed {seed}")
    _loss_axes(ax)
    ax.legend(fontsize=7, ncol=2)
    return fig


def fig_mc_flow(ds: xr.Dataset) -> plt.Figure:
    """Matrix completion, GD against the end-to-end gradient flow (appendix; balanced identity init).
    Left and middle: top singular values of W for GD (colour) and for the Arora et al. flow integrated
    with solve_ivp (black dashed), against time t = lr x epoch, switching from task 1 to task 2 at the
    grey line (without and with pre-training; smallest learning rate). Right: the largest relative gap
    on the singular values against the learning rate, with a slope-1 guide (first-order convergence)."""
    lrs = np.sort(_with_seed(ds["sigma_gd"]).lr.values) if "lr" in ds.dims else [float(ds.attrs["lr"])]
    sub = ds.sel(lr=lrs[0]) if "lr" in ds.dims else ds
    sub = sub.isel(seed=0) if "seed" in sub.dims else sub
    t_sw = sub.t_switch.values
    fig, axes = figure(1, len(t_sw) + 1, figsize=(3.2 * (len(t_sw) + 1), 3.0))
    colors = _colors(sub.sizes["sv"], "summer")
    for ax, ts in zip(axes, t_sw):
        gd, ode = sub["sigma_gd"].sel(t_switch=ts), sub["sigma_ode"].sel(t_switch=ts)
        t = sub.time.values
        for r in range(sub.sizes["sv"]):
            ax.plot(t, gd.isel(sv=r).values, color=colors[r], lw=1.6)
            ax.plot(t, ode.isel(sv=r).values, "k--", lw=0.8)
        ax.axvline(ts, color="0.5", ls="--", lw=0.8)
        ax.set_xlabel("time t = lr x epoch")
        ax.set_ylabel("singular values of W")
        ax.set_title(f"switch at t = {ts:g} (lr {lrs[0]:g})")
    rel = abs(ds["sigma_gd"] - ds["sigma_ode"]) / ds["sigma_ode"]
    err = rel.max([d for d in rel.dims if d != "lr"]) if "lr" in rel.dims else rel.max()
    ax = axes[-1]
    x = np.atleast_1d(err.lr.values if "lr" in err.dims else lrs)
    y = np.atleast_1d(err.values)
    ax.loglog(x, y, "o-", color="#d62728", label="GD vs flow")
    ax.loglog(x, y[-1] * x / x[-1], "k:", lw=0.8, label="slope 1")
    ax.set_xticks(x, [f"{v:g}" for v in x])
    ax.minorticks_off()
    ax.set_xlabel("learning rate lr")
    ax.set_ylabel("max relative gap on singular values")
    ax.legend()
    return fig
