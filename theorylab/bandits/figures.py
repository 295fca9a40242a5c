"""Figures of the multitask-bandit study: one function per figure, Dataset in, Figure out.

Each function's docstring is the figure's caption.  Bound scalings were computed by
:mod:`theory` at simulation time and are read from the Dataset; nothing here simulates.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.ticker import FuncFormatter

from theorylab.bandits.model import ALGO_LABELS
from theorylab.core.plotting import figure

COLORS = {"gfucb": "#d62728", "single": "#1f77b4", "oracle": "#2ca02c", "raw": "#7f7f7f"}
CLASS_TITLE = {"finite": "finite class, N maps tanh(W_j x)", "lowrank": "low-rank linear class B^T x",
               "neural": "neural class tanh(W x)"}


def _plain_log_y(ax) -> None:
    """Log y axis with plain decimal tick labels (20, 50, 0.2) instead of powers of ten."""
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda y, _: f"{y:g}" if f"{y:.1g}"[0] in "25" else ""))


def _mean_se(da: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    n = da.sizes["seed"]
    return da.mean("seed").values, (da.std("seed", ddof=1).values / np.sqrt(n) if n > 1 else 0 * da.mean("seed").values)


def _title(ds: xr.Dataset) -> str:
    a = ds.attrs
    return (f"{CLASS_TITLE.get(a.get('rep_class'), '')}: d = {a.get('dim')}, k = {a.get('rep_dim')}, "
            f"K = {a.get('arms')}, sigma = {a.get('noise')}")


CURVES = ("Per-task cumulative pseudo-regret against rounds T at the largest number of tasks M (left) and at "
          "M = 1 (right), mean over seeds with +-1 standard error bands. GFUCB learns one representation from "
          "all M tasks; per-task GFUCB learns it from each task alone; OFUL with the known representation is the "
          "floor and OFUL on the raw contexts ignores the shared structure. Every algorithm sees the same tasks, "
          "contexts and noise; at M = 1 the two GFUCB variants coincide.")
VS_M = ("Per-task regret at the horizon T against the number of tasks M (log-log, mean +- standard error over "
        "seeds). Dashed: the bound scalings anchored at M = 1 on the measured GFUCB value, sqrt(beta_T(M) / M) "
        "for the shared representation (log N(Phi) paid once for all tasks) and flat for per-task learning "
        "(paid by every task).")


def _regret_curves(ds: xr.Dataset) -> plt.Figure:
    ms = [int(ds.tasks.max()), int(ds.tasks.min())]
    fig, axes = figure(1, 2, figsize=(7.4, 3.2), sharey=True)
    for ax, m in zip(axes, ms):
        sub = ds.sel(tasks=m)
        for algo in ds.algorithm.values:
            mean, se = _mean_se(sub.regret.sel(algorithm=algo))
            ax.plot(ds.t, mean, color=COLORS[str(algo)], label=ALGO_LABELS[str(algo)])
            ax.fill_between(ds.t, mean - se, mean + se, color=COLORS[str(algo)], alpha=0.2, lw=0)
        ax.set_xlabel("round T (per task)")
        ax.set_title(f"M = {m} task{'s' if m > 1 else ''}")
    axes[0].set_ylabel("cumulative regret per task (reward)")
    # below the panels: inside, the legend would sit on the fast-rising curves
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=2)
    fig.suptitle(_title(ds), fontsize=9)
    return fig


def fig_regret_vs_T(ds: xr.Dataset) -> plt.Figure:
    """Regret against T on log-log axes. Left: GFUCB's per-task regret for every M (solid) with the M-head
    bound's scaling sigma sqrt(T d_E beta_T(M) / M) (dashed, same colour, unit constant, so every curve must stay
    below its dashed line); the grey line is slope 1/2. Right: the ratio measured / bound scaling, which
    must not grow with T (seed means; the slope check uses T >= T_max / 8, shaded)."""
    fig, (ax, bx) = figure(1, 2, figsize=(7.4, 3.2))
    cmap = plt.get_cmap("viridis")
    ms = ds.tasks.values
    t = ds.t.values
    for c, m in enumerate(ms):
        color = cmap(c / max(1, len(ms) - 1) * 0.9)
        reg = ds.regret.sel(algorithm="gfucb", tasks=m).mean("seed").values
        bound = ds.bound_multitask.sel(tasks=m).isel(seed=0).values
        ax.plot(t, reg, color=color, label=f"M = {int(m)}")
        ax.plot(t, bound, color=color, ls="--", lw=0.9)
        bx.plot(t, reg / bound, color=color, label=f"M = {int(m)}")
    ref = t[t >= 10]
    r_end = float(ds.regret.sel(algorithm="gfucb").isel(t=-1).mean())
    ax.plot(ref, r_end * np.sqrt(ref / t.max()), color="0.6", lw=0.8, label=r"$\propto \sqrt{T}$")
    for a in (ax, bx):
        a.set_xscale("log")
        _plain_log_y(a)
        a.set_xlabel("round T (per task)")
        a.axvspan(t.max() / 8, t.max(), color="0.93", lw=0, zorder=0)
    ax.set_ylabel("cumulative regret per task (reward)")
    bx.set_ylabel("regret / bound scaling")
    ax.legend(loc="upper left", fontsize=7)
    ax.set_title("GFUCB regret and bound scaling (dashed)")
    bx.set_title("measured / bound scaling")
    return fig


def _regret_vs_M(ds: xr.Dataset) -> plt.Figure:
    fig, ax = figure(1, 1, figsize=(6.2, 3.3))
    ms = ds.tasks.values
    for algo in ds.algorithm.values:
        mean, se = _mean_se(ds.regret.sel(algorithm=algo).isel(t=-1))
        ax.errorbar(ms, mean, yerr=se, color=COLORS[str(algo)], marker="o", ms=3.5, capsize=2,
                    label=ALGO_LABELS[str(algo)])
    anchor = float(ds.regret.sel(algorithm="gfucb", tasks=ms.min()).isel(t=-1).mean())
    bm = ds.bound_multitask.isel(t=-1, seed=0).values
    bs = ds.bound_single.isel(t=-1, seed=0).values
    ax.plot(ms, anchor * bm / bm[0], color=COLORS["gfucb"], ls="--", lw=0.9, label="bound scaling, shared")
    ax.plot(ms, anchor * bs / bs[0], color=COLORS["single"], ls="--", lw=0.9, label="bound scaling, per task")
    ax.set_xscale("log", base=2)
    _plain_log_y(ax)
    ax.set_xticks(ms, [str(int(m)) for m in ms])
    ax.set_xlabel("number of tasks M")
    ax.set_ylabel(f"regret per task at T = {int(ds.t.max())} (reward)")
    ax.set_title(_title(ds), fontsize=8)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return fig


def fig_elimination(ds: xr.Dataset) -> plt.Figure:
    """Finite class: number of representations left in the confidence set against T (mean over tasks and
    seeds), for GFUCB's shared test (solid) and per-task tests (dashed), for every M. The shared test sums
    the M tasks' least-squares losses, so wrong maps leave sooner as M grows; a task alone keeps them."""
    fig, ax = figure(1, 1, figsize=(4.2, 3.2))
    cmap = plt.get_cmap("viridis")
    ms = ds.tasks.values
    for c, m in enumerate(ms):
        color = cmap(c / max(1, len(ms) - 1) * 0.9)
        for algo, ls in (("gfucb", "-"), ("single", "--")):
            alive = ds.n_alive.sel(algorithm=algo, tasks=m).mean("seed")
            ax.plot(ds.t, alive, color=color, ls=ls, label=f"M = {int(m)}" if algo == "gfucb" else None)
    ax.plot([], [], color="k", ls="-", label="shared (GFUCB)")
    ax.plot([], [], color="k", ls="--", label="per task")
    ax.set_xscale("log")
    _plain_log_y(ax)
    ax.set_xlabel("round T (per task)")
    ax.set_ylabel("maps in the confidence set")
    ax.set_title(f"N = {ds.attrs.get('candidates')} candidate representations", fontsize=9)
    ax.legend(fontsize=7)
    return fig


