"""Figures of the multitasking Hebbian network study: one function per figure, Dataset in, Figure out.

Each function's docstring is the figure's caption.  Theory curves are read from the Dataset
(computed by :mod:`model` at simulation time); the only theory evaluated here are closed forms
(the critical line beta = 1/(1 - d), the power law, the binomial and Gaussian learning thresholds).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.colors import ListedColormap
from matplotlib.lines import Line2D
from scipy import special

from theorylab.core.plotting import SEED_BAND, figure, log_axes, seed_band
from theorylab.hebbian import theory
from theorylab.hebbian.claims import THETA, competing_sites, phase_table, threshold_table

RANK_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")
PROTOCOL_STYLE = {"supervised": ("o", "supervised"), "unsupervised": ("s", "unsupervised")}
REGIME_COLORS = {"paramagnetic": "#eeeeee", "pure": "#c6dbef", "partial hierarchy": "#fee6ce",
                 "hierarchical": "#fdae6b", "symmetric mixture": "#dadaeb", "partially symmetric mixture": "#bcbddc",
                 "parallel": "#a1d99b"}
REGIME_MARKERS = {"paramagnetic": "x", "pure": "o", "partial hierarchy": "v", "hierarchical": "^",
                  "symmetric mixture": "D", "partially symmetric mixture": "d", "parallel": "s"}
K_COLORS = {1: "#1f77b4", 2: "#ff7f0e", 3: "#2ca02c", 4: "#9467bd", 5: "#8c564b"}


def _theory(da: xr.DataArray) -> xr.DataArray:
    return da.isel(seed=0) if "seed" in da.dims else da


def fig_hierarchy(ds: xr.Dataset) -> plt.Figure:
    """Hierarchical retrieval at zero temperature (noiseless examples r = 1, K = 3 archetypes, sign dynamics
    from the cue of archetype 1). Left: Mattis magnetizations |m_k| in decreasing order against the dilution d;
    Monte Carlo, replica average (SEED_BAND; markers sit on the mean); thin solid: the zero-temperature
    self-consistency; dashed: the hierarchical law (1 - d) d^(k-1), exact up to d_K (dotted line, root of
    1 - 2d + d^3), above which the two weaker archetypes jointly overrule the first on some sites.
    Right: m_k / (1 - d) on log-log axes for d < d_K; the power law d^(k-1) has slope k - 1. Amplitudes of
    order 1/sqrt N (k = 3 at the mildest dilutions) sit at the finite-size floor of |m| and above the law."""
    mc = ds.m_sorted.mean("replica")
    d = ds.dilution.values
    d_K = float(ds.d_hierarchy.max())
    th = _theory(ds.m_theory)
    law = _theory(ds.m_power_law)
    fig, (ax, bx) = figure(1, 2, figsize=(8.2, 3.4))
    below = d < d_K
    for k in range(ds.sizes["rank"]):
        c = RANK_COLORS[k]
        seed_band(ax, d, mc.isel(rank=k), color=c, marker="o", ls="none", label=f"$m_{k + 1}$ Monte Carlo")
        ax.plot(d, th.isel(rank=k), "-", color=c, lw=0.9)
        ax.plot(d, law.isel(rank=k), "--", color=c, lw=0.9)
        y = mc.isel(rank=k, dilution=np.nonzero(below)[0]) / (1 - d[below])[:, None]
        ok = (y.mean("seed") > 0).values
        seed_band(bx, d[below][ok], y.isel(dilution=np.nonzero(ok)[0]), color=c, marker="o", ls="none",
                  label=f"k = {k + 1}")
        dd = np.linspace(d[below].min(), d_K, 50)
        bx.plot(dd, dd ** k, "--", color=c, lw=0.9)
    ax.axvline(d_K, color="0.4", ls=":", lw=1)
    ax.text(d_K + 0.01, 0.55, r"$d_K$", color="0.3", fontsize=8)
    ax.set_xlabel("dilution d = P(entry blank)")
    ax.set_ylabel(r"Mattis magnetization $|m_k|$")
    handles = ax.get_legend_handles_labels()[0] + [
        Line2D([], [], color="k", lw=0.9, label="self-consistency (T = 0)"),
        Line2D([], [], color="k", ls="--", lw=0.9, label=r"$(1-d)\,d^{k-1}$")]
    ax.legend(handles=handles, fontsize=7, loc="upper right")
    ticks = [t for t in (0.05, 0.1, 0.2, 0.3, 0.4, 0.6) if d.min() <= t < d_K]
    log_axes(bx, xticks=ticks)
    bx.set_xlabel("dilution d")
    bx.set_ylabel(r"$|m_k| / (1 - d)$")
    bx.set_title(r"power law $d^{\,k-1}$ (dashed) for $d < d_K$")
    bx.legend(fontsize=7, loc="lower right")
    return fig


def fig_dilution(ds: xr.Dataset) -> plt.Figure:
    """Multitasking with noisy examples (K = 3 archetypes, M = 15 examples of quality r = 0.8 each,
    beta = 20, Glauber dynamics from the cue of archetype 1). Mattis magnetizations |m_k| in decreasing
    order against the dilution d, supervised (left) and unsupervised (right) Hebbian couplings built from
    the same datasets. Monte Carlo, replica average (SEED_BAND; markers sit on the mean); lines: the
    low-storage self-consistency averaged exactly over the binomial example statistics. Background: the
    self-consistent state (light orange: partial hierarchy, m_3 = 0; orange: hierarchical, all distinct;
    purple: partially symmetric mixture m_1 = m_2 > m_3; green: parallel, all equal). d_par (dotted) is where the
    amplitude-splitting eigenvalue of the symmetric solution crosses 1 at this beta; the parallel band ends at
    the paramagnetic point d = 1 - 1/beta. In the mixture window the Monte-Carlo runs (N = 12 000 at paper
    scale) still show a small m_1 - m_2 gap: the tie is nearly marginal there (lambda_max > 0.9), so
    finite-size asymmetries of the data split it."""
    mc = ds.m_sorted.mean("replica")
    d = ds.dilution.values
    d_par = float(ds.d_parallel.max())
    beta = 1.0 / float(ds.attrs["temperature"])
    protocols = list(ds.protocol.values)
    fig, axes = figure(1, len(protocols), figsize=(4.1 * len(protocols), 3.4), sharey=True)
    step = float(np.min(np.diff(d))) / 2
    for ax, prot in zip(np.atleast_1d(axes), protocols):
        th = _theory(ds.m_theory.sel(protocol=prot))
        states = _theory(ds.regime_theory.sel(protocol=prot)).values
        for x, state in zip(d, states):
            ax.axvspan(x - step, x + step, color=REGIME_COLORS[str(state)], lw=0)
        ax.axvline(d_par, color="0.3", ls=":", lw=1)
        for k in range(ds.sizes["rank"]):
            c = RANK_COLORS[k]
            seed_band(ax, d, mc.sel(protocol=prot).isel(rank=k), color=c, ls="none",
                      marker=PROTOCOL_STYLE[prot][0], label=f"$m_{k + 1}$")
            ax.plot(d, th.isel(rank=k), "-", color=c, lw=1.0)
        ax.text(d_par + 0.01, 0.98, rf"$d_{{par}}(\beta={beta:g})$", fontsize=8, color="0.3", va="top",
                transform=ax.get_xaxis_transform())
        ax.set_title(f"{prot} Hebbian learning")
        ax.set_xlabel("dilution d = P(entry blank)")
    np.atleast_1d(axes)[0].set_ylabel(r"Mattis magnetization $|m_k|$")
    handles = np.atleast_1d(axes)[0].get_legend_handles_labels()[0] + [
        Line2D([], [], color="k", lw=1.0, label="self-consistency")]
    shown = [n for n in theory.REGIMES if n in {str(x) for x in np.ravel(ds.regime_theory.values)}]
    handles += [plt.Rectangle((0, 0), 1, 1, color=REGIME_COLORS[n], label=f"theory: {n}") for n in shown]
    fig.legend(handles=handles, fontsize=7, loc="outside lower center", ncol=4)
    return fig


def fig_phase_diagram(ds: xr.Dataset) -> plt.Figure:
    """Left: retrieval states in the (d, beta) plane (supervised, K = 3, M = 15, r = 0.8, cue of archetype 1).
    Cells: state of the self-consistent solution reached from the cue (one classifier for theory and Monte
    Carlo: paramagnetic, pure, partial hierarchy = fewer than K raised and all distinct, hierarchical = all K
    raised and distinct, symmetric mixture = fewer than K raised and all equal, partially symmetric mixture =
    some raised amplitudes equal and some not, parallel = all K equal). Markers: the state measured by Monte
    Carlo (amplitudes below 6/sqrt N count as zero, gaps below it as ties); red circles: points too close to a
    transition for the claim's check (every mixture point is one: lambda_max > 0.9). Solid line: retrieval
    threshold beta = 1/(1 - d), the same for every (M, r) and protocol; dashed: d_par(beta), above which the
    parallel state is stable. Right: d_par against beta for these noisy examples and for noiseless ones
    (M = 1, r = 1); dotted: the paramagnetic edge d = 1 - 1/beta, which closes the parallel window; grey
    line: d = 2/3, the limit of d_par on the critical line from the near-critical expansion (noiseless
    examples). Below beta = 4 the retrieval region ends before any parallel state is stable."""
    rows = phase_table(ds)
    ds_d = np.unique([r["dilution"] for r in rows])
    betas = np.unique([r["beta"] for r in rows])
    codes = {name: i for i, name in enumerate(theory.REGIMES)}
    grid = np.full((betas.size, ds_d.size), np.nan)
    for r in rows:
        grid[np.searchsorted(betas, r["beta"]), np.searchsorted(ds_d, r["dilution"])] = codes[r["theory"]]
    fig, (ax, bx) = figure(1, 2, figsize=(9.4, 4.0), gridspec_kw={"width_ratios": [1.25, 1]})

    def edges(v: np.ndarray, log: bool) -> np.ndarray:
        x = np.log(v) if log else v
        mid = (x[1:] + x[:-1]) / 2
        out = np.concatenate([[x[0] - (mid[0] - x[0])], mid, [x[-1] + (x[-1] - mid[-1])]])
        return np.exp(out) if log else out

    cmap = ListedColormap([REGIME_COLORS[n] for n in theory.REGIMES])
    ax.pcolormesh(edges(ds_d, False), edges(betas, True), grid, cmap=cmap, vmin=-0.5,
                  vmax=len(theory.REGIMES) - 0.5, shading="flat")
    for r in rows:
        ax.plot(r["dilution"], r["beta"], REGIME_MARKERS[r["mc"]], color="k", ms=5, mfc="none")
        if not r["clear"]:
            ax.plot(r["dilution"], r["beta"], "o", ms=10, mfc="none", mec="#d62728", mew=0.8)
    dd = np.linspace(0.0, 0.98, 200)
    ax.plot(dd, theory.critical_beta(dd), "k-", lw=1.2)
    d_par = ds.d_parallel.isel(seed=0).max("dilution")
    d_clean = ds.d_parallel_noiseless.isel(seed=0).max("dilution")
    b = 1 / ds.temperature.values
    order = np.argsort(b)
    ax.plot(d_par.values[order], b[order], "k--", lw=1.2)
    log_axes(ax, x=False, y=True)
    ax.set_yticks(betas, [f"{x:g}" for x in betas])
    ax.set_ylim(edges(betas, True)[0], edges(betas, True)[-1])
    ax.set_xlim(edges(ds_d, False)[0], edges(ds_d, False)[-1])
    ax.set_xlabel("dilution d")
    ax.set_ylabel(r"inverse temperature $\beta$")
    present = [n for n in theory.REGIMES if n in {r["theory"] for r in rows} | {r["mc"] for r in rows}]
    handles = [plt.Rectangle((0, 0), 1, 1, color=REGIME_COLORS[n], label=f"theory: {n}") for n in present]
    handles += [Line2D([], [], ls="none", marker=REGIME_MARKERS[n], color="k", mfc="none", label=f"MC: {n}")
                for n in present]
    handles += [Line2D([], [], color="k", label=r"$\beta = 1/(1-d)$"),
                Line2D([], [], color="k", ls="--", label=r"$d_{par}(\beta)$")]
    fig.legend(handles=handles, fontsize=6.3, loc="outside lower center", ncol=4)
    bx.plot(b[order], d_par.values[order], "o-", color="#2ca02c", label="M = 15, r = 0.8")
    bx.plot(b[order], d_clean.values[order], "s--", color="#1f77b4", label="noiseless (M = 1, r = 1)")
    bb = np.linspace(b.min(), b.max(), 200)
    bx.plot(bb, 1 - 1 / bb, ":", color="0.4", label=r"$1 - 1/\beta$")
    bx.axhline(2 / 3, color="0.7", lw=0.8)
    log_axes(bx, x=True, y=False, xticks=betas)
    bx.set_xlabel(r"inverse temperature $\beta$")
    bx.set_ylabel(r"$d_{par}(\beta)$ (K = 3)")
    bx.set_title("parallel window: d_par < d < 1 - 1/beta", fontsize=9)
    bx.legend(fontsize=7, loc="lower right")
    return fig


def fig_learning(ds: xr.Dataset) -> plt.Figure:
    """Learning one archetype from M examples of quality r (K = 1, d = 0.2, zero temperature, cue).
    Left: accuracy (fraction of the archetype's non-blank entries the network sets right) in the (M, r)
    plane, supervised (large circles) and unsupervised (small squares inside) on the same datasets; solid:
    the exact threshold where the example-majority accuracy reaches Phi(1) = 0.84 (odd M); dashed: the
    signal-to-noise threshold M = (1 - r^2)/r^2 (rho = 1). Right: accuracy against the dataset entropy
    rho = (1 - r^2)/(M r^2); curve: the Gaussian signal-to-noise law Phi(1/sqrt rho); crosses: the exact
    binomial accuracy P(chi_hat > 0) at each simulated (M, r)."""
    acc = ds.accuracy.isel(pattern=0).mean(["replica", "seed"])
    exact = _theory(ds.theory_accuracy).isel(protocol=0)
    fig, (ax, bx) = figure(1, 2, figsize=(8.6, 3.6), gridspec_kw={"width_ratios": [1.15, 1]})
    M, r = np.meshgrid(ds.n_examples.values, ds.quality.values)
    norm = plt.Normalize(0.5, 1.0)
    sc = ax.scatter(M, r, c=acc.sel(protocol="supervised").transpose("quality", "n_examples"), s=90,
                    cmap="viridis", norm=norm, edgecolors="k", linewidths=0.4)
    ax.scatter(M, r, c=acc.sel(protocol="unsupervised").transpose("quality", "n_examples"), s=18, marker="s",
               cmap="viridis", norm=norm, edgecolors="w", linewidths=0.4)
    rr = np.linspace(0.15, 0.95, 120)
    ax.plot([theory.exact_learning_threshold(x, THETA) for x in rr], rr, "k-", lw=1.2,
            label=rf"exact: accuracy = $\Phi({THETA:g})$")
    ax.plot([theory.learning_threshold(x, THETA) for x in rr], rr, "k--", lw=1.0, label=r"SNR: $\rho = 1$")
    log_axes(ax, x=True, y=False, xticks=[1, 3, 10, 30])
    ax.set_xlim(0.7, ds.n_examples.values.max() * 1.5)
    ax.set_xlabel("examples per archetype M")
    ax.set_ylabel("example quality r")
    ax.legend(fontsize=7, loc="upper right")
    fig.colorbar(sc, ax=ax, label="accuracy (fraction of entries)", shrink=0.85)
    rho = (1 - ds.quality ** 2) / (ds.n_examples * ds.quality ** 2)
    for prot, (marker, label) in PROTOCOL_STYLE.items():
        bx.plot(rho.values.ravel(), acc.sel(protocol=prot).transpose(*rho.dims).values.ravel(), marker,
                ms=5 if prot == "supervised" else 2.5, mfc="none" if prot == "supervised" else None, ls="none",
                label=f"Monte Carlo, {label}")
    bx.plot(rho.values.ravel(), exact.transpose(*rho.dims).values.ravel(), "x", ms=4, color="0.3",
            label="exact binomial")
    x = np.logspace(np.log10(float(rho.min())) - 0.2, np.log10(float(rho.max())) + 0.2, 200)
    bx.plot(x, special.ndtr(1 / np.sqrt(x)), "k-", lw=1, label=r"$\Phi(1/\sqrt{\rho})$")
    bx.axhline(special.ndtr(THETA), color="0.5", ls=":", lw=1)
    log_axes(bx, x=True, y=False)
    bx.set_xlabel(r"dataset entropy $\rho = (1-r^2)/(M r^2)$")
    bx.set_ylabel("accuracy")
    bx.legend(fontsize=7, loc="lower left")
    return fig


def fig_relaxation(ds: xr.Dataset) -> plt.Figure:
    """Cost function and sum-squared loss along the dynamics from a random state (K = 3, M = 15, r = 0.8;
    seed 0, every replica). Top: cost per neuron H/N; bottom: sum-squared loss on the archetypes,
    sum_k min_+- |xi^k -+ sigma|^2 / (2N); left: mild dilution d = 0.3 (hierarchical), right: strong
    dilution d = 0.8 (parallel); blue: zero-temperature sign dynamics, orange: beta = 20; solid: supervised,
    dotted: unsupervised (same data and start); grey dashed: the values at the self-consistent solution
    (beta = 20). The cost never rises at T = 0. In the parallel regime the loss falls with the cost to its
    minimum; in the hierarchical regime a run can pass through mixtures with lower loss than the cost
    minimum it ends in."""
    dils = ds.dilution.values
    fig, axes = figure(2, dils.size, figsize=(4.0 * dils.size, 4.8), sharex=True)
    axes = np.asarray(axes).reshape(2, dils.size)
    sub = ds.isel(seed=0)
    colors = {0.0: "#1f77b4"}
    for j, d in enumerate(dils):
        for T in ds.temperature.values:
            run = sub.sel(dilution=d, temperature=T)
            color = colors.get(float(T), "#ff7f0e")
            for prot, ls in (("supervised", "-"), ("unsupervised", ":")):
                for rep in run.replica.values:
                    r = run.sel(protocol=prot, replica=rep)
                    axes[0, j].plot(run.sweep, r.cost, ls=ls, color=color, lw=0.9, alpha=0.8)
                    axes[1, j].plot(run.sweep, r.loss, ls=ls, color=color, lw=0.9, alpha=0.8)
        warm = sub.sel(dilution=d).isel(temperature=-1, protocol=0)
        axes[0, j].axhline(float(warm.cost_theory), color="0.4", ls="--", lw=1)
        axes[1, j].axhline(float(warm.loss_theory), color="0.4", ls="--", lw=1)
        axes[0, j].set_title(f"d = {d:g} ({str(warm.regime_theory.values)} at beta = {1 / float(warm.temperature):g})")
        axes[1, j].set_xlabel("Monte-Carlo time (sweeps of N updates)")
        axes[1, j].set_xscale("symlog", linthresh=1)
    axes[0, 0].set_ylabel("cost per neuron H / N")
    axes[1, 0].set_ylabel("sum-squared loss")
    axes[0, -1].legend(handles=[Line2D([], [], color="#1f77b4", label="T = 0"),
                                Line2D([], [], color="#ff7f0e", label=r"$\beta = 20$"),
                                Line2D([], [], color="k", label="supervised"),
                                Line2D([], [], color="k", ls=":", label="unsupervised"),
                                Line2D([], [], color="0.4", ls="--", label="self-consistency")], fontsize=7)
    return fig


def fig_finite_size(ds: xr.Dataset) -> plt.Figure:
    """Finite-size scaling (supervised, K = 3, M = 15, r = 0.8, beta = 20). Largest deviation over k of the
    Monte-Carlo |m_k| from the N -> infinity self-consistency against the network size N, for a hierarchical
    (d = 0.4) and a parallel (d = 0.85) state; small dots: single seeds; SEED_BAND; dashed: the slope -1/2
    of sample fluctuations."""
    err = np.abs(ds.m_sorted.mean("replica") - ds.m_theory).max("rank")
    N = ds.n_neurons.values
    fig, ax = figure(figsize=(4.4, 3.4))
    for j, d in enumerate(ds.dilution.values):
        e = err.sel(dilution=d)
        c = RANK_COLORS[j]
        for s in ds.seed.values:
            ax.plot(N, e.sel(seed=s), ".", color=c, alpha=0.5, ms=4)
        regime = str(ds.regime_theory.sel(dilution=d).values.ravel()[0])
        seed_band(ax, N, e, color=c, marker="o", label=f"d = {d:g} ({regime})")
    ref = float(err.mean("seed").max()) * np.sqrt(N[0] / N)
    ax.plot(N, ref, "k--", lw=1, label=r"$\propto N^{-1/2}$")
    log_axes(ax, xticks=N)
    ax.set_xlabel("neurons N")
    ax.set_ylabel(r"$\max_k |m_k^{MC} - m_k^{theory}|$")
    ax.legend(fontsize=7)
    return fig


def fig_thresholds(ds: xr.Dataset) -> plt.Figure:
    """Learning thresholds of the multitasking network (beta = 20, cue of archetype 1; left: d = 0.5, where the
    K = 3 state is hierarchical; right: d = 0.8, parallel). An archetype counts as learned when its amplitude
    reaches 2 Phi(1) - 1 = 0.683 of the amplitude the same network reaches when trained on the archetypes
    themselves (for K = 1 at zero temperature this is exactly the accuracy criterion Phi(1)). Lines: the
    smallest M (odd grid values) at which every archetype of the self-consistent solution is learned, against
    the example quality r, for K = 1, 2, 3; markers: the same threshold measured by Monte Carlo (circles:
    supervised, squares: unsupervised, one seed, replica average); points on the right edge: not reached up
    to the largest M simulated. Dashed grey: the Gaussian signal-to-noise line M = (1 - r^2)/r^2 (rho = 1)."""
    rows = threshold_table(ds)
    Ms = ds.n_examples.values
    edge = Ms[-1] * 1.6
    dils = sorted({row["d"] for row in rows})
    fig, axes = figure(1, len(dils), figsize=(4.2 * len(dils), 3.6), sharey=True)
    axes = np.atleast_1d(axes)

    def value(j: int) -> float:
        return float(Ms[j]) if j < len(Ms) else edge

    for ax, d in zip(axes, dils):
        for K in sorted({row["K"] for row in rows}):
            sel = sorted((row for row in rows if row["d"] == d and row["K"] == K), key=lambda row: row["r"])
            r = [row["r"] for row in sel]
            c = K_COLORS[K]
            ax.plot([value(row["theory"]) for row in sel], r, "-", color=c, lw=1.4, label=f"K = {K}")
            ax.plot([value(row["supervised"]) for row in sel], r, "o", color=c, ms=7, mfc="none")
            ax.plot([value(row["unsupervised"]) for row in sel], r, "s", color=c, ms=3.5)
        rr = np.linspace(min(ds.quality.values) * 0.9, 0.95, 100)
        ax.plot([theory.learning_threshold(x, THETA) for x in rr], rr, "--", color="0.6", lw=1)
        ax.axvline(edge, color="0.85", lw=4, zorder=0)
        log_axes(ax, x=True, y=False, xticks=[1, 3, 10, 30])
        ax.set_xlim(0.7, edge * 1.15)
        state = str(_theory(ds.regime_theory.sel(n_patterns=max(ds.n_patterns.values), dilution=d))
                    .isel(quality=-1, n_examples=-1, protocol=0).values)
        ax.set_title(f"d = {d:g} (K = 3 at M = {Ms[-1]}: {state})", fontsize=9)
        ax.set_xlabel(f"examples per archetype M (right edge: > {Ms[-1]})")
    axes[0].set_ylabel("example quality r")
    handles = axes[0].get_legend_handles_labels()[0] + [
        Line2D([], [], ls="none", marker="o", mfc="none", color="k", label="Monte Carlo, supervised"),
        Line2D([], [], ls="none", marker="s", ms=3.5, color="k", label="Monte Carlo, unsupervised"),
        Line2D([], [], ls="--", color="0.6", label=r"SNR: $\rho = 1$")]
    axes[-1].legend(handles=handles, fontsize=7, loc="upper right")
    return fig


def fig_minima(ds: xr.Dataset) -> plt.Figure:
    """Zero temperature: local minima of the cost function (supervised couplings, K = 3, M = 15, r = 0.8)
    against the sum-squared loss on the archetypes. Left and middle: every distinct single-flip minimum found
    by relaxation from random states (largest N, all seeds), cost per neuron H/N against its loss minus the
    loss's global minimum for that dataset; filled: also a single-flip minimum of the loss; star: the
    lowest-cost minimum of each dataset. Mild dilution (left, the beta = 20 state is hierarchical): the
    lowest-cost minimum is not where the loss is lowest; strong dilution (middle, parallel): it is, up to
    the few sites where three archetypes compete. Right: loss of the lowest-cost minimum above the loss's
    global minimum against d, for exhaustive enumeration (small N) and relaxation (large N); SEED_BAND;
    dotted: 2K P(three or more archetypes non-blank), the largest excess those competing sites can cause."""
    big, small = ds.n_neurons.values.max(), ds.n_neurons.values.min()
    dils = ds.dilution.values
    fig, axes = figure(1, 3, figsize=(11.0, 3.4))
    for ax, d in zip(axes[:2], (dils[0], dils[-1])):
        x = ds.sel(dilution=d, n_neurons=big)
        for s in x.seed.values:
            one = x.sel(seed=s)
            base = float(one.loss.isel(state=0) - one.loss_excess)
            rel = one.loss - base
            ok = one.loss_local_min == 1
            ax.plot(rel.where(~ok), one.cost.where(~ok), "o", ms=3, mfc="none", color="#1f77b4", alpha=0.6)
            ax.plot(rel.where(ok), one.cost.where(ok), "o", ms=3, color="#d62728", alpha=0.8)
            ax.plot(float(rel.isel(state=0)), float(one.cost.isel(state=0)), "*", ms=9, color="k")
        ax.set_xlabel("loss above the loss's global minimum")
        ax.set_title(f"d = {d:g}, N = {big}: {x.sizes['seed']} datasets", fontsize=9)
    axes[0].set_ylabel("cost per neuron H / N")
    axes[1].legend(handles=[Line2D([], [], ls="none", marker="o", mfc="none", color="#1f77b4",
                                   label="cost minimum only"),
                            Line2D([], [], ls="none", marker="o", color="#d62728", label="also a loss minimum"),
                            Line2D([], [], ls="none", marker="*", color="k", ms=9, label="lowest cost")],
                   fontsize=7, loc="upper right")
    for n, marker, label in ((small, "s", "enumeration"), (big, "o", "relaxation")):
        seed_band(axes[2], dils, ds.loss_excess.sel(n_neurons=n).transpose("dilution", "seed"), marker=marker,
                  label=f"{label}, N = {n}")
    dd = np.linspace(dils.min(), dils.max(), 100)
    axes[2].plot(dd, [competing_sites(x, ds.sizes["pattern"]) for x in dd], ":", color="0.4",
                 label="2K P(>= 3 non-blank)")
    axes[2].set_ylim(-0.01, 1.4 * float(ds.loss_excess.max()) + 0.01)
    axes[2].set_xlabel("dilution d")
    axes[2].set_ylabel("loss excess of the lowest-cost minimum")
    axes[2].legend(fontsize=7)
    return fig


for _fn in (fig_hierarchy, fig_dilution, fig_finite_size, fig_minima):
    _fn.__doc__ = _fn.__doc__.replace("SEED_BAND", SEED_BAND)
