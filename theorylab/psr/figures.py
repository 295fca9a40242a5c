"""Figures of the PSR study: one function per figure, Dataset in, Figure out.

Each function's docstring is the figure's caption.  The paper has no figures (it is theory
only); these show our simulation with the bound's scaling overlaid.  Nothing here simulates.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from theorylab.core.plotting import figure
from theorylab.psr.claims import (OMLE, UMT, bootstrap_crossings, bootstrap_interval, episodes_to_epsilon,
                                  fit_window, one_seed)

LEARNER_STYLE = {UMT: ("#1f77b4", "UMT-PSR (joint class)"), OMLE: ("#d62728", "OMLE per task")}
FAMILY_STYLE = {"transition": ("-", "common transition"), "emission": ("--", "common emission")}
LEVEL_NAME = {"transition": "alpha", "emission": "p"}   # the task-specific parameter of each family


def _rate_constant(gap: np.ndarray, k: np.ndarray, radius: float) -> float:
    """c in gap ~ c sqrt(radius / k), fitted (median) over the claims' fit window."""
    window = fit_window(k)
    return float(np.median(gap[window] * np.sqrt(k[window] / radius)))


# --- bracketing --------------------------------------------------------------------------------------

def fig_bracketing(ds: xr.Dataset) -> plt.Figure:
    """Bracketing numbers of the joint and product classes. Left: log N_eta against the number of tasks N for the
    common-transition family, joint class {(theta[s, t_1], ..., theta[s, t_N])} (solid, slope log g_t) against the
    product of N single-task classes (dashed, slope log(g_s g_t)); the smallest eta lies below the exact class
    separation, where N_eta is the class size; larger eta use the greedy bracket cover along the shared grid (an
    upper bound). Middle: greedy cover count of the shared parameter against eta for both families, with a 1/eta
    reference. Right: policy-maximised L1 distance ||P_theta - P_theta'||_inf^p between neighbouring grid points
    theta[s, t], theta[s + 1, t] for each task-specific level (identifiability; minimum = class separation)."""
    ds = one_seed(ds)
    fig, axes = figure(1, 3, figsize=(11.0, 3.4))
    ax = axes[0]
    sub = ds.sel(family="transition") if "family" in ds.dims else ds
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, sub.sizes["eta"]))
    for color, eta in zip(colors, sub.eta.values):
        tag = "exact" if bool(sub.exact.sel(eta=eta)) else "upper bound"
        ax.plot(sub.tasks, sub.log_joint.sel(eta=eta), color=color, label=f"eta = {eta:g} ({tag})")
        ax.plot(sub.tasks, sub.log_product.sel(eta=eta), color=color, ls="--")
    ax.plot([], [], color="0.3", label="joint class")
    ax.plot([], [], color="0.3", ls="--", label="product of single-task classes")
    ax.set_xlabel("number of tasks N")
    ax.set_xticks([1, 4, 8, 12, 16])
    ax.set_ylabel(r"$\log N_\eta$ (nats)")
    ax.set_title("common transition kernel")
    ax.legend(fontsize=7)

    ax = axes[1]
    families = ds.family.values if "family" in ds.dims else [ds.attrs["family"]]
    for family in families:
        f = ds.sel(family=family) if "family" in ds.dims else ds
        coarse = ~f.exact.values
        ls, label = FAMILY_STYLE[str(family)]
        ax.plot(f.eta.values[coarse], f.shared_groups.values[coarse], "o", ls=ls, color="k", label=label)
    f = ds.isel(family=0) if "family" in ds.dims else ds
    coarse = ~f.exact.values
    e = f.eta.values[coarse]
    ax.plot(e, f.shared_groups.values[coarse][-1] * e[-1] / e, color="0.6", lw=3, alpha=0.5, zorder=0,
            label=r"$\propto 1/\eta$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"bracket width $\eta$")
    ax.set_ylabel("brackets of the shared parameter")
    ax.set_title("shared part of the count")
    ax.legend()

    ax = axes[2]
    for family in families:
        f = ds.sel(family=family) if "family" in ds.dims else ds
        ls, label = FAMILY_STYLE[str(family)]
        for j, level in enumerate(f.level.values):
            ax.plot(f.shared_pair, f.neighbor_distance.isel(level=j), ls=ls, color=plt.get_cmap("tab10")(j),
                    label=f"{label}, {LEVEL_NAME[str(family)]} = {level:g}")
        ax.axhline(float(f.separation), ls=ls, color="0.5", lw=0.8)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("shared parameter (p or alpha)")
    ax.set_ylabel(r"$\|P_{s,t} - P_{s+1,t}\|_\infty^p$")
    ax.set_title("neighbouring candidates (grey: separation)")
    ax.legend(fontsize=6)
    return fig


# --- upstream ----------------------------------------------------------------------------------------

def fig_sample_complexity(ds: xr.Dataset) -> plt.Figure:
    """Episodes per task needed to bring the optimistic gap (the suboptimality bound, mean over tasks and seeds) to
    epsilon, against the number of tasks N, for UMT-PSR over the joint class and for single-task OMLE on each
    task; bars: 95% bootstrap over seeds (the resamples of the claims' check; a resample that never reaches
    epsilon counts as needing more episodes than the run holds, and an arrow marks an upper end beyond the run).
    Dotted: the bound's scaling, episodes proportional to the per-task radius
    beta_joint / N = (log g_s + log 1/delta) / N + log g_t (UMT-PSR) or beta_single = log(g_s g_t N / delta)
    (OMLE), with the constant fitted at N = 1 (where the two learners coincide)."""
    eps = float(ds.attrs["epsilon"])
    x = ds.episodes.values
    n = ds.tasks.values
    learners = [str(lr) for lr in ds.learner.values]
    fig, ax = figure(figsize=(4.4, 3.4))
    mid = np.array([[episodes_to_epsilon(ds.gap.sel(tasks=N, learner=lr), x, eps) for lr in learners] for N in n])
    boots = [bootstrap_crossings([ds.gap.sel(tasks=N, learner=lr) for lr in learners], x, eps, seed=int(N))
             for N in n]
    lo, hi = (np.array(end) for end in zip(*map(bootstrap_interval, boots)))
    measured = {}
    for j, learner in enumerate(learners):
        color, label = LEARNER_STYLE[learner]
        m = np.where(np.isfinite(mid[:, j]), mid[:, j], np.nan)     # never reached: no point
        measured[learner] = m
        down = np.where(np.isfinite(lo[:, j]), m - lo[:, j], np.nan)
        up = np.where(np.isfinite(hi[:, j]), hi[:, j] - m, 0.0)
        ax.errorbar(n, m, yerr=[down, up], color=color, marker="o", capsize=2, label=label)
        for N, y in zip(n[~np.isfinite(hi[:, j])], m[~np.isfinite(hi[:, j])]):
            ax.annotate("", xy=(N, 0.97), xycoords=("data", "axes fraction"), xytext=(N, y), textcoords="data",
                        arrowprops={"arrowstyle": "->", "color": color, "lw": 1.5})
    radius = ds.beta_per_task.isel(seed=0)
    c = measured[UMT][0] / float(radius.sel(tasks=n[0], learner=UMT))
    for learner in ds.learner.values:
        color, _ = LEARNER_STYLE[str(learner)]
        ax.plot(n, c * radius.sel(learner=learner).values, ls=":", color=color, lw=1.2)
    ax.plot([], [], ls=":", color="0.3", label=r"bound scaling $\propto \beta/N$ (UMT), $\beta$ (OMLE)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(n, [str(v) for v in n])
    ax.set_yscale("log")
    ax.set_xlabel("number of tasks N")
    ax.set_ylabel(f"episodes per task to gap <= {eps:g}")
    ax.legend(fontsize=7)
    return fig


def fig_suboptimality(ds: xr.Dataset) -> plt.Figure:
    """Learning curves against episodes per task, mean over tasks and seeds, for N = 1 and the largest N. Left: the
    optimistic gap V_bar(pi_k) - V(pi_k), which bounds the suboptimality whenever the truth is in the confidence
    set; dotted: c sqrt(beta_per_task / k) with one constant c fitted on N = 1 (slope -1/2, offset set by the
    per-task radius beta / N or beta). Right: realised suboptimality V* - V(pi_k) of the optimistic policy (returns
    in [0, H])."""
    fig, axes = figure(1, 2, figsize=(8.6, 3.4))
    k = ds.iteration.values[1:]
    x = ds.episodes.values[1:]
    shown = sorted({int(ds.tasks.values[0]), int(ds.tasks.values[-1])})
    radius = ds.beta_per_task.isel(seed=0)
    first = ds.gap.sel(tasks=shown[0], learner=UMT).mean("seed").values[1:]
    c = _rate_constant(first, k, float(radius.sel(tasks=shown[0], learner=UMT)))
    for N, ls in zip(shown, ("--", "-")):
        for learner in ds.learner.values:
            if N == 1 and learner == OMLE:
                continue     # identical to UMT-PSR at N = 1
            color, label = LEARNER_STYLE[str(learner)]
            name = "N = 1" if N == 1 else f"{label}, N = {N}"
            gap = ds.gap.sel(tasks=N, learner=learner).mean("seed").values[1:]
            sub = ds.subopt.sel(tasks=N, learner=learner).mean("seed").values[1:]
            col = "0.2" if N == 1 else color
            axes[0].plot(x, gap, ls=ls, color=col, label=name)
            axes[0].plot(x, c * np.sqrt(float(radius.sel(tasks=N, learner=learner)) / k), ls=":", color=col, lw=1)
            axes[1].plot(x, sub, ls=ls, color=col, label=name)
    axes[0].plot([], [], ls=":", color="0.3", label=r"$c\sqrt{\beta_{\rm task}/k}$")
    axes[0].set_xscale("log")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("episodes per task")
    axes[0].set_ylabel("optimistic gap (return units)")
    axes[0].legend(fontsize=7)
    axes[1].set_xscale("log")
    axes[1].set_xlabel("episodes per task")
    axes[1].set_ylabel(r"suboptimality $V^* - V^{\pi_k}$ (return units)")
    axes[1].legend(fontsize=7)
    return fig


# --- downstream --------------------------------------------------------------------------------------

def fig_transfer(ds: xr.Dataset) -> plt.Figure:
    """Downstream learning of a new target task (its own emission accuracy and goal, the common transition kernel),
    mean over seeds. Left: optimistic gap against target episodes for OMLE over the class restricted by the
    similarity constraint (the shared parameter must lie in the final upstream UMT-PSR confidence set, 8 upstream
    tasks; colour: upstream iterations) and OMLE from scratch over the full class (black); dotted: c sqrt(beta / k)
    with beta = log(|class| / delta) of each class and c fitted on the scratch curve. The restricted class starts
    at the upstream precision, which the sqrt(beta / k) scaling alone does not capture; the transfer curves level
    off where the target's own data have not yet beaten the upstream precision. Without upstream data the
    restricted class is the full class and the run is identical to scratch (not drawn). Right: realised
    suboptimality of the optimistic policy; in the first few dozen episodes it depends on which model is
    optimistic (the task-specific parameter is still unresolved) and can exceed the scratch learner's, although
    the bound (left) is smaller throughout."""
    fig, axes = figure(1, 2, figsize=(8.6, 3.4))
    k = ds.iteration.values[1:]
    x = ds.episodes.values[1:]
    budgets = ds.upstream_iterations.values[ds.upstream_iterations.values > 0]
    colors = plt.get_cmap("viridis")(np.linspace(0.1, 0.85, budgets.size))
    scratch = ds.sel(learner="scratch")
    gap_s = scratch.gap.mean(["seed", "upstream_iterations"]).values[1:]
    beta_s = float(scratch.beta.max())
    c = _rate_constant(gap_s, k, beta_s)
    for color, budget in zip(colors, budgets):
        sub = ds.sel(upstream_iterations=budget, learner="transfer")
        label = f"transfer, {budget} upstream iterations"
        axes[0].plot(x, sub.gap.mean("seed").values[1:], color=color, label=label)
        axes[0].plot(x, c * np.sqrt(float(sub.beta.mean()) / k), color=color, ls=":", lw=1)
        axes[1].plot(x, sub.subopt.mean("seed").values[1:], color=color, label=label)
    axes[0].plot(x, gap_s, color="k", label="scratch (full class)")
    axes[0].plot(x, c * np.sqrt(beta_s / k), color="k", ls=":", lw=1, label=r"$c\sqrt{\beta/k}$")
    axes[1].plot(x, scratch.subopt.mean(["seed", "upstream_iterations"]).values[1:], color="k",
                 label="scratch (full class)")
    axes[0].set_xscale("log")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("target episodes")
    axes[0].set_ylabel("optimistic gap (return units)")
    axes[0].legend(fontsize=7)
    axes[1].set_xscale("log")
    axes[1].set_xlabel("target episodes")
    axes[1].set_ylabel(r"suboptimality $V^* - V^{\pi_k}$ (return units)")
    axes[1].legend(fontsize=7)
    return fig
