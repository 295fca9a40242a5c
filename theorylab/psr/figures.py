"""Figures of the PSR study: one function per figure, Dataset in, Figure out.

Each function's docstring is the figure's caption.  The paper has no figures (it is theory
only); these show our simulation with the bound's scaling overlaid.  Nothing here simulates.
Seed bands follow the package convention (core.plotting.SEED_BAND), stated in each caption.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from theorylab.core.plotting import figure, log_axes, seed_band
from theorylab.psr.claims import (OPTIMISTIC, REWARD_FREE, SINGLE, UMT, bootstrap_crossings, bootstrap_interval,
                                  episodes_to_epsilon, final_subopt, fit_window, one_seed)

LEARNER_STYLE = {UMT: ("#1f77b4", "UMT-PSR (joint class)"), SINGLE: ("#d62728", "single-task (same rule)"),
                 OPTIMISTIC: ("#7f7f7f", "omle-optimistic (baseline)")}
FAMILY_STYLE = {"transition": ("-", "common transition"), "emission": ("--", "common emission")}
LEVEL_NAME = {"transition": "alpha", "emission": "p"}   # the task-specific parameter of each family
SUBOPT_K = r"suboptimality $V^* - V^{\pi_k}$ (return units)"   # of the policy played at iteration k


def _suboptimality_axes(ax, xlabel: str, ylabel: str, title: str = "", fontsize: float = 7) -> None:
    """A suboptimality panel: log episodes against linear suboptimality, labels, title, legend."""
    log_axes(ax, y=False)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=fontsize)


def _rate_constant(y: np.ndarray, k: np.ndarray, radius: float) -> float:
    """c in y ~ c sqrt(radius / k), fitted (median) over the claims' fit window."""
    window = fit_window(k)
    return float(np.median(y[window] * np.sqrt(k[window] / radius)))


def _crossing_bars(ax, n, curves_by_learner, x, eps, styles, marker="o", ls="-", label_suffix="", seed=0):
    """Episodes to eps of the seed mean against n, with the claims' 95% bootstrap over seeds as bars; an arrow
    marks an upper end beyond the run (a resample that never reaches eps)."""
    learners = list(curves_by_learner)
    mid = np.array([[episodes_to_epsilon(curves_by_learner[lr][i], x, eps) for lr in learners]
                    for i in range(len(n))])
    boots = [bootstrap_crossings([curves_by_learner[lr][i] for lr in learners], x, eps, seed=seed + int(N))
             for i, N in enumerate(n)]
    lo, hi = (np.array(end) for end in zip(*map(bootstrap_interval, boots)))
    out = {}
    for j, learner in enumerate(learners):
        color, label = styles[learner]
        m = np.where(np.isfinite(mid[:, j]), mid[:, j], np.nan)     # never reached: no point
        out[learner] = m
        down = np.where(np.isfinite(lo[:, j]), m - lo[:, j], np.nan)
        up = np.where(np.isfinite(hi[:, j]), hi[:, j] - m, 0.0)
        ax.errorbar(n, m, yerr=[down, up], color=color, marker=marker, ls=ls, capsize=2, mfc="white" if ls != "-"
                    else color, label=label + label_suffix)
        for N, y in zip(n[~np.isfinite(hi[:, j])], m[~np.isfinite(hi[:, j])]):
            ax.annotate("", xy=(N, 0.97), xycoords=("data", "axes fraction"), xytext=(N, y), textcoords="data",
                        arrowprops={"arrowstyle": "->", "color": color, "lw": 1.5})
    return out


# --- bracketing --------------------------------------------------------------------------------------

