"""Figures of deep matrix completion: one function per figure, Dataset in, Figure out.

Each function's docstring is the figure's caption; with several seeds, curves follow the package's
seed-band convention (stated in the captions).  Sign convention: the paper's depth plots
show ``loss(0) - loss(T_sw)``, negative when pre-training hurts; here damage is
``loss(T_sw) - loss(0)``, positive when pre-training hurts, and the main panels show the
test loss itself with the from-scratch level marked.  Nothing here simulates.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.ticker import FuncFormatter, MaxNLocator

from theorylab.core.plotting import SEED_BAND, figure, log_axes, seed_band


T_LABEL = "pre-training steps T_sw"
LOSS_LABEL = "test MSE"
DEPTH_COLORS = {1: "#7f7f7f", 2: "#1f77b4", 3: "#d62728", 4: "#2ca02c", 5: "#9467bd"}


def _with_seed(da: xr.DataArray) -> xr.DataArray:
    return da if "seed" in da.dims else da.expand_dims(seed=[0])


def _curve(ax, da: xr.DataArray, label: str, color, marker: str = "o") -> None:
    """Seed mean and band (the package's seed-band convention) of a ``(seed, t_switch)`` array."""
    da = _with_seed(da)
    seed_band(ax, da.t_switch.values, da.transpose("seed", "t_switch"), color=color, label=label, marker=marker)


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
        log_axes(ax, x=False, y=True)


def _damage_axes(ax) -> None:
    """The right panel of the switch-point figures: zero line, labels and title of the damage
    loss(T_sw) - loss(0)."""
    ax.axhline(0.0, color="0.6", lw=0.6)
    _steps_axis(ax)
    ax.set_xlabel(T_LABEL)
    ax.set_ylabel("damage loss(T_sw) - loss(0) (test MSE)")
    ax.set_title("damage (> 0: pre-training hurts)")


def _positive(da: xr.DataArray) -> xr.DataArray:
    """Clip at 1e-7 for log axes (from-scratch losses of deep nets reach ~1e-7)."""
    return da.clip(min=1e-7)


def _colors(n: int, cmap: str = "viridis"):
    return plt.get_cmap(cmap)(np.linspace(0.0, 0.85, max(n, 1)))


def _seed_note(ds: xr.Dataset) -> str:
    n = ds.sizes.get("seed", 1)
    return f"{n} seeds" if n > 1 else "1 seed"


def fig_singular_values(ds: xr.Dataset) -> plt.Figure:
    """Matrix completion, task switch. Top singular values of the end-to-end matrix W during
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


def fig_depth(ds: xr.Dataset) -> plt.Figure:
    """Matrix completion, effect of depth (task switch rank R1 -> R2). Left: final test MSE
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
    _damage_axes(bx)
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
    _damage_axes(bx)
    return fig


def fig_rank(ds: xr.Dataset) -> plt.Figure:
    """Matrix completion, effect of the task-1 rank (depth 3, final rank R2 fixed). Final test MSE
    (left) and damage loss(T_sw) - loss(0) (right) against the pre-training length, one curve per
    task-1 rank R1. Pre-training on a task of lower or equal rank is (nearly) harmless; a task of
    higher rank is damaging once it has been learned."""
    r2 = int(ds.attrs.get("rank2", 0))
    return _sweep_figure(ds, "rank1", lambda r: f"R1 = {r}" + (" (> R2)" if r > r2 else ""),
                         f"task 1 rank -> rank {r2}")


def fig_observations(ds: xr.Dataset) -> plt.Figure:
    """Matrix completion, number of observations (depth 3, task switch). Final test MSE (left)
    and damage (right) against the pre-training length, one curve per number of observed entries m.
    Near the information limit pre-training is catastrophic; with abundant observations the damage
    shrinks by orders of magnitude."""
    return _sweep_figure(ds, "n_obs", lambda m: f"m = {m}", "observed entries")


def fig_init(ds: xr.Dataset) -> plt.Figure:
    """Matrix completion, initialisation scale (appendix; depth 3, task switch). Final test MSE (left)
    and damage (right) against the pre-training length, one curve per init scale (||W(0)||_F ~ scale x
    sqrt(N)). Smaller initialisation learns task 1 later, so the critical period starts later."""
    return _sweep_figure(ds, "init_scale", lambda s: f"init {s:g}", "init scale")


def fig_subset(ds: xr.Dataset) -> plt.Figure:
    """Matrix completion, subset -> full observations (depth 3, one low-rank target). The network
    first trains on a subset of the observed entries for T_sw steps, then on all m. Final test MSE
    (left) and damage (right) against T_sw, one curve per final m: the early deficit is not undone by
    the extra observations."""
    return _sweep_figure(ds, "n_obs", lambda m: f"m = {m}", f"first {ds.attrs.get('n_obs_deficit', '?')} entries, then m")


def fig_subset_depth(ds: xr.Dataset) -> plt.Figure:
    """Matrix completion, subset deficit vs depth. Training on a subset of the observed entries
    for T_sw steps before seeing all of them: final test MSE (left, dotted: from-scratch levels) and
    damage (right) per depth. Depth 1 is unaffected; deep networks lose the ability to use the extra
    data (loss of plasticity)."""
    return fig_depth(ds)


def fig_seeds(ds: xr.Dataset) -> plt.Figure:
    """Matrix completion, robustness across seeds (appendix; depth 3, task switch). Final test MSE
    against the pre-training length, one line per seed (targets, observed entries and initialisation
    all change with the seed). Every seed recovers the target from scratch and is damaged by long
    pre-training; the onset of the damage varies with the seed."""
    fig, ax = figure(1, 1, figsize=(4.2, 3.2))
    loss = _with_seed(ds["test_loss"])
    if "depth" in loss.dims:
        loss = loss.sel(depth=loss.depth.max())
    for seed, color in zip(loss.seed.values, _colors(loss.sizes["seed"], "tab10")):
        ax.plot(loss.t_switch.values, _positive(loss.sel(seed=seed)).values, "o-", ms=3.5,
                color=color, label=f"seed {seed}")
    _loss_axes(ax)
    ax.legend(fontsize=7, ncol=2)
    return fig


def fig_flow(ds: xr.Dataset) -> plt.Figure:
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
    ax.plot(x, y, "o-", color="#d62728", label="GD vs flow")
    ax.plot(x, y[-1] * x / x[-1], "k:", lw=0.8, label="slope 1")
    log_axes(ax, xticks=x)
    ax.set_yticks(list(y), [f"{v:.2g}" for v in y])  # the gaps span less than a decade
    ax.set_xlabel("learning rate lr")
    ax.set_ylabel("max relative gap on singular values")
    ax.legend()
    return fig


def fig_flow_appendix(ds: xr.Dataset) -> plt.Figure:
    """Matrix completion, GD against the end-to-end dynamics at the authors' appendix setup (depth 3,
    balanced identity initialisation, lr 0.25). One panel per pre-training length: top singular values
    of W under GD (colour) and under the end-to-end flow stepped by forward Euler with the same step
    (black dashed), against the epoch; the grey line marks the switch from task 1 (rank R1) to task 2
    (rank R2). Log scale: the singular values grow from the initial 0.001 over five orders of magnitude.
    Last panel: the relative gap between the two, largest over singular values, against the epoch."""
    sub = ds.isel(seed=0) if "seed" in ds.dims else ds
    lr = float(ds.attrs["lr"])
    t_sw = sub.t_switch.values
    fig, axes = figure(1, len(t_sw) + 1, figsize=(2.9 * (len(t_sw) + 1), 3.0))
    colors = _colors(sub.sizes["sv"], "summer")
    epochs = sub.time.values / lr
    for ax, ts in zip(axes, t_sw):
        gd, ode = sub["sigma_gd"].sel(t_switch=ts), sub["sigma_ode"].sel(t_switch=ts)
        for r in range(sub.sizes["sv"]):
            ax.plot(epochs, gd.isel(sv=r).values, color=colors[r], lw=1.6)
            ax.plot(epochs, ode.isel(sv=r).values, "k--", lw=0.7)
        ax.axvline(ts / lr, color="0.5", ls="--", lw=0.8)
        log_axes(ax, x=False, y=True)
        _steps_axis(ax)
        ax.set_xlabel("epoch (GD steps)")
        ax.set_title(f"switch after {ts / lr:,.0f} steps", fontsize=9)
    axes[0].set_ylabel("singular values of W")
    ax = axes[-1]
    rel = (abs(sub["sigma_gd"] - sub["sigma_ode"]) / sub["sigma_ode"]).max("sv")
    for ts, color in zip(t_sw, _colors(len(t_sw), "viridis")):
        ax.plot(epochs, rel.sel(t_switch=ts).values, color=color, lw=1.0, label=f"{ts / lr:,.0f}")
    _steps_axis(ax)
    ax.set_xlabel("epoch (GD steps)")
    ax.set_ylabel("max relative gap GD vs Euler flow")
    ax.legend(title="switch after", fontsize=7)
    return fig


for _fn in (fig_depth, fig_rank, fig_observations, fig_init, fig_subset, fig_subset_depth):
    _fn.__doc__ = _fn.__doc__.rstrip() + " With several seeds, " + SEED_BAND + "."
