"""Figures of the attention study: one function per figure, Dataset in, Figure out.

Each function's docstring is the figure's caption.  Curves are seed means of the
validation-selected normalised test MSE; bands are mean +- 2 standard errors over seeds.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.ticker import NullLocator

from theorylab.attention import theory
from theorylab.core.claims import loglog_slope
from theorylab.core.plotting import figure, log_axes, seed_band

MODEL_STYLE = {  # colour, line style, label
    "rfa": ("#1f77b4", "-", "RFA (M heads)"),
    "krr_rfa": ("#1f77b4", "--", r"KRR, RFA kernel ($M\to\infty$)"),
    "rfmlp": ("#ff7f0e", "-", "RFMLP (P = M(d+1) units)"),
    "krr_mlp": ("#ff7f0e", "--", r"KRR, MLP kernel ($P\to\infty$)"),
}
TARGET_TITLE = {
    "corr1": r"$f_* = \sqrt{N}\,\mathrm{mean}_i\, Q_1(\langle x_0, x_i\rangle)$",
    "query": r"$f_* = Q_2(\langle \beta, x_0\rangle)$ (query only)",
    "keys": r"$f_* = \sqrt{N}\,\mathrm{mean}_i\, Q_2(\langle \beta, x_i\rangle)$ (keys only)",
}
DEGREE_COLORS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02")


def _loglog(ax, x, subs=(1.0,)) -> None:
    """Log-2 x axis ticked at the swept values (small labels), log y axis with plain-decimal labels."""
    log_axes(ax, base=2, ybase=10, xticks=x, subs=subs)
    ax.tick_params(axis="x", labelsize=7)


def fig_learning_curves(ds: xr.Dataset) -> plt.Figure:
    """Learning curves of random-feature attention (RFA) and a random-feature MLP (RFMLP) with as many
    trainable weights, d = N = 8 at paper scale (M = 512 heads, P = M(d + 1) = 4608 units): normalised test
    MSE (1 = predicting 0) against the number of training sequences n, ridge penalty chosen on a
    validation set; dashed: kernel ridge regression with the infinite-width kernels (closed forms).
    Targets: the key-averaged correlation target of degree 1, a query-only and a keys-only target (Q_k:
    Gegenbauer polynomials, unit variance). Dotted verticals: n = d^2 and n = D^2 / 2 with D = (N + 1) d + 1
    the RFMLP input dimension, the heuristic sample sizes for degree-1 pair targets and degree-2
    polynomials of the whole sequence. Curves: mean over seeds; bands: mean +- 2 standard errors over seeds."""
    targets = [t for t in ("corr1", "query", "keys") if t in ds.target.values]
    d, N = int(ds.attrs["d"]), int(ds.attrs["N"])
    D = (N + 1) * d + 1
    fig, axes = figure(1, len(targets), figsize=(3.3 * len(targets), 3.3), sharey=True)
    axes = np.atleast_1d(axes)
    n = ds.n.values
    lowest = float(ds.test_err_best.sel(target=targets).mean("seed").min())
    floor = 10.0 ** np.floor(np.log10(max(lowest, 1e-6)))   # a decade below the best curve
    for ax, target in zip(axes, targets):
        for model in ds.model.values:
            color, ls, label = MODEL_STYLE[str(model)]
            seed_band(ax, n, ds.test_err_best.sel(model=model, target=target), color=color, ls=ls, label=label,
                      marker="o")
        ax.axhline(1.0, color="0.6", lw=0.8, ls=":")
        for x, text, side in ((d * d, r"$d^2$", 1.05), (D * D / 2, r"$D^2/2$", 0.95)):
            if n[0] <= x <= n[-1]:
                ax.axvline(x, color="0.5", lw=0.8, ls=":")
                ax.text(x * side, floor * 1.25, text, fontsize=8, color="0.35", ha="left" if side > 1 else "right")
        _loglog(ax, n)
        ax.set_ylim(floor, 1.6)
        ax.set_xlabel("training sequences n")
        ax.set_title(TARGET_TITLE.get(str(target), str(target)), fontsize=9)
    axes[0].set_ylabel("normalised test MSE")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=4, fontsize=8)
    return fig


def fig_sequence_length(ds: xr.Dataset) -> plt.Figure:
    """Dependence on the number of keys N (d = 8, M = 512 heads, RFMLP with P = M(d + 1) units, largest
    training size n of the sweep). Left: the key-averaged degree-1 correlation target, whose RFA error does
    not grow with N while the RFMLP, whose input dimension grows with N, loses it. Right: the control
    target sqrt(d) <x_0, x_1>, which depends on the first key only; dashed: 1 - 1/N, the exact error floor of
    every key-permutation-invariant predictor (shaded: unreachable for RFA); the RFMLP is not invariant and
    may go below it. Curves: mean over seeds; bands: mean +- 2 standard errors over seeds."""
    fig, (ax, bx) = figure(1, 2, figsize=(7.0, 3.2))
    N = ds.N.values
    n = int(ds.n[-1])
    for axis, target in ((ax, "corr1"), (bx, "ctrl")):
        for model in ds.model.values:
            color, ls, label = MODEL_STYLE[str(model)]
            seed_band(axis, N, ds.test_err_best.sel(model=model, target=target, n=n), color=color, ls=ls, label=label,
                      marker="o")
        log_axes(axis, y=False, base=2, xticks=N)
        axis.set_xlabel("keys per sequence N")
        axis.axhline(1.0, color="0.6", lw=0.8, ls=":")
    log_axes(ax, x=False)
    ax.set_ylim(1e-2, 1.6)
    ax.set_ylabel(f"normalised test MSE (n = {n})")
    ax.set_title(TARGET_TITLE["corr1"], fontsize=9)
    fine = np.geomspace(N[0], N[-1], 200)
    floor = np.array([theory.invariant_floor(v) for v in fine])
    bx.plot(fine, floor, "k--", lw=1, label=r"invariant floor $1 - 1/N$")
    bx.fill_between(fine, 0, floor, color="0.85", lw=0)
    bx.set_ylim(0, 1.15)
    bx.set_title(r"control $f_* = \sqrt{d}\,\langle x_0, x_1\rangle$ (not invariant)", fontsize=9)
    bx.legend(loc="lower right", fontsize=7)
    ax.legend(loc="center right", fontsize=7)
    return fig


def _degree_targets(ds: xr.Dataset) -> list[str]:
    return [str(t) for t in ds.target.values if str(t).startswith("corr")]


def fig_degree_staircase(ds: xr.Dataset) -> plt.Figure:
    """Target complexity against sample size (d = N = 8, M = 512 heads at paper scale): normalised test MSE of
    RFA on the correlation targets sqrt(N) mean_i Q_k(<x_0, x_i>) of Gegenbauer degree k = 1..4, for
    zero-mean query-key matrices (solid) and biased ones, W = mu sqrt(d) blockdiag(I_d, 0) + G with mu = 2
    (dashed). Zero-mean RFA learns only k = 1 in this range of n; the biased sampling trades a worse k = 1
    for progress on k = 2 and 3. Curves: mean over seeds; bands: mean +- 2 standard errors over seeds."""
    fig, ax = figure(1, 1, figsize=(4.6, 3.4))
    n = ds.n.values
    lowest = float(ds.test_err_best.sel(target=_degree_targets(ds)).mean("seed").min())
    for c, target in enumerate(_degree_targets(ds)):
        color = DEGREE_COLORS[c % len(DEGREE_COLORS)]
        for mu, ls in ((0.0, "-"), (2.0, "--")):
            if mu in ds.mu.values:
                seed_band(ax, n, ds.test_err_best.sel(mu=mu, target=target), color=color, ls=ls, marker="o",
                          label=f"k = {target[4:]}" if mu == 0 else None)
    ax.axhline(1.0, color="0.6", lw=0.8, ls=":")
    _loglog(ax, n)
    ax.set_ylim(10.0 ** np.floor(np.log10(max(lowest, 1e-6))), 1.6)
    ax.set_xlabel("training sequences n")
    ax.set_ylabel("normalised test MSE")
    handles, labels = ax.get_legend_handles_labels()
    handles += [plt.Line2D([], [], color="k", ls="-"), plt.Line2D([], [], color="k", ls="--")]
    labels += [r"zero mean ($\mu = 0$)", r"biased ($\mu = 2$)"]
    ax.legend(handles, labels, loc="lower left", fontsize=7, ncol=2)
    return fig


def fig_staircase_large_n(ds: xr.Dataset) -> plt.Figure:
    """Degree staircase of zero-mean random-feature attention up to the sample size at which degree 2 is
    learned (d = N = 8, M = 512 heads, p = (d + 1) M = 4608 trainable weights at paper scale): normalised test
    MSE on the correlation targets sqrt(N) mean_i Q_k(<x_0, x_i>) of Gegenbauer degree k = 1..4 against the
    number of training sequences n, ridge penalty chosen on a validation set. Degree 1 is learned from a few
    hundred sequences, degree 2 only once n is in the thousands, degrees 3 and 4 not at all in this range.
    Dotted vertical: n = p; to its right ridge is solved in primal form (same estimator). Curves: mean over
    seeds; bands: mean +- 2 standard errors over seeds."""
    fig, ax = figure(1, 1, figsize=(4.6, 3.4))
    n = ds.n.values
    targets = _degree_targets(ds)
    lowest = float(ds.test_err_best.sel(target=targets).mean("seed").min())
    floor = 10.0 ** np.floor(np.log10(max(lowest, 1e-6)))
    for c, target in enumerate(targets):
        seed_band(ax, n, ds.test_err_best.sel(target=target), color=DEGREE_COLORS[c % len(DEGREE_COLORS)],
                  marker="o", ls="--" if c >= 3 else "-", label=f"k = {target[4:]}")   # k = 4 dashed over k = 3 at 1
    p = int(ds.attrs["heads"]) * (int(ds.attrs["d"]) + 1)
    if n[0] <= p <= n[-1]:
        ax.axvline(p, color="0.5", lw=0.8, ls=":")
        ax.text(p * 1.08, floor * 1.25, f"n = p = {p}", fontsize=7, color="0.35")
    ax.axhline(1.0, color="0.6", lw=0.8, ls=":")
    _loglog(ax, n)
    ax.set_ylim(floor, 1.6)
    ax.set_xlabel("training sequences n")
    ax.set_ylabel("normalised test MSE")
    ax.set_title(r"zero-mean RFA ($\mu = 0$)", fontsize=9)
    ax.legend(loc="lower left", fontsize=7)
    return fig


def fig_bias_ratio(ds: xr.Dataset) -> plt.Figure:
    """Effect of the mean of the query-key matrices, W = mu sqrt(d) blockdiag(I_d, 0) + G (G standard
    Gaussian; the pre-activation's signal term mu sqrt(d) <x_0, x_i> has variance mu^2, its noise term
    variance 4): normalised test MSE of RFA at the largest training size of the sweep (n = 2048 at paper
    scale, d = N = 8, M = 512) against mu, one curve per Gegenbauer degree k of the correlation target.
    mu = 0 is the zero-mean RFA; the horizontal axis is linear below mu = 0.5 and logarithmic above.
    Curves: mean over seeds; bands: mean +- 2 standard errors over seeds."""
    fig, ax = figure(1, 1, figsize=(4.6, 3.4))
    sub = ds.test_err_best.isel(n=-1)
    mu = ds.mu.values
    for c, target in enumerate(_degree_targets(ds)):
        seed_band(ax, mu, sub.sel(target=target), color=DEGREE_COLORS[c % len(DEGREE_COLORS)], marker="o",
                  label=f"k = {target[4:]}")
    ax.axhline(1.0, color="0.6", lw=0.8, ls=":")
    ax.set_xscale("symlog", linthresh=0.5, linscale=0.5)
    ax.set_xticks(mu, [f"{v:g}" for v in mu])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlim(-0.05, mu.max() * 1.15)
    ax.set_xlabel(r"mean scale $\mu$ of the query-key matrices")
    ax.set_ylabel(f"normalised test MSE (n = {int(ds.n[-1])})")
    ax.set_ylim(0, 1.15)
    ax.legend(loc="lower right", fontsize=7)
    return fig


def fig_kernel_convergence(ds: xr.Dataset) -> plt.Figure:
    """Finite heads against the infinite-head limit (d = N = 8 at paper scale). Left: relative Frobenius
    error of the RFA Gram matrix Phi Phi^T against the closed-form kernel K on 60 sequences, root mean square
    over independent head draws (thin: one line per seed); dashed: least-squares fit of the seed mean, dotted:
    slope -1/2 (Monte-Carlo rate). Right: ridge test MSE on the degree-1 correlation target with n = 512
    training sequences against M (mean over seeds, band: mean +- 2 standard errors over seeds); horizontal line: kernel ridge
    regression with the limit kernel, mean over seeds, grey band: its seed range."""
    fig, (ax, bx) = figure(1, 2, figsize=(7.2, 3.2))
    M = ds.M.values
    rms = np.sqrt((ds.gram_rel_err**2).mean("draw")).transpose("seed", "M")
    for row in rms.values:
        ax.plot(M, row, color="#1f77b4", lw=0.6, alpha=0.5)
    mean = rms.mean("seed").values
    ax.plot(M, mean, "o", color="#1f77b4", ms=4, label="mean over seeds")
    fit = loglog_slope(M, rms.values)
    ax.plot(M, mean[0] * (M / M[0]) ** fit.slope, "k--", lw=1, label=f"fit: slope {fit.slope:.2f}")
    ax.plot(M, mean[0] * (M / M[0]) ** -0.5, color="0.5", ls=":", lw=1.2, label="slope -1/2")
    _loglog(ax, M, subs=(1.0, 2.0, 5.0))
    ax.set_xlabel("heads M")
    ax.set_ylabel(r"$\|\Phi\Phi^\top - K\|_F \,/\, \|K\|_F$")
    ax.legend(fontsize=7)
    seed_band(bx, M, ds.test_err_best, color="#1f77b4", marker="o", label="RFA, M heads")
    krr = ds.krr_test_err_best
    bx.axhspan(float(krr.min()), float(krr.max()), color="0.5", alpha=0.2, lw=0)
    bx.axhline(float(krr.mean()), color="0.3", ls="--", lw=1, label=r"KRR, limit kernel ($M\to\infty$)")
    _loglog(bx, M, subs=(1.0, 2.0, 5.0))
    bx.set_xlabel("heads M")
    bx.set_ylabel(f"normalised test MSE (n = {int(ds.attrs['n_train'])})")
    bx.legend(fontsize=7)
    return fig
