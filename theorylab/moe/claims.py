"""Claims of the ALF-LB study, evaluated on experiment Datasets.

Sources: ``paper`` only for what the DeepSeek paper (Wang et al. 2024) verifiably
states (its Tables 1-2 and Figures 2 and 4, here checked qualitatively on a synthetic
router and on a small MoE layer trained on a clustered regression task: the statements
are theirs, the settings ours);
``derived`` for statements that follow provably from the assignment LP and its dual
(or from the classical analysis of online strongly convex gradient descent) and are
checked against an exact comparator (HiGHS LP, brute-force enumeration, closed-form
expected dual).  The Han & Zhong theorems themselves could not be read in full, so
no claim here says it reproduces one of them: the derived statements are the
provable counterparts of what their abstract announces.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from theorylab.core.claims import Claim, fmt, is_monotone

REL_TOL = 1e-9  # float64 sums of <= 2e4 terms of O(1): relative rounding <= 1e-12, kept with margin


def _dual_tol(ds: xr.Dataset) -> float:
    return REL_TOL * float(np.abs(ds.opt_value).max())


# --- deterministic setting -------------------------------------------------------------------------

def _dual_step(ds: xr.Dataset):
    L = float(ds.attrs["target_load"])
    err, worst_neg, path_err = 0.0, 0.0, 0.0
    for rule in ds.rule.values:
        sub = ds.sel(rule=rule)
        e = L - sub.loads.isel(iter=slice(None, -1)).values.astype(float)   # L - A^n: (step, seed, update, expert)
        inc = sub.increment.values
        eta = sub.step_size.values[..., None]
        if rule == "sign":
            eps = np.divide(eta, np.abs(e), out=np.zeros_like(e), where=e != 0)   # u / |L - A_k|
        elif rule == "prop":
            eps = np.broadcast_to(eta / L, e.shape)
        else:
            eps = np.broadcast_to(eta, e.shape)
        expected = eps * e
        scale = np.maximum(np.abs(expected), 1e-300)
        err = max(err, float((np.abs(inc - expected) / scale).max()))
        with np.errstate(divide="ignore", invalid="ignore"):
            implied = np.where(e != 0, inc / e, 0.0)
        worst_neg = min(worst_neg, float(implied.min()))
        path = np.diff(sub.bias.values, axis=-2)   # the stored bias path is the sum of the increments
        path_err = max(path_err, float(np.abs(path - inc).max() / np.abs(sub.bias.values).max()))
    # the same float operations in a different order: a few ulps (1e-15 relative); 1e-12 is far from a sign
    # or scale error (relative error >= 1)
    passed = err < 1e-12 and path_err < 1e-12 and worst_neg >= 0.0
    return (f"max relative deviation {err:.1e}; min implied eps {worst_neg:.1e}; bias path vs increments "
            f"{path_err:.1e}",
            "dp = eps (L - A) with eps_k = u/|L - A_k| (sign), u/L (prop), eps >= 0",
            "relative 1e-12 (float64)", passed, "rules: " + ", ".join(map(str, ds.rule.values)))


def _weak_duality(ds: xr.Dataset):
    tol = _dual_tol(ds)
    gap = (ds.dual_value - ds.opt_value).min()
    strong = float(np.abs(ds.dual_at_p_star - ds.opt_value).max())
    integral = float(ds.lp_integrality.max())
    passed = float(gap) >= -tol and strong <= tol and integral <= 1e-9
    return (f"min_n D(p^n) - OPT = {float(gap):.2e}; |D(p*) - OPT| = {strong:.1e}; LP integrality {integral:.0e}",
            "D(p^n) >= OPT every iteration; D(p*) = OPT; integral LP vertex",
            f"{tol:.1e} (1e-9 |OPT|, float64 sums)", passed,
            "OPT: HiGHS dual simplex on the box-constrained LP; p*: its dual prices")


def _sandwich(ds: xr.Dataset):
    tol = _dual_tol(ds)
    dD = ds.dual_value.diff("iter").values
    lo, hi = ds.sandwich_lo.values, ds.sandwich_hi.values
    below, above = lo - dD, dD - hi
    bad = int(np.sum((below > tol) | (above > tol)))
    worst = float(max(below.max(), above.max()))
    return (f"{bad} of {dD.size} updates outside; worst excess {worst:.1e}",
            "(A^n - L).dp^n <= D(p^{n+1}) - D(p^n) <= (A^{n+1} - L).dp^n at every update",
            f"{tol:.1e} (1e-9 |OPT|)", bad == 0, "convexity of D with subgradients A - L at both ends")


def _monotone(ds: xr.Dataset):
    tol = _dual_tol(ds)
    dD = ds.dual_value.diff("iter").values
    cond = ds.sandwich_hi.values <= 0
    rises = int(np.sum(dD[cond] > tol))
    n_cond = int(cond.sum())
    worst = float(dD[cond].max()) if n_cond else np.nan
    passed = n_cond > 0 and rises == 0
    return (f"{n_cond} of {cond.size} updates meet the condition; {rises} of them raise D (max dD {worst:.1e})",
            "D non-increasing whenever (A^{n+1} - L).dp^n <= 0", f"{tol:.1e}", passed,
            "the condition is the upper sandwich bound being non-positive")


def _preference(ds: xr.Dataset):
    violations = int(ds.violations.sum())
    neutral = int(ds.neutral_moves.sum())
    flow = ds.flow.sel(rule="sign")
    flow = flow.sum([d for d in flow.dims if d not in ("status_from", "status_to")])
    # sign rule: dp in {-u, 0, u} by status over/balanced/under, so moves go strictly "down" the status order
    order = {s: i for i, s in enumerate(ds.status_from.values)}
    off = sum(int(flow.sel(status_from=a, status_to=b)) for a in order for b in order if order[b] <= order[a])
    moves = int(ds.flow.sum())
    passed = violations == 0 and off == 0 and moves > 0
    return (f"{violations} violating and {neutral} tied pairs among {moves} moves; sign-rule moves against the "
            f"status order: {off}", "0: a token leaves k for k' only if dp_k' >= dp_k "
            "(sign rule: over -> balanced/under, balanced -> under)", "exact count", passed,
            "flow (sign rule, from x to over/balanced/under): " + "; ".join(
                f"{a}: {fmt(flow.sel(status_from=a).values, 6)}" for a in order))


def _balance_bound(ds: xr.Dataset):
    imbalance = ds.imbalance.values
    # M(delta) recomputed here from the stored LP margins (independent of the kernel's count)
    gaps = ds.gaps.values                                        # (..., token), ascending
    two_delta = 2.0 * ds.delta_inf.values + 1e-12                # (..., iter); 1e-12: float64 rounding of gamma + p
    lead = gaps.shape[:-1]
    flat_g = gaps.reshape(-1, gaps.shape[-1])
    flat_d = two_delta.reshape(-1, two_delta.shape[-1])
    bound = np.stack([np.searchsorted(g, d, side="right") for g, d in zip(flat_g, flat_d)]).reshape(
        *lead, two_delta.shape[-1])
    bad = int(np.sum(imbalance > bound))
    agree = bool(np.array_equal(bound, ds.balance_bound.values))
    final = ds.isel(iter=-1)
    positive = imbalance > 0
    tight = float(np.max(imbalance[positive] / bound[positive])) if np.any(positive) else 0.0
    return (f"{bad} of {imbalance.size} iterations exceed the bound; tightest max|A-L|/M = {tight:.2f}; "
            f"final max|A-L| by rule/step {fmt(final.imbalance.isel(seed=0).values.ravel(), 3)}",
            "max_k |A_k - L| <= M(delta) = #{i: gap_i <= 2 delta(p)} every iteration", "exact (integers)",
            bad == 0 and agree, "gaps from the LP vertex dual; delta = distance of p to p* modulo 1 (sup norm); "
            f"kernel count {'agrees' if agree else 'DISAGREES'} with the recomputation")


# --- tiny instances --------------------------------------------------------------------------------

def _topk_argmax(ds: xr.Dataset):
    scale = float(np.abs(ds.bruteforce_value).max())
    err = float(np.abs(ds.kernel_value - ds.bruteforce_value).max()) / scale
    err_sort = float(np.abs(ds.kernel_value - ds.dual_sorted).max()) / scale
    n, tied = int(ds.kernel_value.size), int(ds.tied.sum())
    # sums of <= 40 numbers of O(1): a few ulps
    passed = err < 1e-12 and err_sort < 1e-12 and tied > 0
    return (f"max relative |L(x(p), p) - max_X L| = {err:.1e} over {n} instances ({tied} with ties)",
            "top-K of gamma + p attains the brute-force maximum of the Lagrangian", "1e-12 relative",
            passed, f"also equals D(p) by sorting to {err_sort:.1e}")


# --- online Gumbel testbed -------------------------------------------------------------------------

def _regret_marks(ds: xr.Dataset, policy: str) -> tuple[np.ndarray, ...]:
    n = int(ds.N.max())
    reg = ds.regret.sel(policy=policy)
    return tuple(reg.sel(N=max(1, n // d)).values for d in (10, 4, 2, 1))


def _doubling_ratio(ds: xr.Dataset, policy: str) -> float:
    """[R(N) - R(N/2)] / [R(N/2) - R(N/4)] pooled over seeds: 1 for log N regret, 2 for linear, 2^b for N^b."""
    _, r4, r2, r1 = _regret_marks(ds, policy)
    return float((r1 - r2).mean() / (r2 - r4).mean())


def _log_regret(ds: xr.Dataset):
    r10, _, _, r1 = _regret_marks(ds, "grad-theory")
    slopes = (r1 - r10) / np.log(10)
    bound = float(ds.bound_slope.sel(policy="grad-theory").max())
    ratio = _doubling_ratio(ds, "grad-theory")
    se = float(slopes.std(ddof=1) / np.sqrt(slopes.size)) if slopes.size > 1 else np.nan
    # the bound's constant is attained asymptotically here (near p* the expected dual is quadratic with every
    # curvature on 1-perp equal to mu, and 1/(mu n) steps then give excess G^2/(2 mu n)), so the slope should
    # match it: a factor 1.5 either way absorbs the start-up transient and the seed error (~0.4 per unit);
    # a power law N^b would give a doubling ratio 2^b: <= 1.3 excludes b >= 0.38
    passed = bound / 1.5 <= slopes.mean() <= 1.5 * bound and 0.7 <= ratio <= 1.3
    return (f"[R(N) - R(N/10)] / ln 10 = {slopes.mean():.2f} +- {se:.2f} (bound slope G^2/(2 mu) = {bound:.2f}); "
            f"doubling ratio {ratio:.2f}", "slope G^2/(2 mu); doubling ratio 1 (logarithmic)",
            "slope within 1.5x; ratio in [0.7, 1.3]", passed,
            f"{slopes.size} seeds, N = {int(ds.N.max())}; regret against the closed-form expected dual")


def _linear_regret(ds: xr.Dataset):
    ratios = {p: _doubling_ratio(ds, p) for p in ("grad-const", "sign-const")}
    # constant steps leave the iterates chattering at a fixed distance from p*: constant excess per
    # iteration gives ratio 2; 1.8 allows the remaining transient and seed noise (measured 1.98-2.06)
    passed = all(r >= 1.8 for r in ratios.values())
    return (", ".join(f"{p}: {r:.2f}" for p, r in ratios.items()),
            "doubling ratio 2 (linear regret)", ">= 1.8", passed, "ratio [R(N) - R(N/2)] / [R(N/2) - R(N/4)]")


def _small_step_regret(ds: xr.Dataset):
    ratio = _doubling_ratio(ds, "grad-harmonic")
    c = float(ds.attrs["eta0_mu"])
    expected = 2.0 ** (1.0 - 2.0 * c)
    # finite-N corrections of relative order N^(-2 c); measured within 2% at N >= 5000
    passed = abs(ratio / expected - 1) <= 0.07
    return (f"doubling ratio {ratio:.3f}", f"2^(1 - 2 eta0 mu) = {expected:.3f} (regret ~ N^{1 - 2 * c:.1f})",
            "7%", passed, f"eta0 mu = {c:g} < 1/2")


# --- synthetic router (DeepSeek comparisons) ---------------------------------------------------------

def _method(ds: xr.Dataset, family: str, hyper: float) -> str:
    cand = [m for m, f, h in zip(ds.variant.values, ds.family.values, ds.hyper.values)
            if f == family and np.isclose(h, hyper)]
    if not cand:
        raise ValueError(f"method {family} with hyper-parameter {hyper:g} is not in the Dataset")
    return str(cand[0])


def _lossfree_vs_aux(ds: xr.Dataset):
    lf, aux = _method(ds, "loss_free", 1e-3), _method(ds, "aux", 1e-3)
    mv_lf = ds.maxvio_global.sel(variant=lf).values
    mv_aux = ds.maxvio_global.sel(variant=aux).values
    inter_lf = float(ds.interference_global.sel(variant=lf).max())
    inter_aux = float(ds.interference_global.sel(variant=aux).min())
    q_lf = float(ds.quality_global.sel(variant=lf).mean())
    q_aux = float(ds.quality_global.sel(variant=aux).mean())
    # DeepSeek Table 2: 0.04 vs 0.72 (1B) and 0.04 vs 0.52 (3B); "far below" taken as >= 5x in every seed
    passed = bool(np.all(mv_aux >= 5 * mv_lf)) and inter_lf == 0.0 and inter_aux > 0.0
    return (f"MaxVio_global loss-free {fmt(mv_lf)} vs aux {fmt(mv_aux)}; gate interference {inter_lf:g} vs "
            f"{inter_aux:.3g}", "loss-free >= 5x lower, gates untouched (aux-loss distorts them)",
            ">= 5x in every seed", passed,
            f"routed affinity / unconstrained: loss-free {q_lf:.4f}, aux {q_aux:.4f} (aux keeps more only by "
            "staying unbalanced; at equal loads loss-free is optimal: moe.lossfree-best-at-own-loads)")


def _paired_z(diff: np.ndarray, block: int = 20) -> float:
    """Mean of a per-batch paired difference over its standard error from means of ``block`` batches.

    Batch means absorb the autocorrelation of MaxVio_batch along training (biases move slowly).
    """
    nb = diff.size // block
    means = diff[:nb * block].reshape(nb, block).mean(axis=1)
    return float(diff.mean() / (means.std(ddof=1) / np.sqrt(nb)))


def _update_rate(ds: xr.Dataset):
    n = ds.sizes["iter"]
    names = {u: _method(ds, "loss_free", u) for u in (1e-4, 1e-3, 1e-2)}
    mv = {u: ds.maxvio_batch.sel(variant=m).transpose("seed", "iter").values for u, m in names.items()}
    early, late = slice(0, n // 4), slice(n // 2, None)
    rows, z_slow, z_noisy = [], [], []
    for s in range(mv[1e-3].shape[0]):
        # the same batches for every u (common random numbers): paired differences per batch
        z_slow.append(_paired_z(mv[1e-4][s, early] - mv[1e-3][s, early]))
        z_noisy.append(_paired_z(mv[1e-2][s, late] - mv[1e-3][s, late]))
        rows.append(f"seed {int(ds.seed[s])}: early {mv[1e-4][s, early].mean():.3f} vs {mv[1e-3][s, early].mean():.3f}"
                    f" (z {z_slow[-1]:.1f}), late {mv[1e-2][s, late].mean():.3f} vs "
                    f"{mv[1e-3][s, late].mean():.3f} (z {z_noisy[-1]:.1f})")
    # 3 standard errors in every seed: a one-sided chance of 1e-3 per comparison under no effect
    passed = min(z_slow) >= 3 and min(z_noisy) >= 3
    return ("; ".join(rows), "MaxVio_batch: u = 1e-4 above u = 1e-3 in the first quarter; u = 1e-2 above "
            "u = 1e-3 in the second half", "paired difference >= 3 standard errors in every seed", passed,
            "standard errors from means of 20 consecutive batches")


def _price_of_balance(ds: xr.Dataset):
    rows, passed = [], True
    opt = ds.lp_opt.values
    for m in ds.variant.values[ds.family.values == "loss_free"]:
        aff = ds.lp_batch_affinity.sel(variant=m).values
        res = ds.dual_residual.sel(variant=m).values
        slack = aff - (opt - res)   # weak duality: aff + p.(A - L) = D(p) >= OPT
        # exact inequality up to float64 rounding of sums of ~1e5 terms (1e-9 relative)
        passed &= bool(np.all(slack >= -1e-9 * np.abs(opt)))
        rows.append(f"{m}: affinity deficit (OPT - aff)/OPT {fmt((opt - aff) / opt, 2)}, min slack "
                    f"{float(slack.min()):.2g}")
    return ("; ".join(rows), "affinity >= OPT - sum_k p_k (A_k - L) for every loss-free run",
            "1e-9 relative", passed,
            "OPT: HiGHS LP (exact balance) on the first held-out batch; negative deficit = more affinity than "
            "OPT, bought with the residual imbalance")


def _best_at_own_loads(ds: xr.Dataset):
    best, aff = ds.lp_batch_best_at_loads, ds.lp_batch_affinity
    shortfall = ((best - aff) / np.abs(best)).transpose("variant", ...)
    lf = shortfall.sel(variant=ds.variant.values[ds.family.values == "loss_free"]).values
    is_aux = ds.family.values == "aux"
    order = np.argsort(ds.hyper.values[is_aux])
    alphas = ds.hyper.values[is_aux][order]
    aux = shortfall.sel(variant=ds.variant.values[is_aux][order]).values            # (alpha, seed)
    # loss-free: an LP vertex against a top-K sum, both exact up to float64 rounding of ~1e4 terms (1e-9 kept
    # with margin); aux-loss: a shortfall must exceed that rounding to count.  A tiny alpha barely moves the
    # gates, so its routing may stay optimal: the claim is the shortfall from DeepSeek's alpha = 1e-3 up,
    # growing with alpha in every seed
    strong = aux[alphas >= 1e-3 * (1 - 1e-9)]
    passed = (lf.size > 0 and strong.size > 0 and bool(np.all(np.abs(lf) <= 1e-9)) and bool(np.all(strong > 1e-9))
              and all(is_monotone(aux[:, s], increasing=True, strict=False) for s in range(aux.shape[1])))
    return (f"relative shortfall from the best routing with the same loads: loss-free max {np.abs(lf).max():.1e}; "
            f"aux-loss by alpha {fmt(alphas, 2)}: {fmt(aux.mean(axis=1), 2)} (seed mean)",
            "loss-free: 0 (optimal for its loads); aux-loss: > 0 for alpha >= 1e-3, non-decreasing in alpha",
            "1e-9 relative", passed,
            "best routing with given loads: HiGHS LP with those expert capacities, first held-out batch")


# --- trained mixture of experts (DeepSeek's headline on a task we train) ----------------------------------

def _paired(ds: xr.Dataset, var: str, a: str, b: str) -> tuple[float, float, np.ndarray]:
    """Mean and standard error over seeds of var[a] - var[b] (same seed: same batches and initial weights)."""
    d = (ds[var].sel(variant=a) - ds[var].sel(variant=b)).values.ravel()
    se = float(d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1 else np.inf
    return float(d.mean()), se, d


def _aux_by_alpha(ds: xr.Dataset) -> tuple[np.ndarray, list[str]]:
    is_aux = ds.family.values == "aux"
    order = np.argsort(ds.hyper.values[is_aux])
    return ds.hyper.values[is_aux][order], [str(v) for v in ds.variant.values[is_aux][order]]


NONINFERIORITY_MARGIN = 0.10   # "no worse": loss-free's mean held-out loss at most 10% above aux-loss's


def _trained_lossfree_vs_aux(ds: xr.Dataset):
    lf = _method(ds, "loss_free", 1e-3)
    alphas, aux = _aux_by_alpha(ds)
    loss = ds.heldout_loss.mean("seed")
    best = aux[int(np.argmin([float(loss.sel(variant=v)) for v in aux]))]
    mv = ds.maxvio_global.mean("seed")
    mv_lf = float(mv.sel(variant=lf))
    ratios = np.array([float(mv.sel(variant=v)) / mv_lf for v in aux])
    diff, se, _ = _paired(ds, "heldout_loss", lf, best)
    ref = float(loss.sel(variant=best))
    # "far below": >= 5x at every alpha (DeepSeek: 0.04 against 0.72 and 0.52).  "No worse": a non-inferiority
    # check against the best aux-loss run: the paired mean difference (same batches, same initial weights) must
    # stay under 10% of that run's loss and under 2 standard errors over seeds (not detectably worse).
    passed = bool(np.all(ratios >= 5)) and diff <= NONINFERIORITY_MARGIN * ref and diff <= 2 * se
    return (f"MaxVio_global loss-free {mv_lf:.3f} vs aux {fmt([float(mv.sel(variant=v)) for v in aux])} "
            f"(ratios {fmt(ratios, 2)}); held-out loss loss-free {float(loss.sel(variant=lf)):.4f} vs best aux "
            f"({best}) {ref:.4f}: paired difference {diff:+.4f} +- {se:.4f}",
            "MaxVio_global >= 5x lower than aux-loss at every alpha; held-out loss no worse than the best aux-loss run",
            f"difference <= {NONINFERIORITY_MARGIN:.0%} of aux's loss and <= 2 standard errors", passed,
            f"{ds.sizes['seed']} seeds; loss-free u = 1e-3; aux alphas {fmt(alphas, 2)}; seed means; "
            f"no balancing: loss {float(loss.sel(variant='none')):.4f}, MaxVio {float(mv.sel(variant='none')):.3f}")


def _trained_aux_alpha(ds: xr.Dataset):
    alphas, aux = _aux_by_alpha(ds)
    loss = np.array([float(ds.heldout_loss.sel(variant=v).mean()) for v in aux])
    # each step up in alpha may lower the seed-mean loss by at most 2 standard errors of its paired
    # difference (seed noise), and the largest alpha must beat the smallest by >= 3 standard errors
    steps = [_paired(ds, "heldout_loss", aux[j + 1], aux[j]) for j in range(len(aux) - 1)]
    dips = [d + 2 * se for d, se, _ in steps]
    total, total_se, _ = _paired(ds, "heldout_loss", aux[-1], aux[0])
    passed = len(aux) >= 3 and all(x >= 0 for x in dips) and total >= 3 * total_se and total > 0
    return (f"held-out loss by alpha {fmt(alphas, 2)}: {fmt(loss, 3)}; largest - smallest alpha "
            f"{total:+.4f} +- {total_se:.4f}", "non-decreasing in alpha; largest alpha worse than smallest",
            "steps: no decrease beyond 2 standard errors; ends: >= 3 standard errors", passed,
            f"{ds.sizes['seed']} seeds, paired over seeds (same batches and initial weights)")


def _bias_outside_gates(ds: xr.Dataset):
    lf = ds.variant.values[ds.family.values == "loss_free"]
    sub = ds.sel(variant=lf)
    fd, gate = np.abs(sub.fd_bias.values), np.abs(sub.fd_gate.values)
    changed = int(sub.fd_changed.sum())
    total = fd.size
    # a perturbation that changes no selection must leave the loss bit-identical (the bias is only in the
    # top-K choice): the difference quotient is exactly 0; where a token sits within fd_step of a tie the
    # selection changes and the quotient measures that jump instead, so those are counted, not tested
    zero = int(np.sum(fd == 0.0))
    passed = zero >= total - changed and changed <= 0.1 * total and float(gate.max()) > 1e-6
    return (f"{zero} of {total} d loss / d u_k exactly 0 ({changed} perturbations changed a selection); "
            f"a gate shift would give |d loss / d g_k| up to {float(gate.max()):.3g} (median "
            f"{float(np.median(gate)):.2g})", "d loss / d u = 0 wherever the selection is locally constant",
            "exactly 0 (float64); <= 10% of perturbations at a tie", passed,
            f"central differences with step {float(ds.attrs['fd_step']):g} on the held-out set after training, "
            "every loss-free run and seed")


CLAIMS: list[Claim] = [
    Claim("moe.sign-rule-is-dual-step",
          "Every ALF-LB bias update is one dual subgradient step p + eps (L - A) with eps >= 0; for DeepSeek's "
          "sign rule eps_k = u / |L - A_k|", "derived", "dual_fixed", _dual_step),
    Claim("moe.weak-duality",
          "The dual value D(p^n) never falls below the LP optimum; the LP vertex is integral and D(p*) = OPT",
          "derived", "dual_fixed", _weak_duality),
    Claim("moe.sandwich-inequality",
          "Each update changes D by an amount between (A^n - L).dp and (A^{n+1} - L).dp (deterministic setting)",
          "derived", "dual_fixed", _sandwich),
    Claim("moe.monotone-without-overshoot",
          "Whenever (A^{n+1} - L).dp^n <= 0 (no net overshoot), the update does not increase D",
          "derived", "dual_fixed", _monotone),
    Claim("moe.preference-rule",
          "Tokens only move from an expert whose bias rose less to one whose bias rose more: zero violations",
          "derived", "dual_fixed", _preference),
    Claim("moe.balance-bound",
          "max_k |A_k - L| <= M(delta(p)), the number of tokens whose LP margin is within 2 delta of a tie",
          "derived", "dual_fixed", _balance_bound),
    Claim("moe.topk-maximises-lagrangian",
          "Top-K routing by biased scores (lowest-index tie-break) maximises the Lagrangian over all "
          "assignments, ties included", "derived", "topk_bruteforce", _topk_argmax),
    Claim("moe.log-regret",
          "Raw subgradient steps 1/(mu n) give logarithmic regret against the expected dual, growing per unit "
          "ln N like the online-gradient bound G^2/(2 mu) (Gumbel K = 1 testbed)", "derived", "regret",
          _log_regret),
    Claim("moe.constant-step-linear-regret",
          "Constant steps (raw subgradient or DeepSeek's sign rule) give linear regret",
          "derived", "regret", _linear_regret),
    Claim("moe.small-step-polynomial-regret",
          "1/n steps that are too small (eta0 mu < 1/2) give polynomial regret N^(1 - 2 eta0 mu), not log N",
          "derived", "regret", _small_step_regret),
    Claim("moe.deepseek-lossfree-vs-aux",
          "Loss-free balancing reaches far lower MaxVio_global than auxiliary-loss balancing (alpha = 1e-3) "
          "without touching gate values (DeepSeek Tab. 2, Tab. 1; synthetic router, perplexity not simulated)",
          "paper", "router_methods", _lossfree_vs_aux),
    Claim("moe.deepseek-update-rate",
          "Update rate u = 1e-4 balances slowly early and u = 1e-2 fluctuates late, relative to u = 1e-3 "
          "(DeepSeek Fig. 4; synthetic router)", "paper", "router_methods", _update_rate),
    Claim("moe.lossfree-price-of-balance",
          "With frozen biases on a fresh batch, loss-free routing keeps at least OPT - sum_k p_k (A_k - L) of "
          "routed affinity, OPT the exactly balanced optimum (weak duality against the LP)", "derived",
          "router_methods", _price_of_balance),
    Claim("moe.lossfree-best-at-own-loads",
          "Frozen loss-free routing is the most affine routing with its own expert loads (top-K of gamma + p "
          "maximises the Lagrangian, hence affinity at those loads); aux-loss routing, which shifts the gate "
          "logits, falls short of the best routing with its loads from alpha = 1e-3 up", "derived", "router_methods",
          _best_at_own_loads),
    Claim("moe.trained-lossfree-vs-aux",
          "Trained MoE: loss-free balancing reaches a MaxVio_global far below auxiliary-loss balancing at a "
          "held-out loss no worse than aux-loss's (DeepSeek Tab. 2 and Fig. 2, checked on our clustered "
          "regression task, not on a language model)", "paper", "trained_moe", _trained_lossfree_vs_aux),
    Claim("moe.trained-aux-loss-grows-with-alpha",
          "Trained MoE: a larger auxiliary-loss weight alpha gives a worse held-out loss (DeepSeek Fig. 2, "
          "checked on our clustered regression task)", "paper", "trained_moe", _trained_aux_alpha),
    Claim("moe.lossfree-bias-outside-gates",
          "Trained MoE: the loss-free biases never enter a gate value, so the held-out loss does not depend on "
          "them except through which experts are chosen (d loss / d u = 0 where the choice is fixed)",
          "derived", "trained_moe", _bias_outside_gates),
]
