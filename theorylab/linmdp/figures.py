"""Figures of the linear-MDP study: one function per figure, Dataset in, Figure out.

Each function's docstring is the figure's caption; nothing here simulates.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from theorylab.core.plotting import SEED_BAND, figure, log_axes, ordered_colors, seed_band
from theorylab.linmdp.model import ALGO_LABELS

COLORS = {"shared": "#d62728", "single": "#1f77b4", "oracle": "#2ca02c", "tabular": "#7f7f7f"}


def _title(ds: xr.Dataset) -> str:
    a = ds.attrs
    return (f"S = {a.get('states')}, A = {a.get('actions')}, H = {a.get('horizon')}, k = {a.get('rep_dim')}, "
            f"N = {a.get('candidates')} maps")


def fig_regret_curves(ds: xr.Dataset) -> plt.Figure:
    fig, axes = figure(1, 2, figsize=(7.4, 3.3), sharey=True)
    for ax, m in zip(axes, [int(ds.tasks.max()), int(ds.tasks.min())]):
        sub = ds.sel(tasks=m)
        for algo in ds.algorithm.values:
            # dashed per-task learner: at M = 1 it lies exactly on the shared learner
            seed_band(ax, ds.episode.values, sub.regret.sel(algorithm=algo), color=COLORS[str(algo)],
                      label=ALGO_LABELS[str(algo)], ls="--" if algo == "single" else "-")
        ax.set_xlabel("episode K (per task)")
        ax.set_title(f"M = {m} task{'s' if m > 1 else ''}")
    axes[0].set_ylabel("cumulative regret per task (return)")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=2)
    fig.suptitle(_title(ds), fontsize=9)
    return fig


fig_regret_curves.__doc__ = (
    "Per-task cumulative regret against episodes K at the largest number of tasks M (left) and at M = 1 "
    "(right); " + SEED_BAND + ". Regret is exact: the value of every episode's greedy policy is computed by "
    "dynamic programming. The shared learner selects the feature map with all M tasks' data; the per-task "
    "learner runs the same rule on each task alone (at M = 1 the two coincide); LSVI-UCB with the known map "
    "is the floor, and LSVI-UCB on one-hot (s, a) features assumes no representation. Every learner faces the "
    "same tasks and random numbers.")


def fig_regret_vs_M(ds: xr.Dataset) -> plt.Figure:
    fig, ax = figure(1, 1, figsize=(6.4, 3.3))
    ms = ds.tasks.values
    for algo in ds.algorithm.values:
        seed_band(ax, ms, ds.regret.sel(algorithm=algo).isel(episode=-1).transpose("tasks", "seed"),
                  color=COLORS[str(algo)], label=ALGO_LABELS[str(algo)], marker="o")
    log_axes(ax, base=10, xticks=ms)
    ax.set_xlabel("number of tasks M")
    ax.set_ylabel(f"regret per task at K = {int(ds.episode.max())} (return)")
    ax.set_title(_title(ds), fontsize=8)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return fig


fig_regret_vs_M.__doc__ = (
    "Per-task regret after K episodes against the number of tasks M (log-log); " + SEED_BAND + ". Pooling "
    "the representation test over tasks removes wrong feature maps sooner as M grows, so the shared learner's "
    "regret per task falls; learners that work task by task do not improve with M.")


def fig_confidence_set(ds: xr.Dataset) -> plt.Figure:
    fig, (ax, bx) = figure(1, 2, figsize=(7.4, 3.2))
    ms = ds.tasks.values
    ep = ds.episode.values
    for m, color in zip(ms, ordered_colors(len(ms))):
        for algo, ls in (("shared", "-"), ("single", "--")):
            sub = ds.sel(tasks=m, algorithm=algo)
            label = f"M = {int(m)}" if algo == "shared" else None
            ax.plot(ep, sub.n_kept.mean("seed"), color=color, ls=ls, label=label)
            bx.plot(ep, sub.frac_true.mean("seed"), color=color, ls=ls, label=label)
    for a in (ax, bx):
        a.plot([], [], color="k", ls="-", label="shared")
        a.plot([], [], color="k", ls="--", label="per task")
        a.set_xlabel("episode K (per task)")
    log_axes(ax)
    log_axes(bx, y=False)
    ax.set_ylabel("feature maps in the confidence set")
    bx.set_ylabel("fraction of episodes on the true map")
    bx.set_ylim(0, 1.02)
    ax.set_title(f"N = {ds.attrs.get('candidates')} candidate maps", fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
    return fig


fig_confidence_set.__doc__ = (
    "Left: number of feature maps left in the representation confidence set against K (mean over tasks and "
    "seeds) for the shared test (solid) and per-task tests (dashed), for every M. Right: fraction of the "
    "episodes so far played on the true map phi*. The shared test sums the M tasks' least-squares losses of the "
    "reward and next-state indicators, so wrong maps leave sooner as M grows; a task alone keeps them longer.")


def fig_dp_vs_mc(ds: xr.Dataset) -> plt.Figure:
    fig, (ax, bx) = figure(1, 2, figsize=(7.4, 3.2))
    algos = [str(a) for a in ds.algorithm.values]
    for algo in algos:
        sub = ds.sel(algorithm=algo)
        ax.scatter(sub.dp_value.values.ravel(), sub.mc_return.values.ravel(), s=9, color=COLORS[algo],
                   label=ALGO_LABELS[algo], alpha=0.8)
    lo = float(min(ds.dp_value.min(), ds.mc_return.min()))
    hi = float(max(ds.dp_value.max(), ds.mc_return.max()))
    ax.plot([lo, hi], [lo, hi], color="k", lw=0.8, label="equal")
    ax.set_xlabel("mean exact value of the played policies (DP)")
    ax.set_ylabel("mean realised return (Monte Carlo)")
    ax.legend(fontsize=6.5, loc="upper left")
    ms = ds.tasks.values
    width = 0.8 / len(algos)
    for c, algo in enumerate(algos):
        sub = ds.sel(algorithm=algo)
        z = (sub.mc_gap_sum.sum("seed") / np.sqrt(sub.mc_gap_sq.sum("seed"))).values
        bx.bar(np.arange(len(ms)) + (c - (len(algos) - 1) / 2) * width, z, width=width, color=COLORS[algo])
    for v in (-2, 2):
        bx.axhline(v, color="0.5", lw=0.8, ls=":")
    bx.axhline(0, color="k", lw=0.6)
    bx.set_xticks(np.arange(len(ms)), [str(int(m)) for m in ms])
    bx.set_xlabel("number of tasks M")
    bx.set_ylabel("z = sum(return - value) / sqrt(sum of squares)")
    return fig


fig_dp_vs_mc.__doc__ = (
    "Ground truth check. Left: for every learner, M and seed, the mean realised return per episode (Monte Carlo) "
    "against the mean exact value rho.V^pi of the same episodes' policies (dynamic programming); the black line "
    "is equality. Right: the self-normalised sum z of return minus value over all episodes, tasks and seeds per "
    "M (bars in the left panel's colours), approximately standard normal when the exact values are right; "
    "dotted lines at +-2. The learners share their random numbers, so their bars at one M move together.")


def fig_misspecified_regret_vs_M(ds: xr.Dataset) -> plt.Figure:
    fig = fig_regret_vs_M(ds)
    fig.axes[0].set_title(_title(ds) + f", eps = {ds.attrs.get('misspec')}", fontsize=8)
    return fig


fig_misspecified_regret_vs_M.__doc__ = (
    "Low but nonzero inherent Bellman error: every task mixes weight eps = 0.05 of an arbitrary tabular MDP into "
    "the linear one (inherent Bellman error of phi* at most eps H / 2 = 0.125). Per-task regret after K "
    "episodes against M (log-log); " + SEED_BAND + ". The representation test's threshold assumes eps = 0; "
    "the ordering of the learners is that of the exact case.")
