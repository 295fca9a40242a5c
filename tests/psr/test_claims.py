"""Every claim of the study at quick scale, a negative control per claim showing its check can fail,
and every figure rendered from quick-scale data (shared checks: tests/study_contract.py)."""

import numpy as np
import xarray as xr

from tests.study_contract import *  # noqa: F403  the shared checks, parametrized by STUDY

STUDY = "psr"


def _copy(ds):
    return ds.copy(deep=True)


def _joint_counted_as_product(ds):
    """The joint class counted as N independent single-task classes (shared structure ignored)."""
    out = _copy(ds)
    out["log_joint"] = out.log_product
    return out


def _groups_quadratic(ds):
    """A two-dimensional shared part (count ~ 1/eta^2)."""
    out = _copy(ds)
    out["shared_groups"] = out.shared_groups ** 2
    return out


def _core_counted_as_product(ds):
    """The core-task class counted as N independent single-task classes."""
    out = _copy(ds)
    size = ds.sizes["shared"] * ds.sizes["level"]
    out["log_core"] = ds.tasks * np.log(size) * xr.ones_like(ds.log_core)
    return out


def _width_without_horizon(ds):
    """The TV bound applied without the horizon factor (one step's reward range for the whole return): the
    measured width divided by H, so that err <= H x width reads err <= width."""
    out = _copy(ds)
    out["width"] = ds.width / float(ds.attrs["horizon"])
    return out


def _coverage_lost(ds):
    """beta too small: the truth drops out of the set in half the runs."""
    out = _copy(ds)
    full = out.covered.values
    flat = full.reshape(-1, full.shape[-1])
    flat[::2, -1] = False
    out["covered"] = (out.covered.dims, flat.reshape(full.shape))
    return out


def _gap_and_subopt_swapped(ds):
    out = _copy(ds)
    out["gap"], out["subopt"] = ds.subopt, ds.gap
    return out


def _width_one_over_k(ds):
    """A 1/k width (e.g. a bound fitted with the wrong exponent)."""
    out = _copy(ds)
    k = np.maximum(ds.iteration, 1)
    out["width"] = ds.width / np.sqrt(k)
    return out


def _swap_learners(a, b, dim="learner"):
    """Mislabelled learners: the results of a reported under b and vice versa."""
    def corrupt(ds):
        out = _copy(ds)
        for name, var in ds.data_vars.items():
            if dim in var.dims:
                out[name].loc[{dim: a}] = ds[name].sel({dim: b}).values
                out[name].loc[{dim: b}] = ds[name].sel({dim: a}).values
        return out
    return corrupt


def _no_multitask_gain(ds):
    """UMT-PSR's curves replaced by the single-task learner's (no benefit from the joint class)."""
    out = _copy(ds)
    out["width"].loc[{"learner": "umt-psr"}] = ds.width.sel(learner="single-task").values
    return out


def _class_not_shrinking(ds):
    out = _copy(ds)
    size = out.log_class_size.sel(learner="transfer")
    out["log_class_size"].loc[{"learner": "transfer"}] = size.isel(upstream_iterations=slice(None, None, -1)).values
    return out


def _enumeration_off(ds):
    out = _copy(ds)
    out["value_error"] = out.value_error + 1e-6
    return out


# a plausible wrong answer for each claim: a miscount, a wrong exponent, a swapped label, a bad radius
NEGATIVE = {
    "psr.bracketing-joint-vs-product": _joint_counted_as_product,
    "psr.bracketing-core-tasks": _core_counted_as_product,
    "psr.bracketing-eta-scaling": _groups_quadratic,
    "psr.confidence-coverage": _coverage_lost,
    "psr.tv-width-bounds-value-error": _width_without_horizon,
    "psr.optimism-bounds-subopt": _gap_and_subopt_swapped,
    "psr.width-rate": _width_one_over_k,
    "psr.multitask-fewer-episodes": _swap_learners("umt-psr", "single-task"),
    "psr.sample-complexity-scaling": _no_multitask_gain,
    "psr.batch-one-over-n": _swap_learners("umt-psr", "single-task"),
    "psr.transfer-beats-scratch": _swap_learners("transfer", "scratch"),
    "psr.transfer-class-size": _class_not_shrinking,
    "psr.transfer-misspecified": _swap_learners("transfer", "scratch"),
    "psr.exact-references": _enumeration_off,
}


def test_bracketing_claim_fails_when_the_cover_merges_points_below_the_separation(quick_dataset):
    """The exact count rests on the separation; an independent greedy cover that merges two shared values at
    an eta below it contradicts that and must fail the claim."""
    from theorylab.psr.claims import CLAIMS

    claim = next(c for c in CLAIMS if c.id == "psr.bracketing-joint-vs-product")
    ds = quick_dataset("psr/bracketing")
    out = _copy(ds)
    out["shared_groups"] = out.shared_groups.where(~out.exact, out.shared_groups - 1)
    assert claim.evaluate(ds).passed and not claim.evaluate(out).passed