def fig_bracketing(ds: xr.Dataset) -> plt.Figure:
    """Bracketing numbers of the three example joint classes against the product of single-task classes. Left:
    log N_eta against the number of tasks N for the common-transition family, joint class
    {(theta[s, t_1], ..., theta[s, t_N])} (solid, slope log g_t) against the product of N single-task classes
    (dashed, slope log(g_s g_t)); the smallest eta lies below the exact class separation, where N_eta is the class
    size; larger eta use the greedy bracket cover along the shared grid (an upper bound). Black dotted: the
    core-task class (every task's model one of m = 2 core models of the single-task class), exact count below the
    separation. The common-emission (core-test matrix) family has the same class sizes below the separation.
    Middle: greedy cover count of the shared parameter against eta for both families, with a 1/eta reference.
    Right: policy-maximised L1 distance ||P_theta - P_theta'||_inf^p between neighbouring grid points
    theta[s, t], theta[s + 1, t] for each task-specific level (identifiability; minimum = class separation)."""
    ds = one_seed(ds)
    fig, axes = figure(1, 3, figsize=(11.0, 3.5))
    ax = axes[0]
    sub = ds.sel(family="transition") if "family" in ds.dims else ds
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, sub.sizes["eta"]))
    for color, eta in zip(colors, sub.eta.values):
        tag = "exact" if bool(sub.exact.sel(eta=eta)) else "upper bound"
        ax.plot(sub.tasks, sub.log_joint.sel(eta=eta), color=color, label=f"eta = {eta:g} ({tag})")
        ax.plot(sub.tasks, sub.log_product.sel(eta=eta), color=color, ls="--")
    ax.plot(sub.tasks, sub.log_core, color="k", ls=":", lw=1.8,
            label=f"core tasks, m = {ds.attrs['core_tasks']} (exact)")
    ax.plot([], [], color="0.3", label="joint class (shared parameter)")
    ax.plot([], [], color="0.3", ls="--", label="product of single-task classes")
    ax.set_xlabel("number of tasks N")
    ax.set_xticks([1, 4, 8, 12, 16])
    ax.set_ylabel(r"$\log N_\eta$ (nats)")
    ax.set_title("common transition kernel")
    ax.legend(fontsize=6.5)

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
    log_axes(ax, xticks=e)
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
    """Episodes per task until the TV width of the confidence set falls to epsilon, against the number of tasks N,
    for UMT-PSR over the joint class and for the same reward-free rule on each task's own class. Filled markers:
    the width per task (the summed TV distances of the widest pair divided by N, the average-over-tasks goal);
    open markers: the largest task component of that pair (the max-over-tasks readout). Seed mean; bars: 95%
    bootstrap over seeds (a resample that never reaches epsilon counts as needing more episodes than the run
    holds; an arrow marks an upper end beyond the run). Dotted: the bound's scaling, episodes proportional to
    the per-task radius beta_joint / N = (log g_s + log 1/delta) / N + log g_t (UMT-PSR) or
    beta_single = log(g_s g_t N / delta) (single-task), with the constant fitted at N = 1 (where the two
    learners coincide)."""
    eps = float(ds.attrs["epsilon"])
    x = ds.episodes.values
    n = ds.tasks.values
    fig, ax = figure(figsize=(4.8, 3.6))
    curves = {lr: [ds.width.sel(tasks=N, learner=lr) for N in n] for lr in REWARD_FREE}
    measured = _crossing_bars(ax, n, curves, x, eps, LEARNER_STYLE, label_suffix=", mean over tasks")
    curves_max = {lr: [ds.width_max.sel(tasks=N, learner=lr) for N in n] for lr in REWARD_FREE}
    _crossing_bars(ax, n, curves_max, x, eps, LEARNER_STYLE, marker="s", ls="--", label_suffix=", max over tasks",
                   seed=100)
    radius = ds.beta_per_task.isel(seed=0)
    c = measured[UMT][0] / float(radius.sel(tasks=n[0], learner=UMT))
    for learner in REWARD_FREE:
        color, _ = LEARNER_STYLE[learner]
        ax.plot(n, c * radius.sel(learner=learner).values, ls=":", color=color, lw=1.2)
    ax.plot([], [], ls=":", color="0.3", label=r"bound scaling $\propto \beta/N$ (UMT-PSR), $\beta$ (single)")
    log_axes(ax, base=2, xticks=n)
    ax.set_xlabel("number of tasks N")
    ax.set_ylabel(f"episodes per task to TV width <= {eps:g}")
    ax.legend(fontsize=6.5)
    return fig


