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

from theorylab.core.plotting import figure, log_axes
from theorylab.deeplinear import theory

MODE_COLORS = plt.get_cmap("tab10").colors
PATHWAY_COLORS = {"a": "#1f77b4", "b": "#d62728"}


def _mode_groups(s: np.ndarray) -> list[tuple[float, list[int], tuple]]:
    """Modes grouped by singular value (degenerate modes share it), strongest first, one colour each."""
    values = sorted({round(float(v), 9) for v in s}, reverse=True)
    groups = []
    for i, value in enumerate(values):
        modes = [m for m in range(s.size) if round(float(s[m]), 9) == value]
        groups.append((value, modes, MODE_COLORS[i % 10]))
    return groups


def _mode_label(value: float, modes: list[int]) -> str:
    names = f"mode {modes[0]}" if len(modes) == 1 else f"modes {modes[0]}-{modes[-1]}"
    return f"{names} (s={value:.2f})"


def _mode_color(s: np.ndarray, m: int):
    return next(color for _, modes, color in _mode_groups(s) if m in modes)


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
    distinct singular value of Sigma_yx (degenerate modes 2-3 and 4-7 share theirs); dashed black: scipy gradient flow from the same initialisation. An early deficit
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
            color = _mode_color(s, m)
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
    handles += [plt.Line2D([], [], color=color, label=_mode_label(value, modes))
                for value, modes, color in _mode_groups(s)]
    np.atleast_1d(axes)[len(onsets) // 2].legend(handles=handles, loc="upper right", fontsize=7)
    return fig


def fig3_lesion(ds: xr.Dataset) -> plt.Figure:
    """Competition allocates features (depth 3). Pathway b is frozen for the first 200 epochs (grey) and
    pathway a cannot represent mode 1. Left: modes 0-4 under GD (x: a, +: b; one colour per distinct
    singular value) with gradient flow (dashed; the lesioned mode in its colour). Right: final U^T Omega_p V of each pathway in the SVD basis. Once
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
    labelled = set()
    for m in range(5):
        color = _mode_color(s, m)
        group = next(g for g in _mode_groups(s) if m in g[1])
        shown = [k for k in group[1] if k < 5]
        label = None
        if group[0] not in labelled:
            labelled.add(group[0])
            label = _mode_label(group[0], shown) + (" (lesioned in a)" if m == mode else "")
        ax.plot(sub.epoch[marks], sub.K.sel(pathway="a", mode=m)[marks], "x", ms=4, color=color)
        ax.plot(sub.epoch[marks], sub.K.sel(pathway="b", mode=m)[marks], "+", ms=5, color=color,
                label=label)
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
        ax.plot(lrs, errors, "o-", label=f"D = {depth}")
    ref = errors[0] * lrs / lrs[0]
    ax.plot(lrs, ref, "k:", label="slope 1")
    ticks = [lrs[0]]
    for lr in lrs[1:]:
        if lr >= 1.5 * ticks[-1]:  # labels of steps closer than that would overlap
            ticks.append(lr)
    log_axes(ax, xticks=ticks)
    ax.set_xlabel("learning rate (Euler step)")
    ax.set_ylabel(r"max $|K_{GD} - K_{flow}|$")
    ax.legend(loc="upper left", fontsize=7)
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


def fig11_12_nonlinear(ds: xr.Dataset) -> plt.Figure:
    """Deficits in nonlinear two-pathway networks (depth 3, an activation after every layer, the output
    layer included). Rows: linear control, tanh (Fig. 11), ReLU (Fig. 12); columns: pathway b frozen
    during the early, middle or late grey window. Markers joined by thin lines: GD, K_a (x) and K_b (+)
    every 35 epochs, measured from the responses to the 8 items projected on the singular vectors of
    Sigma_yx; one colour per distinct singular value. tanh keeps the linear picture (early deficit:
    pathway a takes every feature; middle: only the weak ones; late: even split). With ReLU the early
    deficit is as decisive, but after a middle deficit even the strong features are no longer split
    evenly."""
    sub = ds.isel(seed=0)
    lr = float(ds.attrs["lr"])
    length = float(ds.attrs["deficit_length"])
    acts = list(sub.activation.values)
    onsets = sub.deficit_onset.values
    s = sub.s.values
    fig, axes = figure(len(acts), len(onsets), figsize=(3.2 * len(onsets), 2.6 * len(acts)),
                       sharex=True, sharey=True, squeeze=False)
    marks = slice(None, None, 35)
    for i, act in enumerate(acts):
        for j, onset in enumerate(onsets):
            ax = axes[i, j]
            run = sub.sel(activation=act, deficit_onset=onset)
            epochs = run.epoch.values
            _shade(ax, onset / lr, (onset + length) / lr)
            for m in range(s.size):
                color = _mode_color(s, m)
                for pathway, marker, ms in (("a", "x", 4), ("b", "+", 5)):
                    k = run.K.sel(pathway=pathway, mode=m).values[marks]
                    ax.plot(epochs[marks], k, marker=marker, ms=ms, lw=0.5, color=color, alpha=0.85)
            ax.set_title(f"{act}, {_deficit_label(onset, float(run.time[-1]))} deficit", fontsize=9)
            if i == len(acts) - 1:
                ax.set_xlabel("epoch (GD update)")
            if j == 0:
                ax.set_ylabel(r"$K_\alpha$ (responses)")
    handles = [plt.Line2D([], [], ls="", marker="x", color="k", label="pathway a"),
               plt.Line2D([], [], ls="", marker="+", color="k", label="pathway b")]
    handles += [plt.Line2D([], [], color=color, label=_mode_label(value, modes))
                for value, modes, color in _mode_groups(s)]
    fig.legend(handles=handles, loc="outside right center", fontsize=7)
    return fig
