"""Claims of the critical-periods study, evaluated on experiment Datasets.

Sources: ``paper`` for the qualitative statements of Kleinman, Achille & Soatto
(2024) as stated in their figure captions; ``derived`` where the statement
follows from the model (gradient-flow theory, conservation laws) and is checked
against an independent solution; ``reconstructed`` for numbers that come from
our re-implementation of the authors' configurations rather than from the text.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from theorylab.core.claims import Claim, fmt, is_monotone
from theorylab.deeplinear import theory


def _first_seed(ds: xr.Dataset) -> xr.Dataset:
    return ds.isel(seed=0)


def _first_order(errors: np.ndarray, steps: np.ndarray) -> tuple[np.ndarray, bool]:
    """Observed convergence orders log(e2/e1)/log(h2/h1) and whether all are first order.

    Tolerance: the spec's error ratio in [1.6, 2.4] per halving of the step is an order in
    [log2 1.6, log2 2.4] = [0.68, 1.26]; O(h) corrections to the leading term stay inside it.
    """
    orders = np.diff(np.log(errors)) / np.diff(np.log(steps))
    return orders, bool(np.all((orders > np.log2(1.6)) & (orders < np.log2(2.4))))


def _share_b(k: xr.DataArray) -> xr.DataArray:
    """Final fraction of the feature held by the deprived pathway b."""
    return k.sel(pathway="b") / k.sum("pathway")


# --- Model A: full network ------------------------------------------------------------------------

def _gd_equals_map(ds: xr.Dataset):
    err = float(np.abs(ds.K - ds.K_map).max())
    off = float(ds.offdiag.max())
    # float64 round-off accumulated over ~1e3 updates of products of <= 20 matrices is ~1e-13
    passed = err < 1e-9 and off < 1e-9
    return (f"max|K_GD - K_map| = {err:.1e}; max off-diagonal = {off:.1e}", "0 (identical dynamics)",
            "< 1e-9 (float64)", passed, "")


def _early_deficit_permanent(ds: xr.Dataset):
    final = _first_seed(ds).K.isel(time=-1)
    early = _share_b(final.sel(deficit_onset=0.0))
    converged = np.abs(final.sel(deficit_onset=0.0).sum("pathway") - final.s) / final.s
    # converged to within 10% of s (the weakest modes are still finishing at t = 10); b keeps < 10%
    passed = bool(early.max() < 0.1 and converged.max() < 0.1)
    return (f"b's share per mode {fmt(early.values, 2)}", "every mode mostly learned by a",
            "share < 0.1, K_a + K_b within 10% of s", passed, "")


def _late_deficit_harmless(ds: xr.Dataset):
    final = _first_seed(ds).K.isel(time=-1)
    late = final.sel(deficit_onset=ds.deficit_onset.max())
    gap = np.abs(late.sel(pathway="a") - late.sel(pathway="b")) / late.s
    # symmetric pathways stay symmetric once every mode is learned; the only asymmetry is the
    # unfinished remainder of the weakest mode when the late window opens (measured ~1e-4 s)
    passed = bool(gap.max() < 0.01)
    return (f"max |K_a - K_b| / s = {float(gap.max()):.1e}", "50/50 split of every mode",
            "< 1% of s", passed, "")


def _window_per_feature(ds: xr.Dataset):
    final = _first_seed(ds).K.isel(time=-1)
    onsets = ds.deficit_onset.values
    middle = final.sel(deficit_onset=onsets[len(onsets) // 2])
    share = _share_b(middle)
    strong = share.where(middle.s > 1.5, drop=True)
    weak = share.where(middle.s <= 1.5, drop=True)
    # strong modes were learned before the middle window: exact symmetry up to their residual
    # (< 1e-3); weak modes were not, so a gains a lasting lead (b holds ~0.22, far below 0.5)
    passed = bool(np.abs(strong - 0.5).max() < 1e-3 and weak.max() < 0.35)
    return (f"b's share: strong modes {fmt(strong.values, 4)}, weak modes {fmt(weak.values, 2)}",
            "a middle deficit harms only the features not yet learned",
            "strong |share - 0.5| < 1e-3; weak share < 0.35", passed, "")


def _lesion_reallocated(ds: xr.Dataset):
    sub = _first_seed(ds)
    final = sub.K.isel(time=-1)
    mode = int(ds.attrs["lesion_mode"])
    s = final.s.values
    kb_lesioned = float(final.sel(pathway="b", mode=mode))
    kb_top = float(final.sel(pathway="b", mode=0))
    others = [m for m in range(5) if m != mode]
    ka_rel = np.abs(final.sel(pathway="a", mode=others).values / s[others] - 1)
    # b learns the lesioned mode alone after the gate opens: K_b -> s to within 1%;
    # b stays out of the top mode (< 0.02); a holds the others within 5% of s
    passed = abs(kb_lesioned / s[mode] - 1) < 0.01 and kb_top < 0.02 and ka_rel.max() < 0.05
    return (f"K_b(mode {mode})/s = {kb_lesioned / s[mode]:.4f}; K_b(mode 0) = {kb_top:.3f}; "
            f"max |K_a/s - 1| (others) = {ka_rel.max():.3f}",
            "the deprived pathway learns exactly the feature the other cannot represent",
            "1% / 0.02 / 5%", passed, "")


def _flow_first_order(ds: xr.Dataset):
    sub = _first_seed(ds)
    lrs = np.sort(ds.lr.values)
    rows, passed = [], True
    for depth in ds.depth.values:
        errors, final_errors = [], []
        for lr in lrs:
            run = sub.sel(depth=depth, lr=lr)
            s = run.s.values
            p0 = run.K.isel(time=0, pathway=0).values ** (1.0 / depth)
            start = float(ds.attrs["deficit_onset"])
            gate = (start, start + float(ds.attrs["deficit_length"]))
            ka, kb = theory.flow_modes(s, p0, p0, int(depth), run.time.values, gate=gate)
            diff = np.abs(np.stack([ka, kb], axis=1) - run.K.values)
            errors.append(float(diff.max()))
            final_errors.append(float((diff[-1] / s).max()))
        orders, first_order = _first_order(np.array(errors), lrs)
        i01 = int(np.argmin(np.abs(lrs - 0.01)))
        # at lr = 0.01 the final state is within 1% of s (spec T2; measured <= 0.1%)
        ok = first_order and final_errors[i01] < 0.01
        passed &= ok
        rows.append(f"D={depth}: orders {fmt(orders, 3)}, final err/s {final_errors[i01]:.1e}")
    return ("; ".join(rows), "error proportional to lr (observed order 1)",
            "order in [0.68, 1.26]; final error < 1% of s at lr 0.01", passed, "")


# --- Model A: final split ------------------------------------------------------------------------

def _depth_amplifies(ds: xr.Dataset):
    share = _share_b(_first_seed(ds).K.isel(tau=-1))
    depths = ds.depth.values
    d1 = float(share.sel(depth=1))
    d4 = float(share.sel(depth=4))
    # spec T6 (deficit = 0.25 t_half): 0.457 (D=1), 0.032 (D=4); thresholds leave room for the
    # rounding of the window to whole updates
    passed = is_monotone(share.values, increasing=False) and d1 > 0.4 and d4 < 0.05
    return (f"b's final share for D = {list(map(int, depths))}: {fmt(share.values, 3)}",
            "strictly decreasing in depth; D=1 > 0.4; D=4 < 0.05", "strict monotonicity", passed, "")


def _invariant_split(ds: xr.Dataset):
    sub = _first_seed(ds)
    worst = 0.0
    for depth in ds.depth.values:
        run = sub.sel(depth=depth)
        ka_end, kb_end = run.K_deficit_end.values
        target = float(ds.attrs["target"])
        predicted = np.array(theory.final_split(float(ka_end), float(kb_end), target, int(depth)))
        worst = max(worst, float(np.abs(run.K.isel(tau=-1).values - predicted).max() / target))
    # the flow conserves H(p_a) - H(p_b) exactly; Euler steps of size lr = 0.01 drift it by O(lr)
    # (spec T5: measured <= 0.016 absolute), so 1% of s
    passed = worst < 0.01
    return (f"max |K_GD - K_pred| / s = {worst:.1e}", "final split predicted by the conserved invariant",
            "< 1% of s", passed, "ground truth: brentq root of K(p_a) + K(p_b) = s at fixed invariant")


def _window_closes(ds: xr.Dataset):
    share = _share_b(_first_seed(ds).K.isel(tau=-1))
    onsets = ds.deficit_onset.values
    rows, passed = [], True
    for depth in ds.depth.values:
        curve = share.sel(depth=depth)
        late = curve.sel(deficit_onset=onsets[onsets >= 1.5])
        ordered = float(curve.sel(deficit_onset=0.0)) < float(curve.sel(deficit_onset=1.0)) \
            < float(curve.sel(deficit_onset=2.0))
        # spec T7: late onsets give 0.485-0.500; the learned feature is no longer contested
        ok = bool(late.min() >= 0.48 and late.max() <= 0.5 + 1e-9 and ordered)
        passed &= ok
        rows.append(f"D={depth}: {fmt(curve.values, 3)}")
    return ("; ".join(rows), "share rises with onset to 0.5 once the feature is learned",
            "share in [0.48, 0.5] for onset >= 1.5 t_half; increasing 0 < 1 < 2 t_half", passed, "")


def _learning_time(ds: xr.Dataset):
    sub = _first_seed(ds)
    target = float(ds.attrs["target"])
    rows, passed = [], True
    for lr in ds.lr.values:
        measured = []
        for depth in ds.depth.values:
            run = sub.sel(depth=depth, lr=lr)
            total = run.K.sum("pathway").values
            t = run.time.values
            i = int(np.argmax(total >= target / 2))
            t_cross = t[i - 1] + (target / 2 - total[i - 1]) * (t[i] - t[i - 1]) / (total[i] - total[i - 1])
            measured.append(t_cross)
        predicted = np.array([theory.half_time(int(d), target, float(ds.attrs["k0"])) for d in ds.depth.values])
        rel = np.abs(np.array(measured) / predicted - 1)
        # Euler's O(lr) lag: spec T3 measured 1.2-2.0% at lr 0.01 and <= 0.17% at lr 0.001
        tol = 0.03 if lr >= 0.01 - 1e-12 else 0.005
        # t_half grows with depth only up to D ~ 6: beyond, p0 = K0^(1/D) -> 1 shortens the plateau
        shallow = ds.depth.values <= 6
        ok = bool(rel.max() < tol and is_monotone(np.array(measured)[shallow], increasing=True))
        passed &= ok
        rows.append(f"lr={lr:g}: max rel. err {rel.max():.2%} (tol {tol:.1%})")
    return ("; ".join(rows), "t_half from quadrature; increasing with depth for D <= 6",
            "3% at lr 0.01, 0.5% at lr 0.001", passed, "ground truth: scipy quad of the flow")


# --- Model A: phase portraits ---------------------------------------------------------------------

def _phase_large(ds: xr.Dataset):
    final = _first_seed(ds).K.isel(time=-1).mean("init")
    kb_early = final.sel(deficit="early", pathway="b").values
    kb_late = final.sel(deficit="late", pathway="b").values
    half = float(ds.attrs["target"]) / 2
    depths = ds.depth.values
    deep = depths >= 5
    # spec Fig. 1 table: early mean K_b 4.31 -> 0.45 (D = 2 -> 13), late within 0.6 of s/2
    # (100 initial conditions; the spread of the no-deficit split grows with depth)
    passed = (is_monotone(kb_early, increasing=False) and np.all(np.abs(kb_late - half) < 0.6)
              and np.all(kb_early[deep] < kb_late[deep] - 2))
    return (f"mean K_b early {fmt(kb_early, 3)}, late {fmt(kb_late, 3)} for D = {list(map(int, depths))}",
            "early deficit: b's share falls with depth; late deficit: no side wins on average",
            "early strictly decreasing; |late - s/2| < 0.6; early < late - 2 for D >= 5", passed, "")


def _phase_small(ds: xr.Dataset):
    sub = _first_seed(ds)
    target = float(ds.attrs["target"])
    lrs = np.sort(ds.lr.values)
    rows, passed = [], True
    for depth in ds.depth.values:
        errors = []
        for lr in lrs:
            run = sub.K.sel(depth=depth, deficit="early", lr=lr).isel(init=0)
            start = run.isel(time=1)  # first record after the deficit
            predicted = theory.final_split(float(start.sel(pathway="a")), float(start.sel(pathway="b")),
                                           target, int(depth))
            errors.append(float(np.abs(run.isel(time=-1).values - predicted).max()) / target)
        errors = np.array(errors)
        if depth == 2:
            # Euler preserves p_a / p_b exactly at D = 2 (both scale by 1 + lr Omega): round-off only
            ok = bool(errors.max() < 1e-6)
        else:
            # first order in the step, and the finest step within 1% of s
            _, first_order = _first_order(errors, lrs)
            ok = first_order and bool(errors[0] < 0.01)
        passed &= ok
        rows.append(f"D={depth}: error/s {fmt(errors, 2)} at lr {fmt(lrs, 2)}")
    final = sub.K.isel(time=-1, init=0).sel(lr=lrs[0])
    kb = final.sel(deficit="early", pathway="b").values
    late_gap = float(np.abs(final.sel(deficit="late") - target / 2).max())
    # late deficit: both pathways have converged (Omega ~ 1e-13) before the window: s/2 to round-off
    passed &= is_monotone(kb, increasing=False) and late_gap < 1e-6
    return ("; ".join(rows) + f"; K_b {fmt(kb, 3)}; late max |K - s/2| = {late_gap:.1e}",
            "split predicted by the invariant, reached at first order in the step; late deficit: none",
            "D=2 exact (1e-6); D>=3 order in [0.68, 1.26], finest lr < 1% of s; late exact to 1e-6", passed,
            "ground truth: invariant root-find from the first state after the deficit")


CLAIMS: list[Claim] = [
    Claim("deeplinear.gd-equals-mode-map",
          "Under aligned balanced initialisation, full-matrix GD equals the per-mode scalar map",
          "derived", "pathways_timing", _gd_equals_map),
    Claim("deeplinear.early-deficit-permanent",
          "An early deficit hands every feature to the undeprived pathway, permanently",
          "paper", "pathways_timing", _early_deficit_permanent),
    Claim("deeplinear.late-deficit-harmless",
          "A late deficit leaves the 50/50 split of every feature",
          "paper", "pathways_timing", _late_deficit_harmless),
    Claim("deeplinear.window-per-feature",
          "A middle deficit harms only the weak features not yet learned (critical period per feature)",
          "reconstructed", "pathways_timing", _window_per_feature),
    Claim("deeplinear.lesion-reallocated",
          "After the gate opens, the deprived pathway learns exactly the feature the other cannot represent",
          "reconstructed", "lesion", _lesion_reallocated),
    Claim("deeplinear.gd-first-order-flow",
          "GD converges to gradient flow at first order in the learning rate",
          "derived", "flow_convergence", _flow_first_order),
    Claim("deeplinear.depth-amplifies-early-deficit",
          "Depth amplifies an early deficit: the deprived share strictly decreases with depth",
          "paper", "depth_split", _depth_amplifies),
    Claim("deeplinear.invariant-final-split",
          "The final split is fixed by the conserved quantity H(p_a) - H(p_b) at the end of the deficit",
          "derived", "depth_split", _invariant_split),
    Claim("deeplinear.critical-window-closes",
          "The critical window closes once the feature is learned: later deficits matter less, then not at all",
          "paper", "onset_split", _window_closes),
    Claim("deeplinear.saxe-learning-time",
          "Learning time matches the gradient-flow quadrature and grows with depth (D <= 6) at small init",
          "derived", "learning_time", _learning_time),
    Claim("deeplinear.phase-depth-amplifies",
          "Large-init phase portraits: early deficits favour a more with depth; late deficits have no effect",
          "paper", "phase_large", _phase_large),
    Claim("deeplinear.phase-small-invariant",
          "Small-init portraits: a 0.04-time-unit early deficit leaves a depth-dependent split, "
          "the invariant's prediction in the small-step limit",
          "derived", "phase_small", _phase_small),
]


# ================================================================================================
# Model B: deep matrix completion with a task switch
#
# Model B (deep matrix completion) claims, evaluated on the Datasets of ``experiments/deeplinear/mc_*.toml``.
#
# Every check reads a sweep Dataset (dims: grid dims, ``seed``, ``t_switch``, ...) and never
# simulates.  Statistics are medians over seeds so that one unlucky seed neither makes nor
# breaks a claim (the small quick-scale problems are seed-sensitive, spec 8.1); at paper
# scale (one seed) the median is that seed's value, and the paper-scale thresholds were
# checked on seeds 2 and 3 as well.  Thresholds are chosen to hold at both scales (quick:
# N = 30, or 40 for the subset experiments, 5-8 seeds; paper: N = 100), and each is
# justified next to its check.  Source labels: ``paper`` for the paper's qualitative
# statements (deep networks have a critical period in the task switch and with too few
# observations, the shallow one does not), ``derived`` for what follows from the model
# (depth-1 closed form, GD vs gradient flow), ``reconstructed`` for number thresholds that
# come from our re-implementation (the paper's body text could not be verified, spec P1).
# ================================================================================================

def _loss(ds: xr.Dataset, **sel) -> xr.DataArray:
    """``test_loss`` at the selected grid point, with a ``seed`` dim (added if absent)."""
    da = ds["test_loss"].sel(**sel) if sel else ds["test_loss"]
    return da if "seed" in da.dims else da.expand_dims(seed=[int(ds.attrs.get("seed", 0))])


def _damage(loss: xr.DataArray) -> xr.DataArray:
    """Per seed: loss at the longest deficit minus loss from scratch (first ``T_sw``)."""
    return loss.isel(t_switch=-1) - loss.isel(t_switch=0)


def _median(da: xr.DataArray) -> float:
    return float(da.median("seed"))


def damage(loss: xr.DataArray) -> float:
    """Median over seeds of loss(T_sw max) minus median over seeds of loss(first T_sw).

    A difference of medians rather than a median of differences: near the information
    limit a few seeds fail even from scratch, and their (meaningless) per-seed damage
    should not decide the statistic.
    """
    return _median(loss.isel(t_switch=-1)) - _median(loss.isel(t_switch=0))


def _values(ds: xr.Dataset, dim: str) -> list:
    return [v.item() for v in ds[dim].values]


# --- depth 1: history-free ----------------------------------------------------------------------

SHALLOW_SPREAD = 1e-3  # spec T8.  At paper scale the observed entries keep a residual factor
# (1 - lr/m)^(n_continue - 2) = e^-3 of their switch-time error, worth <= ~5e-4 in test MSE;
# at quick scale it is e^-12.  Unobserved entries are exactly unchanged, so 1e-3 is a bound.


def _shallow_flat(ds: xr.Dataset) -> tuple:
    loss = _loss(ds, depth=1)
    spread = float((loss.max("t_switch") - loss.min("t_switch")).max())
    level = _median(loss.mean("t_switch"))
    return (f"max spread {spread:.2g} (level {level:.3g})", f"spread < {SHALLOW_SPREAD:g}",
            f"absolute {SHALLOW_SPREAD:g} over T_sw, worst seed", spread < SHALLOW_SPREAD,
            "depth 1 moves only observed entries; unobserved entries keep their init values")


CLOSED_FORM_RTOL = 0.01  # spec T8.  The closed form is exact; the measured gap is float32
# round-off (~1e-6 relative), so 1% only guards against a wrong formula or step indexing.


def _shallow_closed_form(ds: xr.Dataset) -> tuple:
    loss = _loss(ds, depth=1)
    closed = ds["closed_form_loss"].sel(depth=1)
    rel = float((abs(loss - closed) / closed).max())
    return (f"max relative gap {rel:.2g}", "closed form (theory.depth1_test_loss)",
            f"relative {CLOSED_FORM_RTOL:g}", rel < CLOSED_FORM_RTOL,
            f"closed-form levels {fmt(closed.mean('t_switch').values.ravel())}")


# --- deep networks: critical period -------------------------------------------------------------

# damage() = median loss(T_sw max) - median loss(0).  Measured: quick N=30, 5 seeds:
# D=3 0.56, D=2 0.42 (every seed >= 0.17); paper N=100 seed 1: D=3 1.14, D=2 0.48.  A
# critical period that is absent would give ~0 (D=1 gives < 1e-3).  Thresholds from spec
# 8.1 item 3 / T9: 0.3 for D=3, 0.2 for D=2.
DEEP_DAMAGE = {2: 0.2, 3: 0.3}


def _deep_critical_period(ds: xr.Dataset) -> tuple:
    parts, ok = [], True
    for depth, threshold in DEEP_DAMAGE.items():
        if depth not in _values(ds, "depth"):
            continue
        dmg = damage(_loss(ds, depth=depth))
        parts.append(f"D={depth}: {dmg:.3g}")
        ok &= dmg > threshold
    scratch = _median(_loss(ds, depth=max(_values(ds, "depth"))).isel(t_switch=0))
    return ("; ".join(parts), "D=3 > 0.3, D=2 > 0.2",
            "median loss(T_sw max) - median loss(0) over seeds", ok and bool(parts),
            f"deepest net from scratch: loss(0) = {scratch:.2g}")


def _deep_beats_nuclear(ds: xr.Dataset) -> tuple:
    deep = _median(_loss(ds, depth=max(_values(ds, "depth"))).isel(t_switch=0))
    nuclear = ds["nuclear_loss"]
    nuclear = float(nuclear.median()) if nuclear.size > 1 else float(nuclear)
    # Measured: quick 2e-4 vs ~0.4; paper 1e-3 vs 0.061 (Arora et al. 2019 report the same
    # ordering).  A factor 10 leaves an order of magnitude of margin at both scales.
    return (f"deep {deep:.2g}, nuclear {nuclear:.2g}", "deep < nuclear / 10",
            "medians over seeds, factor 10", np.isfinite(nuclear) and deep < nuclear / 10,
            "from-scratch deepest network vs min ||X||_* with X = M on the observed set")


# --- seeds --------------------------------------------------------------------------------------

def _every_seed(ds: xr.Dataset) -> tuple:
    loss = _loss(ds)
    scratch = loss.isel(t_switch=0)
    dmg = _damage(loss)
    # Thresholds: loss(0) < 0.01 (worst quick seed 0.0023, paper seeds ~1e-3) and a damage
    # > 0.2 for every seed (worst quick seed of 8: 0.27; paper seeds >= 0.8 in the spec's
    # re-implementation).  Robust across seeds is the claim, so the worst seed is tested.
    ok = float(scratch.max()) < 0.01 and float(dmg.min()) > 0.2
    return (f"worst loss(0) {float(scratch.max()):.2g}, worst damage {float(dmg.min()):.3g}",
            "loss(0) < 0.01 and damage > 0.2 for every seed", "worst seed", ok,
            f"damage per seed {fmt(dmg.values.ravel())}")


# --- task relation (rank) -----------------------------------------------------------------------

def _rank_relation(ds: xr.Dataset) -> tuple:
    r2 = int(ds.attrs["rank2"])
    late = {r: _median(_loss(ds, rank1=r).isel(t_switch=-1)) for r in _values(ds, "rank1")}
    low = max(v for r, v in late.items() if r <= r2)
    high = min(v for r, v in late.items() if r > r2)
    # Quick N=30 is seed-sensitive (spec 8.1: R1 <= R2 can still end badly for single seeds):
    # medians measured over seeds 1-5 / 6-10: R1<=R2 <= 0.17 / 0.32, R1>R2 >= 0.56 / 0.86,
    # i.e. ratios 3.4 / 2.7.  Paper N=100: 0.02 vs >= 1.1.  So: the least damaging
    # higher-rank pre-training is still >= 2x worse than the most damaging lower-rank one,
    # and above 0.3 in absolute terms.
    ok = high > 2 * low and high > 0.3
    return (f"R1<=R2: max {low:.3g}; R1>R2: min {high:.3g}", "min(R1>R2) > 2 max(R1<=R2) and > 0.3",
            "medians over seeds of loss(T_sw max), factor 2", ok,
            "; ".join(f"R1={r}: {v:.3g}" for r, v in late.items()))


# --- number of observations ---------------------------------------------------------------------

def _abundant_data(ds: xr.Dataset) -> tuple:
    ms = _values(ds, "n_obs")
    scratch = {m: _median(_loss(ds, n_obs=m).isel(t_switch=0)) for m in ms}
    late = {m: _median(_loss(ds, n_obs=m).isel(t_switch=-1)) for m in ms}
    learnable = [m for m in ms if scratch[m] < 0.1]  # below ~dof GD fails even from scratch
    worst = max(late[m] for m in learnable)
    top = late[max(ms)]
    # Spec MC-d: loss < 0.05 with abundant data and ~100x less damage.  Measured: quick
    # (m = 480 = 4.1 dof) 0.003 / 0.005 (seeds 1-5 / 6-10) vs >= 0.56; paper m = 4000: see
    # the claims table.  Required: < 0.05 and 10x below the worst learnable m.
    ok = top < 0.05 and top < worst / 10
    return (f"m={max(ms)}: {top:.2g}; worst learnable m: {worst:.3g}",
            "< 0.05 and < worst / 10", "medians over seeds of loss(T_sw max)", ok,
            "; ".join(f"m={m}: {late[m]:.3g}" for m in ms))


# --- initialisation scale -----------------------------------------------------------------------

ONSET_RISE = 0.1  # spec appendix: onset = first T_sw with loss > 0.1 (over the T_sw = 0 level)


def onset(loss: xr.DataArray) -> float:
    """First ``T_sw`` at which the seed-median loss exceeds its ``T_sw = 0`` value by 0.1 (inf if never)."""
    med = loss.median("seed")
    rise = (med - med.isel(t_switch=0)).values
    hits = np.nonzero(rise > ONSET_RISE)[0]
    return float(med.t_switch.values[hits[0]]) if hits.size else float("inf")


def _init_onset(ds: xr.Dataset) -> tuple:
    scales = sorted(_values(ds, "init_scale"), reverse=True)
    onsets = [onset(_loss(ds, init_scale=s)) for s in scales]
    # Measured (median onsets, large -> small init): quick 200, 300, 800 steps; the T_sw
    # grids are chosen to resolve the expected ordering (task 1's learning time grows as
    # the init shrinks).  Final-damage ordering is not asserted: not robust at N = 30.
    return (", ".join(f"{s:g}: {o:g}" for s, o in zip(scales, onsets)),
            "onset strictly later for smaller init", f"rise > {ONSET_RISE:g} over loss(0), median over seeds",
            all(np.isfinite(onsets)) and is_monotone(onsets, increasing=True),
            "final damage " + "; ".join(
                f"{s:g}: {damage(_loss(ds, init_scale=s)):.3g}" for s in scales))


# --- subset -> full observations ----------------------------------------------------------------

def _subset_depth(ds: xr.Dataset) -> tuple:
    shallow = _loss(ds, depth=1)
    spread = float((shallow.max("t_switch") - shallow.min("t_switch")).max())
    deep = damage(_loss(ds, depth=max(_values(ds, "depth"))))
    # Measured damage (difference of seed medians), quick N=40 rank 2, 160 -> 240 entries:
    # 0.59 (seeds 1-5), 1.13 (seeds 6-10); paper N=100 seed 1 and the spec's runs: 0.2-0.9.
    # 0.15 is below all of them and far above the depth-1 value (< 1e-3).
    ok = spread < SHALLOW_SPREAD and deep > 0.15
    return (f"D=1 spread {spread:.2g}; deepest damage {deep:.3g}",
            f"D=1 spread < {SHALLOW_SPREAD:g}; deepest damage > 0.15",
            "worst seed (D=1); difference of seed medians (deep)", ok,
            "damage = loss(T_sw max) - loss(0) after training on the subset for T_sw steps")


def _subset_more_data(ds: xr.Dataset) -> tuple:
    ms = _values(ds, "n_obs")
    scratch = {m: _median(_loss(ds, n_obs=m).isel(t_switch=0)) for m in ms}
    late = {m: _median(_loss(ds, n_obs=m).isel(t_switch=-1)) for m in ms}
    learnable = [m for m in ms if scratch[m] < 0.1]  # near ~dof GD fails even from scratch
    ratios = {m: late[m] / max(scratch[m], 1e-12) for m in learnable}
    # Measured ratios late/scratch (seed medians): quick N=40 >= 7.5; paper seed 1 >= 2.4
    # (m = 1500 .. 2000).  Factor 2: the deficit's damage survives every amount of extra data.
    ok = bool(ratios) and min(ratios.values()) > 2
    return (", ".join(f"m={m}: x{r:.3g}" for m, r in ratios.items()),
            "loss(T_sw max) > 2 x loss(0) at every learnable m", "seed medians; learnable: loss(0) < 0.1",
            ok, "; ".join(f"m={m}: {scratch[m]:.2g} -> {late[m]:.2g}" for m in ms))


# --- GD vs end-to-end flow ----------------------------------------------------------------------

FLOW_RTOL = 0.05  # spec T10: 5% on the top singular values at matched time t = lr x epoch


def _flow_error(ds: xr.Dataset) -> xr.DataArray:
    """Max over time, switch points, singular values and seeds of |sigma_gd - sigma_ode| / sigma_ode, per lr."""
    rel = abs(ds["sigma_gd"] - ds["sigma_ode"]) / ds["sigma_ode"]
    dims = [d for d in rel.dims if d != "lr"]
    return rel.max(dims)


def _gd_tracks_flow(ds: xr.Dataset) -> tuple:
    err = _flow_error(ds)
    lrs = [float(v) for v in err.lr.values] if "lr" in err.dims else [float(ds.attrs["lr"])]
    ok_lrs = [lr for lr in lrs if lr <= 0.05]
    worst = float(err.sel(lr=ok_lrs).max()) if "lr" in err.dims else float(err)
    # Measured max relative error (3 seeds): lr 0.1 -> 3.7%, 0.05 -> 1.9%, 0.025 -> 0.9%.
    return (f"{worst:.3g} (lr <= 0.05)", f"< {FLOW_RTOL:g}", "relative, worst over t, T_sw, r, seed",
            worst < FLOW_RTOL, "per lr: " + "; ".join(
                f"{lr:g}: {float(e):.3g}" for lr, e in zip(lrs, np.atleast_1d(err.values))))


def _mc_flow_first_order(ds: xr.Dataset) -> tuple:
    err = _flow_error(ds).sortby("lr")
    orders, ok = _first_order(err.values, err.lr.values)
    return (f"observed orders {fmt(orders)}", "order 1 (Euler's global error is O(lr))",
            "order in [0.68, 1.26]", ok,
            "errors " + ", ".join(f"lr {lr:g}: {v:.3g}" for lr, v in zip(err.lr.values, err.values)))


CLAIMS += [
    Claim("deeplinear.mc-shallow-no-critical-period",
          "A depth-1 network shows no critical period: its final test loss does not depend on "
          "how long it was trained on task 1 (task switch).", "paper", "mc_depth", _shallow_flat),
    Claim("deeplinear.mc-shallow-closed-form",
          "Depth-1 GD leaves unobserved entries at their init, so the final test loss equals the "
          "closed form from the init, the targets and the step counts.", "derived", "mc_depth",
          _shallow_closed_form),
    Claim("deeplinear.mc-deep-critical-period",
          "Depth 2 and 3 networks have a critical period: long pre-training on task 1 (rank 10 "
          "-> rank 5 at paper scale) permanently raises the final test loss.", "paper", "mc_depth",
          _deep_critical_period),
    Claim("deeplinear.mc-deep-beats-nuclear",
          "From scratch, the deepest network completes the matrix far better than nuclear-norm "
          "minimisation on the same observations.", "reconstructed", "mc_depth", _deep_beats_nuclear),
    Claim("deeplinear.mc-seeds-robust",
          "The depth-3 critical period appears for every seed: near-perfect recovery from scratch, "
          "a large damage after long pre-training.", "reconstructed", "mc_seeds", _every_seed),
    Claim("deeplinear.mc-rank-relation",
          "Pre-training on a task of higher rank than the final task is damaging; lower or equal "
          "rank is (much) less so.", "reconstructed", "mc_rank", _rank_relation),
    Claim("deeplinear.mc-abundant-data",
          "With abundant observations the damage of pre-training shrinks by more than 10x, to a "
          "test loss below 0.05.", "reconstructed", "mc_observations", _abundant_data),
    Claim("deeplinear.mc-init-onset",
          "A smaller initialisation delays the onset of the critical period (task 1 is learned "
          "later).", "reconstructed", "mc_init", _init_onset),
    Claim("deeplinear.mc-subset-critical-period",
          "Training first on a subset of the observations permanently damages a deep network "
          "(loss of plasticity) but not a depth-1 network.", "paper", "mc_subset_depth",
          _subset_depth),
    Claim("deeplinear.mc-subset-more-data",
          "After a subset deficit, the extra observations do not undo the damage: at every final "
          "number of observations the network learns from scratch, the deficit at least doubles "
          "the final test loss.", "reconstructed", "mc_subset", _subset_more_data),
    Claim("deeplinear.mc-gd-tracks-flow",
          "From a balanced init, GD follows the end-to-end gradient flow of Arora et al. through "
          "the task switch (top singular values within 5%).", "derived", "mc_flow", _gd_tracks_flow),
    Claim("deeplinear.mc-flow-first-order",
          "The GD-flow gap is first order in the learning rate.", "derived", "mc_flow",
          _mc_flow_first_order),
]
