"""Figures of the ALF-LB study: one function per figure, Dataset in, Figure out.

Each function's docstring is the figure's caption.  Reference values (bound slopes,
noise level, optimal prices) were computed by :mod:`theory` at simulation time and are
read from the Dataset; nothing here runs a simulation.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from matplotlib.ticker import LogLocator

from theorylab.core.plotting import figure, log_axes, seed_band

STEP_COLORS = {1e-4: "#1f77b4", 1e-3: "#2ca02c", 1e-2: "#d62728"}
POLICY_STYLE = {"grad-theory": ("#2ca02c", r"grad, $\eta_n = 1/(\mu n)$"),
                "grad-harmonic": ("#9467bd", r"grad, $\eta_n = 0.2/(\mu n)$"),
                "grad-const": ("#ff7f0e", r"grad, $\eta = 0.05/\mu$"),
                "sign-const": ("#d62728", r"sign, $u = 10^{-2}$")}


def _step_color(step: float) -> str:
    return STEP_COLORS.get(min(STEP_COLORS, key=lambda s: abs(np.log(s / step))), "k")


def _moving_average(y: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    window = max(1, min(window, y.size))
    kernel = np.ones(window) / window
    return np.arange(y.size - window + 1) + (window - 1) / 2, np.convolve(y, kernel, mode="valid")


# --- deterministic setting ---------------------------------------------------------------------------

def fig_dual_gap(ds: xr.Dataset) -> plt.Figure:
    """Dual objective along ALF-LB in the deterministic setting (one fixed batch, seed 0). D(p^n) - OPT,
    with OPT the exact LP optimum (HiGHS), for the sign rule (DeepSeek's update) and the proportional rule
    at three update rates u (score units). Weak duality keeps every curve above 0; the grey floor is
    D = OPT to float64 precision (exactly balanced routing). Constant sign steps end in a 2-cycle whose
    dual gap grows with u; the proportional rule's steps shrink with the violation and reach the
    optimum."""
    sub = ds.isel(seed=0)
    opt = float(sub.opt_value.max())
    floor = 1e-9 * abs(opt)
    fig, axes = figure(1, ds.sizes["rule"], figsize=(3.4 * ds.sizes["rule"], 3.2), sharey=True)
    for ax, rule in zip(np.atleast_1d(axes), ds.rule.values):
        for step in ds.step.values:
            gap = sub.dual_gap.sel(rule=rule, step=step).values
            ax.plot(sub.iter + 1, np.maximum(gap, floor), color=_step_color(step), label=f"u = {step:g}")
        ax.axhspan(floor * 0.3, floor, color="0.85", lw=0)
        ax.text(1.2, floor * 0.5, "D = OPT (float64)", fontsize=7, va="center", color="0.35")
        log_axes(ax)
        ax.set_xlabel("iteration n + 1")
        ax.set_title({"sign": r"sign rule: $p_k \leftarrow p_k + u\,\mathrm{sign}(L - A_k)$",
                      "prop": r"proportional: $p_k \leftarrow p_k + u\,(L - A_k)/L$"}.get(str(rule), str(rule)))
    np.atleast_1d(axes)[0].set_ylabel(r"$D(p^n) - \mathrm{OPT}$ (score units)")
    np.atleast_1d(axes)[0].legend(loc="lower left", bbox_to_anchor=(0.0, 0.12))
    return fig


def _price_violation(bias: np.ndarray, W: np.ndarray) -> np.ndarray:
    """max over k != j of (p_j - p_k - W[k, j])^+ per row of ``bias``: 0 iff p is an optimal dual."""
    finite = np.isfinite(W)
    gap = bias[:, None, :] - bias[:, :, None] - np.where(finite, W, 0.0)[None]
    return np.where(finite[None], np.maximum(gap, 0.0), 0.0).max(axis=(1, 2))


def fig_bias_vs_prices(ds: xr.Dataset) -> plt.Figure:
    """Bias trajectories against the optimal dual prices (deterministic setting, seed 0). Top, sign rule:
    p_k^n - p_0^n for six experts; shaded bands (mostly thinner than the lines): the exact range of p_k - p_0
    over the set of optimal LP duals (clearing prices; shortest paths on the difference constraints p_j -
    p_k <= gamma_ik - gamma_ij); dotted: the HiGHS vertex dual. Small u settles on the prices; larger u
    ends in a 2-cycle of amplitude u around them. Bottom: the largest violation of the clearing-price
    constraints, 0 exactly when p^n is an optimal dual (values below 1e-12 drawn at 1e-12)."""
    sub = ds.isel(seed=0)
    steps = ds.step.values
    E = ds.sizes["expert"]
    shown = np.unique(np.linspace(1, E - 1, min(6, E - 1)).round().astype(int))
    colors = plt.get_cmap("tab10").colors
    fig = plt.figure(figsize=(3.2 * len(steps), 5.6), layout="constrained")
    grid = fig.add_gridspec(2, len(steps), height_ratios=[1.3, 1])
    sign = sub.sel(rule="sign")
    p_star = sign.p_star.isel(step=0).values
    axes = [fig.add_subplot(grid[0, 0])]
    axes += [fig.add_subplot(grid[0, j], sharey=axes[0]) for j in range(1, len(steps))]
    for ax, step in zip(axes, steps):
        run = sign.sel(step=step)
        rel = run.bias.values - run.bias.values[:, :1]
        lo, hi = run.price_lo.values, run.price_hi.values
        for c, k in enumerate(shown):
            color = colors[c % 10]
            ax.axhspan(lo[k], hi[k], color=color, alpha=0.35, lw=0)
            ax.axhline(p_star[k] - p_star[0], color=color, ls=":", lw=0.8)
            ax.plot(run.iter + 1, rel[:, k], color=color, lw=0.6, label=f"k = {k}")
        log_axes(ax, y=False)
        ax.set_title(f"sign rule, u = {step:g}")
        ax.set_xlabel("iteration n + 1")
    axes[0].set_ylabel(r"$p_k^n - p_0^n$ (score units)")
    axes[-1].legend(loc="lower right", fontsize=7, ncol=2)
    bx = fig.add_subplot(grid[1, :])
    W = sub.price_constraint.isel(rule=0, step=0).values
    for rule, ls in zip(ds.rule.values, ("-", "--")):
        for step in steps:
            bias = sub.bias.sel(rule=rule, step=step).values
            bx.plot(sub.iter + 1, np.maximum(_price_violation(bias, W), 1e-12), ls=ls, color=_step_color(step),
                    lw=1.0, label=f"{rule}, u = {step:g}")
    log_axes(bx)
    bx.set_xlabel("iteration n + 1")
    bx.set_ylabel("clearing-price violation\n(score units)")
    bx.legend(fontsize=7, ncol=2, loc="lower left")
    return fig


def fig_balance_bound(ds: xr.Dataset) -> plt.Figure:
    """Approximate balance and the preference rule (deterministic setting, seed 0, sign rule). Left: the
    measured imbalance max_k |A_k - L| (solid) and the bound M(delta) = number of tokens whose LP margin
    gap_i is within 2 delta(p^n) of a tie (dashed), delta the sup-norm distance of p^n to the LP dual modulo
    1; the bound holds at every iteration. Right: token moves between consecutive iterations by the status
    of the expert left (rows) and entered (columns), summed over u and seeds: only over -> balanced/under
    and balanced -> under occur."""
    sub = ds.isel(seed=0).sel(rule="sign")
    fig, (ax, hax) = figure(1, 2, figsize=(8.0, 3.2), gridspec_kw={"width_ratios": [1.8, 1]})
    for step in ds.step.values:
        run = sub.sel(step=step)
        color = _step_color(step)
        ax.plot(run.iter + 1, run.imbalance, color=color, lw=1.0)
        ax.plot(run.iter + 1, run.balance_bound, color=color, lw=1.0, ls="--")
    log_axes(ax, y=False)
    ax.set_yscale("symlog", linthresh=1)
    ax.set_ylim(-0.3, None)
    ax.set_xlabel("iteration n + 1")
    ax.set_ylabel("tokens")
    handles = [plt.Line2D([], [], color=_step_color(s_), label=f"u = {s_:g}") for s_ in ds.step.values]
    handles += [plt.Line2D([], [], color="k", label=r"measured $\max_k |A_k - L|$"),
                plt.Line2D([], [], color="k", ls="--", label=r"bound $M(\delta(p^n))$")]
    ax.legend(handles=handles, fontsize=7, loc="lower left")
    flow = ds.flow.sel(rule="sign")
    flow = flow.sum([d for d in flow.dims if d not in ("status_from", "status_to")])
    im = hax.imshow(np.log10(1 + flow.values), cmap="Blues")
    for i in range(3):
        for j in range(3):
            count = int(flow.values[i, j])
            hax.text(j, i, f"{count}" if count < 100_000 else f"{count:.2e}", ha="center", va="center",
                     fontsize=8)
    hax.set_xticks(range(3), flow.status_to.values)
    hax.set_yticks(range(3), flow.status_from.values)
    hax.set_xlabel("status of expert entered")
    hax.set_ylabel("status of expert left")
    hax.set_title("token moves (sign rule)")
    fig.colorbar(im, ax=hax, label=r"$\log_{10}(1 + \mathrm{moves})$", shrink=0.8)
    return fig


def fig_topk_bruteforce(ds: xr.Dataset) -> plt.Figure:
    """Top-K routing maximises the Lagrangian (tiny instances: 5 tokens, 5 experts). Left: L(x(p), p) of
    the kernel's top-K routing by gamma + p against the maximum of L(x, p) over every assignment with K
    experts per token, found by enumeration; open markers: instances with a tie at some token's K-th
    biased score (scores and biases on a 0.5 grid), where the lowest-index tie-break picks one of several
    maximisers. Right: the largest relative difference per K and score grid, against float64 epsilon."""
    fig, (ax, bx) = figure(1, 2, figsize=(8.0, 3.3), gridspec_kw={"width_ratios": [1, 1.2]})
    colors = plt.get_cmap("tab10").colors
    for c, k in reversed(list(enumerate(ds.top_k.values))):
        sub = ds.sel(top_k=k)
        brute = sub.bruteforce_value.values.ravel()
        kern = sub.kernel_value.values.ravel()
        tied = sub.tied.values.ravel()
        ax.plot(brute[~tied], kern[~tied], "o", ms=3, alpha=0.6, color=colors[c], label=f"K = {k}")
        ax.plot(brute[tied], kern[tied], "o", ms=4, mfc="none", alpha=0.6, color=colors[c])
    lim = [float(ds.bruteforce_value.min()), float(ds.bruteforce_value.max())]
    ax.plot(lim, lim, "k-", lw=0.6)
    ax.set_xlabel(r"$\max_{x \in X} \mathcal{L}(x, p)$ (enumeration)")
    ax.set_ylabel(r"$\mathcal{L}(x(p), p)$, kernel top-K")
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], fontsize=7)
    width = 0.8 / ds.sizes["quantum"]
    for j, q in enumerate(ds.quantum.values):
        sub = ds.sel(quantum=q)
        err = (np.abs(sub.kernel_value - sub.bruteforce_value) / np.abs(sub.bruteforce_value).max()).max(
            [d for d in sub.kernel_value.dims if d != "top_k"])
        x = np.arange(ds.sizes["top_k"]) + (j - (ds.sizes["quantum"] - 1) / 2) * width
        label = "continuous scores" if q == 0 else f"scores on a {q:g} grid (ties)"
        bx.bar(x, np.maximum(err.values, 1e-18), width=width, label=label, color=colors[j + 4])
        for xi, e in zip(x, err.values):
            if e == 0:
                bx.text(xi, 1.5e-18, "0", ha="center", va="bottom", fontsize=8)
    bx.axhline(np.finfo(float).eps, color="0.3", ls=":", lw=1)
    bx.text(-0.4, np.finfo(float).eps * 1.3, "float64 epsilon", fontsize=7, color="0.3")
    log_axes(bx, x=False)
    bx.set_ylim(1e-18, 1e-12)
    bx.set_xticks(range(ds.sizes["top_k"]), [f"K = {k}" for k in ds.top_k.values])
    bx.set_ylabel("max relative difference\n(differences of 0 drawn at 1e-18)")
    bx.legend(fontsize=7, loc="upper right")
    return fig


# --- online testbed ---------------------------------------------------------------------------------

def fig_regret(ds: xr.Dataset) -> plt.Figure:
    """Regret of online dual steps on the Gumbel K = 1 testbed (fresh batch each iteration), against the
    closed-form expected dual F: R(N) = sum_{n<N} F(p^n) - F(p*). Left: steps 1/(mu n), a too-small 1/n
    step (eta0 mu = 0.2 < 1/2, regret ~ N^0.6), and constant steps (linear regret; dotted: proportional
    to N). Right: the 1/(mu n) schedule alone on a log N axis; dashed: slope G^2/(2 mu) of the
    online-gradient bound, anchored at N = 100 (the level above it is the start-up transient from
    p = 0). Lines: mean over seeds; bands: mean +- 2 standard errors over seeds."""
    fig, (ax, bx) = figure(1, 2, figsize=(8.0, 3.2))
    N = ds.N.values
    for policy in ds.policy.values:
        color, label = POLICY_STYLE.get(str(policy), ("k", str(policy)))
        seed_band(ax, N, ds.regret.sel(policy=policy).transpose("seed", "N"), color=color, label=label)
    last = ds.regret.sel(policy="grad-const").mean("seed").values[-1]
    ax.plot(N, last * N / N[-1], color="0.5", ls=":", lw=1, label=r"$\propto N$")
    log_axes(ax)
    ax.set_ylim(bottom=0.5 * float(ds.regret.min()))
    ax.set_xlabel("iterations N")
    ax.set_ylabel("regret R(N) (score units)")
    ax.legend(fontsize=7)
    reg = ds.regret.sel(policy="grad-theory")
    slope = float(ds.bound_slope.sel(policy="grad-theory").max())
    seed_band(bx, N, reg.transpose("seed", "N"), color="#2ca02c", label=r"grad, $\eta_n = 1/(\mu n)$")
    anchor = N[np.searchsorted(N, 100)]
    base = float(reg.mean("seed").sel(N=anchor))
    ref = N[N >= anchor]
    bx.plot(ref, base + slope * np.log(ref / anchor), "k--", lw=1,
            label=rf"slope $G^2/(2\mu)$ = {slope:.2f} per unit $\ln N$")
    log_axes(bx, y=False)
    bx.set_xlabel("iterations N")
    bx.set_ylabel("regret R(N) (score units)")
    bx.legend(fontsize=7, loc="upper left")
    return fig


# --- synthetic router -------------------------------------------------------------------------------

FAMILY_COLORS = {"none": "k", "sinkhorn": "#9467bd", "capacity": "#e377c2", "expert_choice": "0.5"}
AUX_COLORS = ["#8c564b", "#d62728", "#ff7f0e", "#bcbd22"]
LOSSFREE_COLORS = {1e-4: "#9ecae1", 1e-3: "#1f77b4", 1e-2: "#08306b"}


def _variant_style(ds: xr.Dataset) -> dict[str, tuple[str, str]]:
    """Colour and marker of every variant (loss-free: blues by u; aux: warm colours by alpha)."""
    style, n_aux = {}, 0
    for v, f, h in zip(ds.variant.values, ds.family.values, ds.hyper.values):
        if f == "loss_free":
            color = LOSSFREE_COLORS.get(min(LOSSFREE_COLORS, key=lambda s_: abs(np.log(s_ / h))), "#1f77b4")
            style[str(v)] = (color, "o")
        elif f == "aux":
            style[str(v)] = (AUX_COLORS[n_aux % len(AUX_COLORS)], "s")
            n_aux += 1
        else:
            style[str(v)] = (FAMILY_COLORS.get(str(f), "0.5"), {"none": "x", "sinkhorn": "^"}.get(str(f), "v"))
    return style


def fig_maxvio_methods(ds: xr.Dataset) -> plt.Figure:
    """Load balance of routing methods on one drifting synthetic sigmoid router (a single MoE layer; every
    method sees the same batches). Left: MaxVio_batch = (max_k A_k - L)/L, moving average over 2.5% of
    training, seed 0; expert choice is exactly balanced (MaxVio = 0, not drawn) but leaves some tokens
    without an expert; capacity dropping caps the processed load at 1.25 L. Dotted: MaxVio of perfectly
    balanced expected loads with binomial sampling noise. Right: MaxVio_global (held-out batches, frozen
    router state) against the routed affinity relative to unconstrained top-K, mean over seeds; legend:
    aux-loss gate interference |g - sigmoid(z)| (loss-free: 0 by construction) and the affinity the
    aux-loss routing loses against the best routing with the same expert loads (LP; loss-free loses
    none). Loss-free balancing never changes a gate; the aux-loss runs trade gate distortion for balance
    and keep more affinity only where they stay unbalanced (DeepSeek Fig. 2 / Tab. 2 analogue;
    perplexity is not simulated)."""
    sub = ds.isel(seed=0)
    mean = ds.mean("seed")
    n = ds.sizes["iter"]
    window = max(5, n // 40)
    style = _variant_style(ds)
    fig, (ax, bx) = figure(1, 2, figsize=(9.5, 4.4), gridspec_kw={"width_ratios": [1.3, 1]})
    for v, f, h in zip(ds.variant.values, ds.family.values, ds.hyper.values):
        v = str(v)
        if f == "expert_choice" or (f == "loss_free" and not np.isclose(h, 1e-3)):
            continue
        x, y = _moving_average(sub.maxvio_batch.sel(variant=v).values, window)
        ax.plot(x, y, color=style[v][0], lw=1.1)
    floor = float(ds.attrs["noise_floor"])
    ax.axhline(floor, color="0.4", ls=":", lw=0.9)
    ax.text(0, floor, "sampling noise", ha="left", va="bottom", fontsize=7, color="0.4")
    log_axes(ax, x=False)
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.set_xlabel("iteration (batch)")
    ax.set_ylabel(r"MaxVio$_\mathrm{batch}$")
    handles = []
    for v, f in zip(ds.variant.values, ds.family.values):
        v, f = str(v), str(f)
        mv = float(mean.maxvio_global.sel(variant=v))
        q = float(mean.quality_global.sel(variant=v))
        label = v.replace("alpha=", "α=")
        if f == "aux":
            short = float(((mean.lp_batch_best_at_loads - mean.lp_batch_affinity) / mean.lp_batch_best_at_loads)
                          .sel(variant=v))
            label += f" (|Δg| {float(mean.interference_global.sel(variant=v)):.3f}; affinity -{short:.2%})"
        elif f == "capacity":
            label += f" (drops {float(mean.dropped_global.sel(variant=v)):.0%}, affinity {q:.3f})"
        elif f == "expert_choice":
            label += f" (MaxVio 0; {float(mean.dropped_global.sel(variant=v)):.1%} tokens idle)"
        if f not in ("capacity", "expert_choice"):
            bx.plot(mv, q, style[v][1], color=style[v][0], ms=7 if f == "none" else 6, mew=1.5,
                    zorder=3 if f == "none" else 2)
        handles.append(plt.Line2D([], [], color=style[v][0], marker=style[v][1], ls="-", ms=5, label=label))
    log_axes(bx, y=False)
    bx.set_xlabel(r"MaxVio$_\mathrm{global}$")
    bx.set_ylabel("routed affinity / unconstrained top-K")
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=7)
    return fig


def fig_update_rate(ds: xr.Dataset) -> plt.Figure:
    """Update-rate sweep of loss-free balancing on the drifting synthetic router (DeepSeek Fig. 4
    analogue, seed 0): MaxVio_batch, moving average over 2.5% of training, for u = 1e-4, 1e-3, 1e-2 (score
    units; the mean gap between a token's K-th and (K+1)-th score is given in the title). u = 1e-4 balances
    slowly at first; u = 1e-2 balances fast but its biases jump by u each step and keep the late MaxVio
    above u = 1e-3. Legend: MaxVio_global (held-out batches, frozen biases, mean over seeds). Dotted:
    MaxVio of perfectly balanced expected loads with binomial sampling noise."""
    sub = ds.isel(seed=0)
    n = ds.sizes["iter"]
    window = max(5, n // 40)
    fig, ax = figure(figsize=(4.8, 3.3))
    lf = [(v, h) for v, f, h in zip(ds.variant.values, ds.family.values, ds.hyper.values) if f == "loss_free"]
    for v, h in lf:
        x, y = _moving_average(sub.maxvio_batch.sel(variant=v).values, window)
        mvg = float(ds.maxvio_global.sel(variant=v).mean())
        ax.plot(x, y, color=_variant_style(ds)[str(v)][0], label=f"u = {h:g}  (MaxVio$_{{global}}$ {mvg:.3f})")
    floor = float(ds.attrs["noise_floor"])
    ax.axhline(floor, color="0.4", ls=":", lw=0.9)
    ax.text(n, floor, "sampling noise", ha="right", va="bottom", fontsize=7, color="0.4")
    log_axes(ax, x=False)
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.set_xlabel("iteration (batch)")
    ax.set_ylabel(r"MaxVio$_\mathrm{batch}$")
    ax.set_title(f"mean gap between a token's K-th and (K+1)-th score: {float(ds.score_gap.mean()):.3f}",
                 fontsize=8)
    ax.legend(fontsize=7)
    return fig


# --- trained mixture of experts ----------------------------------------------------------------------

def _trained_style(ds: xr.Dataset) -> dict[str, tuple[str, str]]:
    style, n_aux = {}, 0
    order = np.argsort(ds.hyper.values)
    for i in order:
        v, f, h = str(ds.variant.values[i]), ds.family.values[i], ds.hyper.values[i]
        if f == "loss_free":
            style[v] = (LOSSFREE_COLORS.get(min(LOSSFREE_COLORS, key=lambda s_: abs(np.log(s_ / h))), "#1f77b4"), "o")
        elif f == "aux":
            style[v] = (AUX_COLORS[n_aux % len(AUX_COLORS)], "s")
            n_aux += 1
        else:
            style[v] = ("k", "x")
    return style


def _mean_2se(da: xr.DataArray) -> tuple[float, float]:
    n = da.sizes.get("seed", 1)
    half = 2.0 * float(da.std("seed", ddof=1)) / np.sqrt(n) if n > 1 else 0.0
    return float(da.mean()), half


def fig_trained_tradeoff(ds: xr.Dataset) -> plt.Figure:
    """Balance against model quality of a trained MoE layer (DeepSeek Fig. 2 / Tab. 2 analogue on our
    clustered regression task, one layer; E = 16 experts, K = 2, 8 clusters each with its own affine target
    map). x: MaxVio_global over the held-out set after training; y: held-out loss 0.5 |y_hat - y|^2 (dotted:
    the Bayes loss of the exact cluster maps). Every method trains from the same initial weights on the same
    batches: no balancing (cross), loss-free balancing with DeepSeek's sign rule at update rates u (circles)
    and the auxiliary loss alpha sum_k f_k P_k at weights alpha (squares, joined in order of alpha). Markers:
    mean over seeds; bars: mean +- 2 standard errors over seeds."""
    style = _trained_style(ds)
    fig, ax = figure(figsize=(5.6, 4.0))
    aux_pts = []
    rank = {"none": 0, "loss_free": 1, "aux": 2}
    for v, f, h in sorted(zip(ds.variant.values, ds.family.values, ds.hyper.values), key=lambda t: (rank[t[1]], t[2])):
        v = str(v)
        x, xe = _mean_2se(ds.maxvio_global.sel(variant=v))
        y, ye = _mean_2se(ds.heldout_loss.sel(variant=v))
        color, marker = style[v]
        label = v.replace("alpha=", "α=") + f"  (loss {y:.3f}, MaxVio {x:.2f})"
        ax.errorbar(x, y, xerr=xe, yerr=ye, fmt=marker, color=color, ms=6, mew=1.5, capsize=2, lw=0.8, label=label)
        if f == "aux":
            aux_pts.append((x, y))
    if aux_pts:
        ax.plot(*zip(*aux_pts), color="0.6", lw=0.8, ls="-", zorder=0)
    ax.axhline(float(ds.loss_floor.max()), color="0.4", ls=":", lw=0.9)
    log_axes(ax)
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.text(1.0, float(ds.loss_floor.max()) * 1.05, "Bayes loss", fontsize=7, color="0.4", va="bottom", ha="right",
            transform=ax.get_yaxis_transform())
    ax.set_xlabel(r"MaxVio$_\mathrm{global}$ (held-out set)")
    ax.set_ylabel("held-out loss")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def fig_trained_curves(ds: xr.Dataset) -> plt.Figure:
    """Training of the MoE layer (DeepSeek Figs. 3-4 analogue on our clustered regression task). Left:
    MaxVio_batch of each training batch, moving average over 2.5% of training, for loss-free balancing at
    three update rates u and the auxiliary loss at alpha = 1e-2 and 1 (and no balancing). Right: held-out loss
    along training (axis cut at 0.5; it starts near 20). The spikes of u = 1e-2 are steps at which its biases,
    moving by 1e-2 per step, switch many tokens at once. Lines: mean over seeds; bands: mean +- 2 standard
    errors over seeds."""
    style = _trained_style(ds)
    n = ds.sizes["iter"]
    window = max(5, n // 40)
    fig, (ax, bx) = figure(1, 2, figsize=(9.5, 3.6))
    alphas = sorted(h for f, h in zip(ds.family.values, ds.hyper.values) if f == "aux")
    shown_aux = {alphas[len(alphas) // 2 - 1], alphas[-1]} if len(alphas) > 1 else set(alphas)
    for v, f, h in zip(ds.variant.values, ds.family.values, ds.hyper.values):
        v = str(v)
        if f == "aux" and h not in shown_aux:
            continue
        color = style[v][0]
        mv = ds.maxvio_batch.sel(variant=v).transpose("seed", "iter").values
        smooth = np.stack([_moving_average(row, window)[1] for row in mv])
        x = _moving_average(mv[0], window)[0]
        seed_band(ax, x, xr.DataArray(smooth, dims=("seed", "iter")), color=color, label=v.replace("alpha=", "α="))
        seed_band(bx, ds.record.values, ds.eval_loss.sel(variant=v).transpose("seed", "record"), color=color)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("SGD step")
    ax.set_ylabel(r"MaxVio$_\mathrm{batch}$")
    ax.legend(fontsize=7, ncol=2)
    bx.axhline(float(ds.loss_floor.max()), color="0.4", ls=":", lw=0.9)
    bx.text(n, float(ds.loss_floor.max()) * 1.05, "Bayes loss", ha="right", va="bottom", fontsize=7, color="0.4")
    bx.set_ylim(0, 0.5)
    bx.set_xlabel("SGD step")
    bx.set_ylabel("held-out loss")
    return fig
