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

from theorylab.core.plotting import figure
from theorylab.hebbian import theory
from theorylab.hebbian.claims import THETA, phase_table

RANK_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")
PROTOCOL_STYLE = {"supervised": ("o", "supervised"), "unsupervised": ("s", "unsupervised")}
REGIME_COLORS = {"paramagnetic": "#eeeeee", "pure": "#c6dbef", "hierarchical": "#fdd0a2", "parallel": "#c7e9c0"}
REGIME_MARKERS = {"paramagnetic": "x", "pure": "o", "hierarchical": "^", "parallel": "s"}


def _mc_stats(ds: xr.Dataset, over: tuple[str, ...]) -> tuple[xr.DataArray, xr.DataArray]:
    """Mean and standard deviation over seeds of the replica-averaged decreasing |m|."""
    mc = ds.m_sorted.mean("replica")
    dims = [d for d in over if d in mc.dims]
    return mc.mean(dims), (mc.std(dims) if dims else xr.zeros_like(mc))


def _theory(da: xr.DataArray) -> xr.DataArray:
    return da.isel(seed=0) if "seed" in da.dims else da


def fig_hierarchy(ds: xr.Dataset) -> plt.Figure:
    """Hierarchical retrieval at zero temperature (noiseless examples r = 1, K = 3 archetypes, sign dynamics
    from the cue of archetype 1). Left: Mattis magnetizations |m_k| in decreasing order against the dilution d;
    markers: Monte Carlo (mean over seeds, bars: standard deviation); solid: the zero-temperature
    self-consistency; dashed: the hierarchical law (1 - d) d^(k-1), exact up to d_K (dotted line, root of
    1 - 2d + d^3), above which the two weaker archetypes jointly overrule the first on some sites.
    Right: m_k / (1 - d) on log-log axes for d < d_K; the power law d^(k-1) has slope k - 1. Amplitudes of
    order 1/sqrt N (k = 3 at the mildest dilutions) sit at the finite-size floor of |m| and above the law."""
    mean, std = _mc_stats(ds, ("seed",))
    d = ds.dilution.values
    d_K = float(ds.d_hierarchy.max())
    th = _theory(ds.m_theory)
    law = _theory(ds.m_power_law)
    fig, (ax, bx) = figure(1, 2, figsize=(8.2, 3.4))
    for k in range(ds.sizes["rank"]):
        c = RANK_COLORS[k]
        ax.errorbar(d, mean.isel(rank=k), std.isel(rank=k), fmt="o", ms=3.5, color=c, capsize=2,
                    label=f"$m_{k + 1}$ Monte Carlo")
        ax.plot(d, th.isel(rank=k), "-", color=c, lw=1.2)
        ax.plot(d, law.isel(rank=k), "--", color=c, lw=0.9)
        below = d < d_K
        y = mean.isel(rank=k).values[below] / (1 - d[below])
        ok = y > 0
        bx.plot(d[below][ok], y[ok], "o", ms=3.5, color=c, label=f"k = {k + 1}")
        dd = np.linspace(d[below].min(), d_K, 50)
        bx.plot(dd, dd ** k, "--", color=c, lw=0.9)
    ax.axvline(d_K, color="0.4", ls=":", lw=1)
    ax.text(d_K + 0.01, 0.55, r"$d_K$", color="0.3", fontsize=8)
    ax.set_xlabel("dilution d = P(entry blank)")
    ax.set_ylabel(r"Mattis magnetization $|m_k|$")
    handles = ax.get_legend_handles_labels()[0] + [
        Line2D([], [], color="k", lw=1.2, label="self-consistency (T = 0)"),
        Line2D([], [], color="k", ls="--", lw=0.9, label=r"$(1-d)\,d^{k-1}$")]
    ax.legend(handles=handles, fontsize=7, loc="upper right")
    bx.set_xscale("log")
    bx.set_yscale("log")
    ticks = [t for t in (0.05, 0.1, 0.2, 0.3, 0.4, 0.6) if d.min() <= t < d_K]
    bx.set_xticks(ticks, [f"{t:g}" for t in ticks])
    bx.xaxis.set_minor_locator(plt.NullLocator())
    bx.set_xlabel("dilution d")
    bx.set_ylabel(r"$|m_k| / (1 - d)$")
    bx.set_title(r"power law $d^{\,k-1}$ (dashed) for $d < d_K$")
    bx.legend(fontsize=7, loc="lower right")
    return fig


