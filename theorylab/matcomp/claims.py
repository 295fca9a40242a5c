"""Claims of deep matrix completion, evaluated on the Datasets of ``experiments/matcomp/*.toml``.

Every check reads a sweep Dataset (dims: grid dims, ``seed``, ``t_switch``, ...) and never
simulates.  Statistics are medians over seeds so that one unlucky seed neither makes nor
breaks a claim (the small quick-scale problems are seed-sensitive: with N = 30 single seeds
can end far from the target even from scratch).  Thresholds are chosen to hold at both
scales (quick: N = 30, or 40 for the subset experiments, 5-8 seeds; paper: N = 100), and each
is justified next to its check.  Source labels: ``paper`` for the paper's qualitative
statements (deep networks have a critical period in the task switch and with too few
observations, the shallow one does not), ``derived`` for what follows from the model
(depth-1 closed form, GD vs gradient flow), ``reconstructed`` for number thresholds that
come from our re-implementation of the authors' configurations (the paper's body text
could not be read).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from theorylab.core.claims import Claim, fmt, is_monotone


def _first_order(errors: np.ndarray, steps: np.ndarray) -> tuple[np.ndarray, bool]:
    """Observed convergence orders log(e2/e1)/log(h2/h1) and whether all are first order.

    An error ratio in [1.6, 2.4] per halving of the step is an order in
    [log2 1.6, log2 2.4] = [0.68, 1.26]; O(h) corrections to the leading term stay inside it.
    """
    orders = np.diff(np.log(errors)) / np.diff(np.log(steps))
    return orders, bool(np.all((orders > np.log2(1.6)) & (orders < np.log2(2.4))))



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

SHALLOW_SPREAD = 1e-3  # At paper scale the observed entries keep a residual factor
# (1 - lr/m)^(n_continue - 2) = e^-3 of their switch-time error, worth <= ~5e-4 in test MSE;
# at quick scale it is e^-12.  Unobserved entries are exactly unchanged, so 1e-3 is a bound.


def _shallow_flat(ds: xr.Dataset) -> tuple:
    loss = _loss(ds, depth=1)
    spread = float((loss.max("t_switch") - loss.min("t_switch")).max())
    level = _median(loss.mean("t_switch"))
    return (f"max spread {spread:.2g} (level {level:.3g})", f"spread < {SHALLOW_SPREAD:g}",
            f"absolute {SHALLOW_SPREAD:g} over T_sw, worst seed", spread < SHALLOW_SPREAD,
            "depth 1 moves only observed entries; unobserved entries keep their init values")


CLOSED_FORM_RTOL = 0.01  # The closed form is exact; the measured gap is float32
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
# critical period that is absent would give ~0 (D=1 gives < 1e-3).  Thresholds: 0.3 for D=3, 0.2 for D=2.
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
    loss = _loss(ds, depth=max(_values(ds, "depth"))) if "depth" in ds.dims else _loss(ds)
    scratch = loss.isel(t_switch=0)
    dmg = _damage(loss)
    # Thresholds: loss(0) < 0.01 (worst quick seed 0.0023, paper seeds ~1e-3) and a damage
    # > 0.2 for every seed (worst quick seed of 8: 0.27; paper seeds >= 0.8 in our
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
    # Quick N=30 is seed-sensitive (R1 <= R2 can still end badly for single seeds):
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
    # Expected: loss < 0.05 with abundant data and ~100x less damage.  Measured: quick
    # (m = 480 = 4.1 dof) 0.003 / 0.005 (seeds 1-5 / 6-10) vs >= 0.56; paper m = 4000: see
    # the claims table.  Required: < 0.05 and 10x below the worst learnable m.
    ok = top < 0.05 and top < worst / 10
    return (f"m={max(ms)}: {top:.2g}; worst learnable m: {worst:.3g}",
            "< 0.05 and < worst / 10", "medians over seeds of loss(T_sw max)", ok,
            "; ".join(f"m={m}: {late[m]:.3g}" for m in ms))


# --- initialisation scale -----------------------------------------------------------------------

ONSET_RISE = 0.1  # onset = first T_sw with loss > 0.1 (over the T_sw = 0 level)


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
    # 0.59 (seeds 1-5), 1.13 (seeds 6-10); paper N=100 seed 1 and our reference runs: 0.2-0.9.
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

FLOW_RTOL = 0.05  # 5% on the top singular values at matched time t = lr x epoch


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


def _flow_first_order(ds: xr.Dataset) -> tuple:
    err = _flow_error(ds).sortby("lr")
    orders, ok = _first_order(err.values, err.lr.values)
    return (f"observed orders {fmt(orders)}", "order 1 (Euler's global error is O(lr))",
            "order in [0.68, 1.26]", ok,
            "errors " + ", ".join(f"lr {lr:g}: {v:.3g}" for lr, v in zip(err.lr.values, err.values)))


APPENDIX_TOL = 0.10   # of the targets' largest singular value, at every recorded step
APPENDIX_END_RTOL = 0.01  # on the top singular value at the end of every branch


def _gd_tracks_flow_appendix(ds: xr.Dataset) -> tuple:
    # Scale-normalised gap |sigma_GD - sigma_Euler| / max target singular value: what a linear-axis
    # plot of the trajectories shows.  Relative gaps on each singular value are no measure here:
    # both are first-order steps of the same flow at lr 0.25, and while a singular value rises
    # steeply a small shift in time is a large relative gap (up to 50% at quick scale).  Measured
    # at quick scale: 0.082 (a switch in the middle of the steep rise), 0.027 and 0.013 otherwise;
    # the end-of-branch top singular values agree to 0.4%.  10% and 1% leave that room; a GD run
    # 5% behind in time fails both.
    scale = float(max(ds["target1_sigma"].max(), ds["target2_sigma"].max()))
    gap = abs(ds["sigma_gd"] - ds["sigma_ode"]) / scale
    worst = float(gap.max())
    top = ds.sel(sv=1)
    ends = []
    for ts in ds.t_switch.values:
        gd = top["sigma_gd"].sel(t_switch=ts).dropna("time")
        ode = top["sigma_ode"].sel(t_switch=ts).dropna("time")
        ends.append(float(np.max(np.abs(gd.isel(time=-1) - ode.isel(time=-1)) / np.abs(ode.isel(time=-1)))))
    per_switch = gap.max([d for d in gap.dims if d != "t_switch"])
    passed = worst < APPENDIX_TOL and max(ends) < APPENDIX_END_RTOL
    return (f"max gap {worst:.3g} of the largest target singular value ({scale:.3g}); "
            f"top singular value at branch ends: worst relative gap {max(ends):.2g}",
            "GD and the Euler-stepped end-to-end flow agree",
            f"< {APPENDIX_TOL:g} of it at every recorded step; < {APPENDIX_END_RTOL:g} relative at the ends",
            passed,
            "per switch: " + ", ".join(f"{float(t) / float(ds.attrs['lr']):,.0f} steps: {float(v):.3g}"
                                       for t, v in zip(per_switch.t_switch.values, per_switch.values)))


CLAIMS: list[Claim] = [
    Claim("matcomp.shallow-no-critical-period",
          "A depth-1 network shows no critical period: its final test loss does not depend on "
          "how long it was trained on task 1 (task switch).", "paper", "depth", _shallow_flat),
    Claim("matcomp.shallow-closed-form",
          "Depth-1 GD leaves unobserved entries at their init, so the final test loss equals the "
          "closed form from the init, the targets and the step counts.", "derived", "depth",
          _shallow_closed_form),
    Claim("matcomp.deep-critical-period",
          "Depth 2 and 3 networks have a critical period: long pre-training on task 1 (rank 10 "
          "-> rank 5 at paper scale) permanently raises the final test loss.", "paper", "depth",
          _deep_critical_period),
    Claim("matcomp.deep-beats-nuclear",
          "From scratch, the deepest network completes the matrix far better than nuclear-norm "
          "minimisation on the same observations.", "reconstructed", "depth", _deep_beats_nuclear),
    Claim("matcomp.seeds-robust",
          "The depth-3 critical period appears for every seed: near-perfect recovery from scratch, "
          "a large damage after long pre-training.", "reconstructed", "depth", _every_seed),
    Claim("matcomp.rank-relation",
          "Pre-training on a task of higher rank than the final task is damaging; lower or equal "
          "rank is (much) less so.", "reconstructed", "rank", _rank_relation),
    Claim("matcomp.abundant-data",
          "With abundant observations the damage of pre-training shrinks by more than 10x, to a "
          "test loss below 0.05.", "reconstructed", "observations", _abundant_data),
    Claim("matcomp.init-onset",
          "A smaller initialisation delays the onset of the critical period (task 1 is learned "
          "later).", "reconstructed", "init", _init_onset),
    Claim("matcomp.subset-critical-period",
          "Training first on a subset of the observations permanently damages a deep network "
          "(loss of plasticity) but not a depth-1 network.", "paper", "subset_depth",
          _subset_depth),
    Claim("matcomp.subset-more-data",
          "After a subset deficit, the extra observations do not undo the damage: at every final "
          "number of observations the network learns from scratch, the deficit at least doubles "
          "the final test loss.", "reconstructed", "subset", _subset_more_data),
    Claim("matcomp.gd-tracks-flow",
          "From a balanced init, GD follows the end-to-end gradient flow of Arora et al. through "
          "the task switch (top singular values within 5%).", "derived", "flow", _gd_tracks_flow),
    Claim("matcomp.gd-tracks-flow-appendix",
          "At the authors' appendix setup (N = 100, depth 3, rank 8 -> 2, m = 5000, lr 0.25), GD's top "
          "singular values follow the end-to-end dynamics through every switch.", "derived", "flow_appendix",
          _gd_tracks_flow_appendix),
    Claim("matcomp.flow-first-order",
          "The GD-flow gap is first order in the learning rate.", "derived", "flow",
          _flow_first_order),
]