def test_resamples_that_never_reach_epsilon_count_as_infinite_in_claims_and_figure(quick_dataset):
    """Two of six seeds hold the width at 1.5 epsilon, the others fall to epsilon / 2: the seed mean crosses, but
    about 10% of resamples draw a majority of the flat seeds and never do.  Counted as infinite, they put the
    97.5% bound beyond the run, and the figure must show that end as open (dropping them would not)."""
    from theorylab.psr import figures
    from theorylab.psr.claims import bootstrap_crossings, bootstrap_interval, episodes_to_epsilon

    ds = _copy(quick_dataset("psr/upstream"))
    eps = float(ds.attrs["epsilon"])
    k = np.maximum(ds.iteration.values, 1)
    falling = 0.5 * eps * np.sqrt(k[-1] / k)
    n, learner = int(ds.tasks.max()), "single-task"
    curves = np.array([np.full(k.size, 1.5 * eps) if s < 2 else falling for s in range(ds.sizes["seed"])])
    at = {"tasks": n, "learner": learner}
    ds["width"].loc[at] = xr.DataArray(curves, dims=("seed", "iteration")).transpose(*ds.width.sel(at).dims).values
    gap = ds.width.sel(tasks=n, learner=learner)
    boots = bootstrap_crossings([gap], ds.episodes.values, eps, seed=n)[:, 0]
    assert np.isfinite(episodes_to_epsilon(gap, ds.episodes.values, eps))
    assert not np.isnan(boots).any() and 0.05 < np.isinf(boots).mean() < 0.2
    lo, hi = bootstrap_interval(boots)
    assert np.isfinite(lo) and np.isinf(hi)
    assert np.isfinite(np.nanquantile(np.where(np.isinf(boots), np.nan, boots), 0.975))   # dropped: a finite bound
    arrows = figures.fig_sample_complexity(ds).axes[0].texts     # open upper ends, one at each such N
    assert n in [a.xy[0] for a in arrows]


def _claim(claim_id):
    from theorylab.psr.claims import CLAIMS

    return next(c for c in CLAIMS if c.id == claim_id)


def test_width_rate_fails_saying_why_when_a_seed_resolves_the_class(quick_dataset):
    """A width of exactly 0 (the set is one model) in the fit window must fail the check with the reason, not
    crash the log-log fit; an exact k^-1/2 width passes."""
    claim = _claim("psr.width-rate")
    ds = quick_dataset("psr/upstream")
    k = np.maximum(ds.iteration, 1)
    exact = _copy(ds)
    exact["width"] = (1.0 + 0.1 * ds.seed) / np.sqrt(k) * xr.ones_like(ds.width)
    assert claim.evaluate(exact).passed
    resolved = _copy(exact)
    resolved["width"].loc[{"seed": ds.seed.values[0], "iteration": ds.iteration.values[-10:]}] = 0.0
    result = claim.evaluate(resolved)
    assert not result.passed and "reaches 0" in result.measured


def test_misspecified_claim_needs_the_target_outside(quick_dataset):
    """The floor must come with the target outside the restricted class: a run flagged inside fails the check."""
    claim = _claim("psr.transfer-misspecified")
    ds = quick_dataset("psr/misspecified")
    out = _copy(ds)
    far = ds.target_shift.values[np.argmax(np.abs(ds.target_shift.values))]
    out["target_in_class"].loc[{"target_shift": far, "seed": ds.seed.values[0]}] = True
    assert claim.evaluate(ds).passed and not claim.evaluate(out).passed


def test_class_size_coverage_counts_only_runs_with_upstream_data(quick_dataset):
    """Budget-0 runs hold the truth trivially; counted, they would hide a constraint that excludes the target too
    often.  Exclude just enough runs with data to fall below the floor of those runs alone, where counting the
    budget-0 runs as well would still pass."""
    from theorylab.psr.claims import _binomial_floor

    claim = _claim("psr.transfer-class-size")
    ds = quick_dataset("psr/downstream")
    delta = float(ds.attrs["delta"])
    budgets = ds.upstream_iterations.values
    at = {"upstream_iterations": budgets[budgets > 0]}
    inside = ds.target_in_class.sel(at).values
    n_data, n_all = inside.size, ds.target_in_class.size
    out_runs = next(m for m in range(n_data + 1) if (n_data - m) / n_data < _binomial_floor(delta, n_data))
    assert inside.all() and (n_all - out_runs) / n_all >= _binomial_floor(delta, n_all)
    out = _copy(ds)
    flat = inside.ravel().copy()
    flat[:out_runs] = False
    out["target_in_class"].loc[at] = flat.reshape(inside.shape)
    assert claim.evaluate(ds).passed and not claim.evaluate(out).passed


def test_captions_state_the_seed_band_convention():
    """Every figure that draws seed bands says what they are, in the package's words."""
    import inspect

    from theorylab.core.plotting import SEED_BAND
    from theorylab.psr import figures

    for name in ("fig_learning_curves", "fig_batch", "fig_transfer", "fig_misspecified"):
        fn = getattr(figures, name)
        assert "seed_band(" in inspect.getsource(fn), name
        caption = " ".join(inspect.getdoc(fn).split()).lower()
        assert " ".join(SEED_BAND.split()).lower() in caption, name
