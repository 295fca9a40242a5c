"""Figures of the multitask-bandit study: one function per figure, Dataset in, Figure out.

Each function's docstring is the figure's caption.  Bound scalings were computed by
:mod:`theory` at simulation time and are read from the Dataset; nothing here simulates.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from theorylab.bandits.model import ALGO_LABELS, DIGIT_LABELS
from theorylab.core.plotting import SEED_BAND, figure, log_axes, ordered_colors, seed_band


def _labels(ds: xr.Dataset) -> dict:
    return DIGIT_LABELS if ds.attrs.get("params_class") == "DigitParams" else ALGO_LABELS
COLORS = {"gfucb": "#d62728", "gfucb_taskwise": "#9467bd", "single": "#1f77b4", "shared_ls": "#ff7f0e", "oracle": "#2ca02c",
          "raw": "#7f7f7f", "shared_mlp": "#d62728", "task_mlp": "#1f77b4"}
CLASS_TITLE = {"finite": "finite class, N maps tanh(W_j x)", "lowrank": "low-rank linear class u^T x",
               "neural": "neural class tanh(w . x)"}


def _title(ds: xr.Dataset) -> str:
    a = ds.attrs
    if a.get("params_class") == "DigitParams":
        return (f"8x8 digits ({a.get('n_images')} images): K = {a.get('arms')} images a round, "
                f"MLP width {a.get('hidden')}, sigma = {a.get('noise')}")
    net = f", net of N = {a.get('n_maps')} maps at eps = {a.get('net_eps')}" if a.get("rep_class") != "finite" \
        and "gfucb" in ds.algorithm.values else ""
    return (f"{CLASS_TITLE.get(a.get('rep_class'), '')}: d = {a.get('dim')}, k = {a.get('rep_dim')}, "
            f"K = {a.get('arms')}, sigma = {a.get('noise')}{net}")


CURVES = ("Per-task cumulative pseudo-regret against rounds T at the largest number of tasks M (left) and at "
          "M = 1 (right); " + SEED_BAND + ". GFUCB keeps one confidence set of multi-head functions for all M "
          "tasks; red: the M tasks play the arm tuple of largest summed optimistic value over it (joint "
          "optimism, our reading of the paper's rule); purple: each task plays its own most optimistic arm over "
          "the same set (task-wise optimism); blue: per-task GFUCB keeps one set per task; OFUL with the known "
          "representation is the floor and OFUL on the raw contexts ignores the shared structure. Every "
          "algorithm sees the same tasks, contexts and noise; at M = 1 the three GFUCB learners coincide.")
VS_M = ("Per-task regret at the horizon T against the number of tasks M (log-log; " + SEED_BAND + "). "
        "Red and purple: GFUCB's joint set with joint and with task-wise optimism. "
        "Dashed: reconstructed scalings anchored at M = 1 on the measured GFUCB value, sqrt(beta_T(M) / M) "
        "for the shared set (black; log N(Phi) paid once for all tasks) and flat for per-task learning "
        "(blue; paid by every task).")


def _regret_curves(ds: xr.Dataset) -> plt.Figure:
    ms = [int(ds.tasks.max()), int(ds.tasks.min())]
    fig, axes = figure(1, 2, figsize=(7.4, 3.2), sharey=True)
    for ax, m in zip(axes, ms):
        sub = ds.sel(tasks=m)
        for algo in ds.algorithm.values:
            seed_band(ax, ds.t.values, sub.regret.sel(algorithm=algo), color=COLORS[str(algo)],
                      label=_labels(ds)[str(algo)])
        ax.set_xlabel("round T (per task)")
        ax.set_title(f"M = {m} task{'s' if m > 1 else ''}")
    axes[0].set_ylabel("cumulative regret per task (reward)")
    # below the panels: inside, the legend would sit on the fast-rising curves
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=3, fontsize=7)
    fig.suptitle(_title(ds), fontsize=9)
    return fig


def fig_regret_vs_T(ds: xr.Dataset) -> plt.Figure:
    """Finite class, regret against T on log-log axes. Left: per-task regret of GFUCB with joint optimism for
    every M (solid, seed means) with the reconstructed scaling sigma sqrt(T d_E beta_T(M) / M) (dashed, same colour, unit constant;
    d_E = k log T holds for a fixed representation, so this is a heuristic scale, not the paper's bound); the
    grey line is slope 1/2. Right: the ratio measured / scaling, which must not grow with T (the slope check
    uses T >= T_max / 8, shaded)."""
    fig, (ax, bx) = figure(1, 2, figsize=(7.4, 3.2))
    ms = ds.tasks.values
    t = ds.t.values
    for m, color in zip(ms, ordered_colors(len(ms))):
        reg = ds.regret.sel(algorithm="gfucb", tasks=m).mean("seed").values
        bound = ds.bound_multitask.sel(tasks=m).isel(seed=0).values
        ax.plot(t, reg, color=color, label=f"M = {int(m)}")
        ax.plot(t, bound, color=color, ls="--", lw=0.9)
        bx.plot(t, reg / bound, color=color, label=f"M = {int(m)}")
    ref = t[t >= 10]
    r_end = float(ds.regret.sel(algorithm="gfucb").isel(t=-1).mean())
    ax.plot(ref, r_end * np.sqrt(ref / t.max()), color="0.6", lw=0.8, label=r"$\propto \sqrt{T}$")
    for a in (ax, bx):
        log_axes(a)
        a.set_xlabel("round T (per task)")
        a.axvspan(t.max() / 8, t.max(), color="0.93", lw=0, zorder=0)
    ax.set_ylabel("cumulative regret per task (reward)")
    bx.set_ylabel("regret / bound scaling")
    ax.legend(loc="upper left", fontsize=7)
    ax.set_title("GFUCB (joint rule) regret, bound scaling (dashed)", fontsize=9)
    bx.set_title("measured / bound scaling", fontsize=9)
    return fig


def _regret_vs_M(ds: xr.Dataset) -> plt.Figure:
    fig, ax = figure(1, 1, figsize=(6.2, 3.3))
    ms = ds.tasks.values
    for algo in ds.algorithm.values:
        seed_band(ax, ms, ds.regret.sel(algorithm=algo).isel(t=-1).transpose("seed", "tasks"),
                  color=COLORS[str(algo)], marker="o", label=_labels(ds)[str(algo)])
    if "gfucb" in ds.algorithm.values:
        anchor = float(ds.regret.sel(algorithm="gfucb", tasks=ms.min()).isel(t=-1).mean())
        bm = ds.bound_multitask.isel(t=-1, seed=0).values
        bs = ds.bound_single.isel(t=-1, seed=0).values
        ax.plot(ms, anchor * bm / bm[0], color="k", ls="--", lw=0.9, label="scaling, shared set")
        ax.plot(ms, anchor * bs / bs[0], color=COLORS["single"], ls="--", lw=0.9, label="scaling, per-task sets")
    log_axes(ax, base=2, xticks=[int(m) for m in ms])
    ax.set_xlabel("number of tasks M")
    ax.set_ylabel(f"regret per task at T = {int(ds.t.max())} (reward)")
    fig.suptitle(_title(ds), fontsize=8)     # centred on the figure: the axes alone are narrower than the title
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return fig


def fig_elimination(ds: xr.Dataset) -> plt.Figure:
    """Finite class: number of maps with non-negative slack in GFUCB's confidence set against T (mean over
    tasks and seeds), for the joint set of all M tasks (solid; the run with joint optimism) and per-task sets
    (dashed), for every M. The
    joint set sums the M tasks' least-squares losses, so wrong maps leave sooner as M grows; a task alone
    keeps them longer."""
    fig, ax = figure(1, 1, figsize=(4.2, 3.2))
    ms = ds.tasks.values
    for m, color in zip(ms, ordered_colors(len(ms))):
        for algo, ls in (("gfucb", "-"), ("single", "--")):
            alive = ds.n_alive.sel(algorithm=algo, tasks=m).mean("seed")
            ax.plot(ds.t, alive, color=color, ls=ls, label=f"M = {int(m)}" if algo == "gfucb" else None)
    ax.plot([], [], color="k", ls="-", label="joint set (GFUCB, joint rule)")
    ax.plot([], [], color="k", ls="--", label="per task")
    log_axes(ax)
    ax.set_xlabel("round T (per task)")
    ax.set_ylabel("maps in the confidence set")
    ax.set_title(f"N = {ds.attrs.get('candidates')} candidate representations", fontsize=9)
    ax.legend(fontsize=7)
    return fig


# --- one figure per experiment (the file name is the variable's name, the caption its docstring) ----------

def _captioned(draw, caption: str):
    """A figure function drawing ``draw(ds)`` under its own caption."""
    def fig(ds: xr.Dataset) -> plt.Figure:
        return draw(ds)
    fig.__doc__ = caption
    return fig


fig_finite_regret_curves = _captioned(_regret_curves, (
    "Finite class of N nonlinear maps tanh(W_j x), enumerated exactly. " + CURVES))
fig_finite_regret_vs_M = _captioned(_regret_vs_M, (
    "Finite class. " + VS_M + " Sharing the confidence set pays off as M grows with joint optimism; with "
    "task-wise optimism it does not (each task's bonus carries the slack of all M tasks), nor do per-task sets."))
fig_lowrank_regret_curves = _captioned(_regret_curves, (
    "Low-rank linear class u^T x, |u| = 1 (d = 4, k = 1): GFUCB's set is kept exactly on an eps-net of the lines "
    "of R^d, whose log-size and discretisation slack enter its radius. " + CURVES + " Orange: shared "
    "least-squares UCB, one u fitted by least squares on all tasks' data with OFUL on top and no representation "
    "term in its bonus (a baseline, not GFUCB). OFUL on raw contexts is realisable here but pays for all d "
    "dimensions in every task."))
fig_lowrank_regret_vs_M = _captioned(_regret_vs_M, (
    "Low-rank linear class on an eps-net. " + VS_M + " log N(Phi) is the log of the net's size. Here task-wise "
    "optimism gains with M and joint optimism does not (it explores whole wrong maps across all tasks)."))
fig_neural_regret_curves = _captioned(_regret_curves, (
    "Neural-net representation tanh(w . x), |w| <= 1.5 (d = 3, k = 1) on synthetic Gaussian contexts: GFUCB's "
    "set is kept exactly on an eps-net of the ball. " + CURVES + " Orange: shared least-squares UCB "
    "(Gauss-Newton fit of one w, OFUL on top; a baseline, not GFUCB)."))
fig_neural_regret_vs_M = _captioned(_regret_vs_M, (
    "Neural-net representation tanh(w . x) on an eps-net. " + VS_M + " log N(Phi) is the log of the net's size. "
    "Here task-wise optimism gains with M and joint optimism does not."))
fig_digits_regret_curves = _captioned(_regret_curves, (
    "Digit-classification bandit on scikit-learn's bundled 8x8 digits: each round a task is offered K images "
    "and task i's reward of a digit of class c is v_ic + noise (v_i uniform in [0, 1]^10). Per-task cumulative "
    "pseudo-regret against T at the largest M (left) and M = 1 (right); " + SEED_BAND + ". Red: UCB on one MLP "
    "representation tanh(W1 x + b1) fitted on all tasks' data; blue: the same with one MLP per task; green: "
    "OFUL on the true class (known representation); grey: OFUL on raw pixels."))
fig_digits_regret_vs_M = _captioned(_regret_vs_M, (
    "Digit bandit: per-task regret at the horizon against the number of tasks M (log-log; " + SEED_BAND + "). "
    "The shared MLP learns the image representation from all M tasks' data; per-task MLPs each learn it alone."))