def fig_learning_curves(ds: xr.Dataset) -> plt.Figure:
    """Learning curves against episodes per task at the largest N (and N = 1, grey). Line: mean over seeds;
    band: mean +- 2 standard errors over seeds (about a 95% interval for the mean). Left: TV width of the
    confidence set per task (solid: mean over tasks; dashed: largest task component, the max-over-tasks
    readout) for UMT-PSR and the single-task learner; dotted: c sqrt(beta_per_task / k) with one constant c
    fitted on N = 1, drawn over the last decade of iterations (where the rate is checked). Middle: the largest
    value error |V_theta(pi_theta) - V_true(pi_theta)| over the confidence set (per task) against its bound
    H x width, for both learners. Right: suboptimality of the output policy (the optimal policy of each task's
    maximum-likelihood model), mean over tasks (solid) and max over tasks (dashed), for the two reward-free
    learners and the optimistic baseline; returns in [0, H]."""
    fig, axes = figure(1, 3, figsize=(12.0, 3.6))
    k = ds.iteration.values[1:]
    x = ds.episodes.values[1:]
    big = int(ds.tasks.values[-1])
    H = float(ds.attrs["horizon"])
    radius = ds.beta_per_task.isel(seed=0)
    one = ds.sel(tasks=ds.tasks.values[0], learner=UMT).isel(iteration=slice(1, None))
    c = _rate_constant(one.width.mean("seed").values, k, float(radius.sel(tasks=ds.tasks.values[0], learner=UMT)))
    seed_band(axes[0], x, one.width, color="0.55", label=f"N = {int(ds.tasks.values[0])} (both learners)")
    for learner in REWARD_FREE:
        color, label = LEARNER_STYLE[learner]
        sub = ds.sel(tasks=big, learner=learner).isel(iteration=slice(1, None))
        seed_band(axes[0], x, sub.width, color=color, label=f"{label}, N = {big}")
        seed_band(axes[0], x, sub.width_max, color=color, ls="--")
        fit = fit_window(k)     # the asymptotic law, drawn where the claims fit it
        axes[0].plot(x[fit], c * np.sqrt(float(radius.sel(tasks=big, learner=learner)) / k[fit]), ls=":",
                     color=color, lw=1.2)
        seed_band(axes[1], x, sub.value_error_max, color=color, label=f"{label}: max value error")
        seed_band(axes[1], x, H * sub.width, color=color, ls=":", label=f"{label}: H x width")
    axes[0].plot([], [], ls="--", color="0.3", label="max over tasks")
    axes[0].plot([], [], ls=":", color="0.3", label=r"$c\sqrt{\beta_{\rm task}/k}$")
    for ax in axes[:2]:
        log_axes(ax)
        ax.set_xlabel("episodes per task")
    axes[0].set_ylabel("TV width (probability)")
    axes[0].legend(fontsize=6.5)
    axes[1].set_ylabel("value error (return units)")
    axes[1].set_title(f"N = {big}")
    axes[1].legend(fontsize=6.5)
    for learner in (*REWARD_FREE, OPTIMISTIC):
        color, label = LEARNER_STYLE[learner]
        sub = ds.sel(tasks=big, learner=learner).isel(iteration=slice(1, None))
        seed_band(axes[2], x, sub.subopt_out, color=color, label=label)
        seed_band(axes[2], x, sub.subopt_out_max, color=color, ls="--")
    axes[2].plot([], [], ls="--", color="0.3", label="max over tasks")
    _suboptimality_axes(axes[2], "episodes per task", r"output suboptimality $V^* - V^{\hat\pi}$ (return units)",
                        f"N = {big}", fontsize=6.5)
    return fig


def fig_batch(ds: xr.Dataset) -> plt.Figure:
    """Batch special case: N identical tasks. Left: episodes per task until the TV width falls to epsilon against
    N, for UMT-PSR over the class {(theta, ..., theta)} (pooled data) and the same rule on each task alone; seed
    mean with 95% bootstrap bars over seeds; dotted: 1/N through the N = 1 point. Right: TV width against episodes
    per task for each N (UMT-PSR). Line: mean over seeds; band: mean +- 2 standard errors over seeds (about a 95%
    interval for the mean)."""
    eps = float(ds.attrs["epsilon"])
    x = ds.episodes.values
    n = ds.tasks.values
    fig, axes = figure(1, 2, figsize=(8.8, 3.5))
    curves = {lr: [ds.width.sel(tasks=N, learner=lr) for N in n] for lr in REWARD_FREE}
    styles = {UMT: (LEARNER_STYLE[UMT][0], "UMT-PSR, class {(theta, ..., theta)}"),
              SINGLE: (LEARNER_STYLE[SINGLE][0], "single-task (each task alone)")}
    measured = _crossing_bars(axes[0], n, curves, x, eps, styles)
    axes[0].plot(n, measured[UMT][0] / n, ls=":", color="0.3", label="1 / N")
    log_axes(axes[0], base=2, xticks=n)
    axes[0].set_xlabel("number of identical tasks N")
    axes[0].set_ylabel(f"episodes per task to TV width <= {eps:g}")
    axes[0].legend(fontsize=7)
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, n.size))
    for color, N in zip(colors, n):
        seed_band(axes[1], x[1:], ds.width.sel(tasks=N, learner=UMT).isel(iteration=slice(1, None)), color=color,
                  label=f"N = {int(N)}")
    axes[1].axhline(eps, color="0.5", lw=0.8, ls="--")
    log_axes(axes[1])
    axes[1].set_xlabel("episodes per task")
    axes[1].set_ylabel("TV width (probability)")
    axes[1].legend(fontsize=7)
    return fig


# --- downstream --------------------------------------------------------------------------------------