# --- one figure per experiment (the file name is the function name) ----------------------------------

def fig_finite_regret_curves(ds: xr.Dataset) -> plt.Figure:
    return _regret_curves(ds)


def fig_finite_regret_vs_M(ds: xr.Dataset) -> plt.Figure:
    return _regret_vs_M(ds)


def fig_lowrank_regret_curves(ds: xr.Dataset) -> plt.Figure:
    return _regret_curves(ds)


def fig_lowrank_regret_vs_M(ds: xr.Dataset) -> plt.Figure:
    return _regret_vs_M(ds)


def fig_neural_regret_curves(ds: xr.Dataset) -> plt.Figure:
    return _regret_curves(ds)


def fig_neural_regret_vs_M(ds: xr.Dataset) -> plt.Figure:
    return _regret_vs_M(ds)


fig_finite_regret_curves.__doc__ = ("Finite class of N nonlinear maps tanh(W_j x), enumerated exactly. " + CURVES)
fig_finite_regret_vs_M.__doc__ = ("Finite class. " + VS_M + " Sharing the elimination test pays off as M "
                                  "grows; eliminating alone does not.")
fig_lowrank_regret_curves.__doc__ = ("Low-rank linear class B^T x (the representation is a least-squares fit "
                                     "of B, refitted on a schedule). " + CURVES + " OFUL on raw contexts is "
                                     "realisable here but pays for all d dimensions in every task.")
fig_lowrank_regret_vs_M.__doc__ = ("Low-rank linear class. " + VS_M + " log N(Phi) ~ d k log T for this class.")
fig_neural_regret_curves.__doc__ = ("Neural-net representation tanh(W x) on synthetic Gaussian contexts (the "
                                    "setting of the paper's experiment, which used MNIST). " + CURVES)
fig_neural_regret_vs_M.__doc__ = ("Neural-net representation tanh(W x). " + VS_M + " log N(Phi) ~ d k log T "
                                  "(parameter count) for this class.")
