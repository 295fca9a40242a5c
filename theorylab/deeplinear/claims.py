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

    Tolerance: an error ratio in [1.6, 2.4] per halving of the step is an order in
    [log2 1.6, log2 2.4] = [0.68, 1.26]; O(h) corrections to the leading term stay inside it.
    """
    orders = np.diff(np.log(errors)) / np.diff(np.log(steps))
    return orders, bool(np.all((orders > np.log2(1.6)) & (orders < np.log2(2.4))))


def _share_b(k: xr.DataArray) -> xr.DataArray:
    """Final fraction of the feature held by the deprived pathway b."""
    return k.sel(pathway="b") / k.sum("pathway")


# --- full network ------------------------------------------------------------------------

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
        # at lr = 0.01 the final state is within 1% of s (measured <= 0.1%)
        ok = first_order and final_errors[i01] < 0.01
        passed &= ok
        rows.append(f"D={depth}: orders {fmt(orders, 3)}, final err/s {final_errors[i01]:.1e}")
    return ("; ".join(rows), "error proportional to lr (observed order 1)",
            "order in [0.68, 1.26]; final error < 1% of s at lr 0.01", passed, "")


# --- final split ------------------------------------------------------------------------

def _depth_amplifies(ds: xr.Dataset):
    share = _share_b(_first_seed(ds).K.isel(tau=-1))
    depths = ds.depth.values
    d1 = float(share.sel(depth=1))
    d4 = float(share.sel(depth=4))
    # reference values (deficit = 0.25 t_half): 0.457 (D=1), 0.032 (D=4); thresholds leave room for the
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
    # (measured <= 0.016 absolute), so 1% of s
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
        # reference values: late onsets give 0.485-0.500; the learned feature is no longer contested
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
        # Euler's O(lr) lag: reference runs measured 1.2-2.0% at lr 0.01 and <= 0.17% at lr 0.001
        tol = 0.03 if lr >= 0.01 - 1e-12 else 0.005
        # t_half grows with depth only up to D ~ 6: beyond, p0 = K0^(1/D) -> 1 shortens the plateau
        shallow = ds.depth.values <= 6
        ok = bool(rel.max() < tol and is_monotone(np.array(measured)[shallow], increasing=True))
        passed &= ok
        rows.append(f"lr={lr:g}: max rel. err {rel.max():.2%} (tol {tol:.1%})")
    return ("; ".join(rows), "t_half from quadrature; increasing with depth for D <= 6",
            "3% at lr 0.01, 0.5% at lr 0.001", passed, "ground truth: scipy quad of the flow")


# --- phase portraits ---------------------------------------------------------------------

def _phase_large(ds: xr.Dataset):
    final = _first_seed(ds).K.isel(time=-1).mean("init")
    kb_early = final.sel(deficit="early", pathway="b").values
    kb_late = final.sel(deficit="late", pathway="b").values
    half = float(ds.attrs["target"]) / 2
    depths = ds.depth.values
    deep = depths >= 5
    # reference values: early mean K_b 4.31 -> 0.45 (D = 2 -> 13), late within 0.6 of s/2
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


# --- nonlinear pathways ----------------------------------------------------------------------------

NONLINEAR = ("tanh", "relu")
STRONG = 3  # modes 0-3 (s >= sqrt 3) are learned well before the late window opens at epoch 750


def _nonlinear_final(ds: xr.Dataset) -> xr.DataArray:
    return _first_seed(ds).K.isel(time=-1)


def _nonlinear_early_permanent(ds: xr.Dataset):
    final = _nonlinear_final(ds)
    early, late = final.sel(deficit_onset=final.deficit_onset.min()), final.sel(deficit_onset=final.deficit_onset.max())
    ratios = {act: float(early.sel(activation=act, pathway="b", mode=0) / late.sel(activation=act, pathway="b", mode=0))
              for act in NONLINEAR}
    # measured at widths 16 / 100: tanh 0.03 / 0.020, ReLU 0.008 / 0.007; an undamaged b would give ~1
    passed = all(r < 0.1 for r in ratios.values())
    return ("; ".join(f"{a}: {r:.3f}" for a, r in ratios.items()),
            "top-mode K_b after an early deficit < 0.1 x its value after a late one (tanh and ReLU)",
            "factor 0.1", passed, "K measured from the responses to the 8 items")


def _nonlinear_late_harmless(ds: xr.Dataset):
    late = _nonlinear_final(ds).sel(deficit_onset=ds.deficit_onset.max(), mode=slice(0, STRONG))
    gap = (np.abs(late.sel(pathway="a") - late.sel(pathway="b")) / late.s).max("mode")
    # measured <= 0.2% of s (ReLU), ~1e-4 (tanh): the strong modes are learned before epoch 750
    passed = all(float(gap.sel(activation=a)) < 0.01 for a in NONLINEAR)
    return ("; ".join(f"{a}: {float(gap.sel(activation=a)):.1e}" for a in NONLINEAR),
            "late deficit: modes 0-3 split 50/50", "|K_a - K_b| < 1% of s", passed, "")


def _relu_middle_uneven(ds: xr.Dataset):
    middle = _nonlinear_final(ds).sel(deficit_onset=sorted(ds.deficit_onset.values)[1], mode=slice(0, 1))
    gap = (np.abs(middle.sel(pathway="a") - middle.sel(pathway="b")) / middle.s).max("mode")
    tanh, relu = float(gap.sel(activation="tanh")), float(gap.sel(activation="relu"))
    # measured (width 16 / 100): tanh 0.5% / 0.06% of s, ReLU 12% / 11%; the linear network's strong
    # modes are split to 1e-3 (learned before epoch 400).  Thresholds 1% and 3% separate them.
    passed = tanh < 0.01 and relu > 0.03
    return (f"max |K_a - K_b| / s over modes 0-1: tanh {tanh:.2g}, ReLU {relu:.2g}",
            "after a middle deficit tanh keeps the strong modes split evenly, ReLU does not",
            "tanh < 1% of s, ReLU > 3% of s", passed, "")


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
    Claim("deeplinear.nonlinear-early-deficit-permanent",
          "With tanh or ReLU after every layer, an early deficit still hands the strongest feature to the "
          "undeprived pathway", "reconstructed", "nonlinear", _nonlinear_early_permanent),
    Claim("deeplinear.nonlinear-late-deficit-harmless",
          "With tanh or ReLU, a late deficit leaves the learned features split evenly",
          "reconstructed", "nonlinear", _nonlinear_late_harmless),
    Claim("deeplinear.relu-middle-deficit-uneven",
          "After a middle deficit, tanh keeps the strong features split evenly while ReLU does not",
          "reconstructed", "nonlinear", _relu_middle_uneven),
]
