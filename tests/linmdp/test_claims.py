"""Every claim of the study at quick scale, a negative control per claim showing its check can fail,
every figure rendered from quick-scale data, and golden values (shared checks: tests/study_contract.py)."""

import numpy as np
import xarray as xr

from tests.negative_controls import mislabelled, replaced
from tests.study_contract import *  # noqa: F403  the shared checks, parametrized by STUDY

STUDY = "linmdp"


def _linear_regret(ds):
    """A learner that never learns: regret linear in K (the last value spread evenly)."""
    out = ds.copy(deep=True)
    frac = xr.DataArray(ds.episode.values / ds.episode.values.max(), dims=["episode"], coords={"episode": ds.episode})
    out["regret"] = ds.regret.isel(episode=-1) * frac
    return out


def _perturb_m1(ds):
    out = ds.copy(deep=True)
    m1 = int(ds.tasks.min())
    out["regret"].loc[{"algorithm": "shared", "tasks": m1}] = ds.regret.sel(algorithm="shared", tasks=m1).values + 1e-9
    return out


def _biased_dp(ds):
    """Exact values off by 0.1 per episode (a DP one step short would be off by the last step's mean reward,
    about 0.5): sum (G - V - 0.1) and its squares."""
    out = ds.copy(deep=True)
    n = ds.mc_episodes * xr.ones_like(ds.mc_gap_sum)
    out["mc_gap_sum"] = ds.mc_gap_sum - 0.1 * n
    out["mc_gap_sq"] = ds.mc_gap_sq - 0.2 * ds.mc_gap_sum + 0.01 * n
    return out


def _true_map_lost(ds):
    """A threshold far too small: the true map leaves the confidence set in half of the runs."""
    out = ds.copy(deep=True)
    missed = out["true_missed"].loc[{"algorithm": "shared"}]
    missed.values[..., ::2, :] = 3.0                               # every other seed
    out["true_missed"].loc[{"algorithm": "shared"}] = missed.values
    return out


def _inexact_map(ds):
    """A shared map with a small but nonzero Bellman error while the construction claims eps = 0."""
    out = ds.copy(deep=True)
    out["bellman_residual_true"] = ds.bellman_residual_true + 1e-3
    return out


def _bound_too_small(ds):
    """The inherent Bellman error bound stated ten times too small (eps H / 20)."""
    out = ds.copy(deep=True)
    out["bellman_error_bound"] = ds.bellman_error_bound / 10
    return out


# a plausible wrong answer for each claim
NEGATIVE = {
    "linmdp.multitask-gain": replaced("shared", "single"),        # no gain from sharing
    "linmdp.beats-per-task": mislabelled("shared", "single"),
    "linmdp.sublinear-K": _linear_regret,
    "linmdp.M1-reduces-to-single": _perturb_m1,
    "linmdp.dp-matches-monte-carlo": _biased_dp,
    "linmdp.confidence-coverage": _true_map_lost,
    "linmdp.bellman-closure": _inexact_map,
    "linmdp.low-bellman-error": _bound_too_small,
    "linmdp.misspecified-beats-per-task": mislabelled("shared", "tabular"),
}


def test_negative_controls_keep_the_layout(quick_dataset):
    """The corrupted Datasets differ from the data only in the variables they name."""
    ds = quick_dataset("linmdp/tasks")
    assert np.all(_true_map_lost(ds).true_missed.sel(algorithm="single") == ds.true_missed.sel(algorithm="single"))
    xr.testing.assert_identical(_biased_dp(ds).regret, ds.regret)