def fig_transfer(ds: xr.Dataset) -> plt.Figure:
    """Downstream learning of a new target task (its own emission accuracy and goal, the common transition kernel).
    Line: mean over seeds; band: mean +- 2 standard errors over seeds (about a 95% interval for the mean). Left:
    optimistic gap against target episodes for OMLE over the class restricted by the similarity constraint (the
    shared parameter must lie in the final upstream UMT-PSR confidence set, 8 upstream tasks; colour: upstream
    iterations) and OMLE from scratch over the full class (black); dotted: c sqrt(beta / k) with
    beta = log(|class| / delta) of each class and c fitted on the scratch curve. The restricted class starts at
    the upstream precision, which the sqrt(beta / k) scaling alone does not capture; the transfer curves level
    off where the target's own data have not yet beaten the upstream precision (the restricted class's shared
    values stay plausible and the optimistic model stays put). Without upstream data the
    restricted class is the full class and the run is identical to scratch (not drawn). Right: realised
    suboptimality of the optimistic policy."""
    fig, axes = figure(1, 2, figsize=(8.8, 3.5))
    k = ds.iteration.values[1:]
    x = ds.episodes.values[1:]
    budgets = ds.upstream_iterations.values[ds.upstream_iterations.values > 0]
    colors = plt.get_cmap("viridis")(np.linspace(0.1, 0.85, budgets.size))
    scratch = ds.sel(learner="scratch", upstream_iterations=ds.upstream_iterations.values[-1]).isel(
        iteration=slice(1, None))
    beta_s = float(scratch.beta.max())
    c = _rate_constant(scratch.gap.mean("seed").values, k, beta_s)
    for color, budget in zip(colors, budgets):
        sub = ds.sel(upstream_iterations=budget, learner="transfer").isel(iteration=slice(1, None))
        label = f"transfer, {budget} upstream iterations"
        seed_band(axes[0], x, sub.gap, color=color, label=label)
        axes[0].plot(x, c * np.sqrt(float(sub.beta.mean()) / k), color=color, ls=":", lw=1)
        seed_band(axes[1], x, sub.subopt, color=color, label=label)
    seed_band(axes[0], x, scratch.gap, color="k", label="scratch (full class)")
    axes[0].plot(x, c * np.sqrt(beta_s / k), color="k", ls=":", lw=1, label=r"$c\sqrt{\beta/k}$")
    seed_band(axes[1], x, scratch.subopt, color="k", label="scratch (full class)")
    log_axes(axes[0])
    axes[0].set_xlabel("target episodes")
    axes[0].set_ylabel("optimistic gap (return units)")
    axes[0].legend(fontsize=7)
    _suboptimality_axes(axes[1], "target episodes", SUBOPT_K)
    return fig


def fig_misspecified(ds: xr.Dataset) -> plt.Figure:
    """Transfer to a target outside the similarity-restricted class: the target's shared parameter p is shifted
    away from the upstream tasks' (0.8) by the given number of grid steps (0.001 each); upstream UMT-PSR on 8
    tasks for a fixed budget, then OMLE over the restricted class (transfer) or the full class (scratch). Left:
    suboptimality of the played policy averaged over the last tenth of the target iterations against the shift;
    seed mean with bars of +- 2 standard errors over seeds. Right: suboptimality against target episodes at the
    largest shift; line: mean over seeds; band: mean +- 2 standard errors over seeds (about a 95% interval for the
    mean). A shifted target is outside the restricted class in every run: the transfer learner converges to the
    class boundary and keeps a suboptimality floor that learning from scratch does not have."""
    fig, axes = figure(1, 2, figsize=(8.8, 3.5))
    shifts = ds.target_shift.values
    for learner, color in (("transfer", LEARNER_STYLE[UMT][0]), ("scratch", "k")):
        fin = final_subopt(ds.subopt.sel(learner=learner))
        mean = fin.mean("seed").values
        se = 2 * fin.std("seed", ddof=1).values / np.sqrt(fin.sizes["seed"])
        axes[0].errorbar(np.abs(shifts) * 1e-3, mean, yerr=se, color=color, marker="o", capsize=2, label=learner)
    axes[0].set_xlabel("|target p - upstream p|")
    axes[0].set_ylabel("final suboptimality (return units)")
    axes[0].legend(fontsize=7)
    far = shifts[np.argmax(np.abs(shifts))]
    x = ds.episodes.values[1:]
    for learner, color in (("transfer", LEARNER_STYLE[UMT][0]), ("scratch", "k")):
        seed_band(axes[1], x, ds.subopt.sel(target_shift=far, learner=learner).isel(iteration=slice(1, None)),
                  color=color, label=learner)
    _suboptimality_axes(axes[1], "target episodes", SUBOPT_K, f"shift {int(far)} grid steps")
    return fig