def fig_dilution(ds: xr.Dataset) -> plt.Figure:
    """Multitasking with noisy examples (K = 3 archetypes, M = 15 examples of quality r = 0.8 each,
    beta = 20, Glauber dynamics from the cue of archetype 1). Mattis magnetizations |m_k| in decreasing
    order against the dilution d, supervised (left) and unsupervised (right) Hebbian couplings built from
    the same datasets. Markers: Monte Carlo (mean over seeds, bars: standard deviation); lines: the
    low-storage self-consistency averaged exactly over the binomial example statistics. Mild dilution:
    hierarchical amplitudes (the weaker archetypes are raised only on the blanks of the stronger ones);
    beyond d_par (dotted; the amplitude-splitting eigenvalue of the symmetric solution crosses 1) all
    archetypes are retrieved with the same strength (green band, up to the paramagnetic point
    d = 1 - 1/beta)."""
    mean, std = _mc_stats(ds, ("seed",))
    d = ds.dilution.values
    d_par = float(ds.d_parallel.max())
    beta = 1.0 / float(ds.attrs["temperature"])
    protocols = list(ds.protocol.values)
    fig, axes = figure(1, len(protocols), figsize=(4.1 * len(protocols), 3.4), sharey=True)
    for ax, prot in zip(np.atleast_1d(axes), protocols):
        th = _theory(ds.m_theory.sel(protocol=prot))
        ax.axvspan(d_par, min(1 - 1 / beta, d.max() + 0.03), color=REGIME_COLORS["parallel"], lw=0)
        ax.axvline(d_par, color="0.3", ls=":", lw=1)
        for k in range(ds.sizes["rank"]):
            c = RANK_COLORS[k]
            ax.errorbar(d, mean.sel(protocol=prot).isel(rank=k), std.sel(protocol=prot).isel(rank=k),
                        fmt=PROTOCOL_STYLE[prot][0], ms=3.5, color=c, capsize=2, label=f"$m_{k + 1}$")
            ax.plot(d, th.isel(rank=k), "-", color=c, lw=1.2)
        ax.text(d_par + 0.01, 0.98, r"$d_{par}$", fontsize=8, color="0.3", va="top",
                transform=ax.get_xaxis_transform())
        ax.set_title(f"{prot} Hebbian learning")
        ax.set_xlabel("dilution d = P(entry blank)")
    np.atleast_1d(axes)[0].set_ylabel(r"Mattis magnetization $|m_k|$")
    handles = np.atleast_1d(axes)[0].get_legend_handles_labels()[0] + [
        Line2D([], [], color="k", lw=1.2, label="self-consistency")]
    np.atleast_1d(axes)[0].legend(handles=handles, fontsize=7, loc="center left")
    return fig


def fig_phase_diagram(ds: xr.Dataset) -> plt.Figure:
    """Phase diagram in the (d, beta) plane (supervised, K = 3, M = 15, r = 0.8, cue of archetype 1).
    Cells: regime of the self-consistent solution reached from the cue at each grid point (grey: no
    retrieval; blue: only the cued archetype; orange: hierarchical, distinct amplitudes; green: parallel,
    equal amplitudes). Markers: regime measured by Monte Carlo (amplitudes below 6/sqrt N count as zero,
    spreads below it as equal); red outline: points too close to a transition for the claim's check.
    Solid line: retrieval threshold beta = 1/(1 - d), the same for every (M, r) and protocol; dashed:
    d_par(beta), above which the parallel state is stable (for beta >= 4 it is also locally stable at the
    mildest dilutions, d below 0.07 to 0.15 depending on beta, where the cue does not reach it)."""
    rows = phase_table(ds)
    ds_d = np.unique([r["dilution"] for r in rows])
    betas = np.unique([r["beta"] for r in rows])
    codes = {name: i for i, name in enumerate(theory.REGIMES)}
    grid = np.full((betas.size, ds_d.size), np.nan)
    for r in rows:
        grid[np.searchsorted(betas, r["beta"]), np.searchsorted(ds_d, r["dilution"])] = codes[r["theory"]]
    fig, ax = figure(figsize=(5.6, 4.0))

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
    order = np.argsort(1 / ds.temperature.values)
    ax.plot(d_par.values[order], 1 / ds.temperature.values[order], "k--", lw=1.2)
    ax.set_yscale("log")
    ax.set_yticks(betas, [f"{b:g}" for b in betas])
    ax.yaxis.set_minor_locator(plt.NullLocator())
    ax.set_ylim(edges(betas, True)[0], edges(betas, True)[-1])
    ax.set_xlim(edges(ds_d, False)[0], edges(ds_d, False)[-1])
    ax.set_xlabel("dilution d")
    ax.set_ylabel(r"inverse temperature $\beta$")
    handles = [plt.Rectangle((0, 0), 1, 1, color=REGIME_COLORS[n], label=f"theory: {n}") for n in theory.REGIMES]
    handles += [Line2D([], [], ls="none", marker=REGIME_MARKERS[n], color="k", mfc="none", label=f"MC: {n}")
                for n in theory.REGIMES]
    handles += [Line2D([], [], color="k", label=r"$\beta = 1/(1-d)$"),
                Line2D([], [], color="k", ls="--", label=r"$d_{par}(\beta)$")]
    ax.legend(handles=handles, fontsize=6.5, loc="center left", bbox_to_anchor=(1.02, 0.5))
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
    ax.set_xscale("log")
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
    bx.set_xscale("log")
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
    (d = 0.4) and a parallel (d = 0.85) state; small markers: single seeds, large: seed mean; dashed: the
    slope -1/2 of sample fluctuations."""
    err = np.abs(ds.m_sorted.mean("replica") - ds.m_theory).max("rank")
    N = ds.n_neurons.values
    fig, ax = figure(figsize=(4.4, 3.4))
    for j, d in enumerate(ds.dilution.values):
        e = err.sel(dilution=d)
        c = RANK_COLORS[j]
        for s in ds.seed.values:
            ax.plot(N, e.sel(seed=s), ".", color=c, alpha=0.5, ms=4)
        regime = str(ds.regime_theory.sel(dilution=d).values.ravel()[0])
        ax.plot(N, e.mean("seed"), "o-", color=c, label=f"d = {d:g} ({regime})")
    ref = float(err.mean("seed").max()) * np.sqrt(N[0] / N)
    ax.plot(N, ref, "k--", lw=1, label=r"$\propto N^{-1/2}$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("neurons N")
    ax.set_ylabel(r"$\max_k |m_k^{MC} - m_k^{theory}|$")
    ax.legend(fontsize=7)
    return fig
