"""Every claim of the study at quick scale, a negative control per claim showing its check can fail,
and every figure rendered from quick-scale data (shared checks: tests/study_contract.py)."""

import numpy as np

from tests.study_contract import *  # noqa: F403  the shared checks, parametrized by STUDY

STUDY = "deeplinear"


def _swap_pathways(ds):
    out = ds.copy(deep=True)
    out["K"] = out.K.isel(pathway=[1, 0]).assign_coords(pathway=out.pathway.values)
    return out


def _scale_k(factor, **where):
    def corrupt(ds):
        out = ds.copy(deep=True)
        out["K"].loc[where] = out.K.loc[where] * factor
        return out
    return corrupt


def _nudge(var, amount):
    def corrupt(ds):
        out = ds.copy(deep=True)
        out[var] = out[var] + amount
        return out
    return corrupt


def _reverse(dim):
    def corrupt(ds):
        out = ds.copy(deep=True)
        out["K"] = out.K.isel({dim: slice(None, None, -1)}).assign_coords({dim: out[dim].values})
        return out
    return corrupt


def _replace_finest_lr_by_coarsest(ds):
    out = ds.copy(deep=True)
    out["K"].loc[{"lr": out.lr.min()}] = out.K.sel(lr=out.lr.max()).values
    return out


def _set(var, value, **where):
    def corrupt(ds):
        out = ds.copy(deep=True)
        out[var].loc[where] = value
        return out
    return corrupt


def _scale(var, factor, **where):
    def corrupt(ds):
        out = ds.copy(deep=True)
        out[var].loc[where] = out[var].loc[where] * factor
        return out
    return corrupt


def _tilt_depth1(ds):
    out = ds.copy(deep=True)
    ramp = np.linspace(0.0, 0.01, out.sizes["t_switch"])
    out["test_loss"].loc[{"depth": 1}] = out.test_loss.sel(depth=1) + ramp
    return out


def _flat_after_scratch(ds):
    """Every T_sw gets the from-scratch loss: no critical period anywhere."""
    out = ds.copy(deep=True)
    out["test_loss"][:] = out.test_loss.isel(t_switch=0)
    return out


def _reverse_dim(dim):
    def corrupt(ds):
        out = ds.copy(deep=True)
        out["test_loss"] = out.test_loss.isel({dim: slice(None, None, -1)}).assign_coords(
            {dim: out[dim].values})
        return out
    return corrupt


def _gd_off_flow(ds):
    out = ds.copy(deep=True)
    out["sigma_gd"] = out.sigma_gd * 1.06
    return out


def _zeroth_order(ds):
    out = ds.copy(deep=True)
    err = out.sigma_gd - out.sigma_ode
    out["sigma_gd"] = out.sigma_ode + err / err.lr  # same gap at every lr
    return out


# a plausible wrong answer for each claim: a sign error, a mislabelled axis, a 2-10% bias
NEGATIVE = {
    "deeplinear.gd-equals-mode-map": _nudge("K", 1e-7),
    "deeplinear.early-deficit-permanent": _swap_pathways,
    "deeplinear.late-deficit-harmless": _scale_k(0.9, pathway="b"),
    "deeplinear.window-per-feature": _swap_pathways,
    "deeplinear.lesion-reallocated": _scale_k(0.97, pathway="b"),
    "deeplinear.gd-first-order-flow": _replace_finest_lr_by_coarsest,
    "deeplinear.depth-amplifies-early-deficit": _reverse("depth"),
    "deeplinear.invariant-final-split": _scale_k(1.02, pathway="a"),
    "deeplinear.critical-window-closes": _reverse("deficit_onset"),
    "deeplinear.saxe-learning-time": _scale_k(1.1),
    "deeplinear.phase-depth-amplifies": _reverse("depth"),
    "deeplinear.phase-small-invariant": _scale_k(1.05, pathway="a"),
    "deeplinear.mc-shallow-no-critical-period": _tilt_depth1,
    "deeplinear.mc-shallow-closed-form": _scale("closed_form_loss", 1.02),
    "deeplinear.mc-deep-critical-period": _flat_after_scratch,
    "deeplinear.mc-deep-beats-nuclear": _set("nuclear_loss", 1e-4),
    "deeplinear.mc-seeds-robust": _flat_after_scratch,
    "deeplinear.mc-rank-relation": _reverse_dim("rank1"),
    "deeplinear.mc-abundant-data": _reverse_dim("n_obs"),
    "deeplinear.mc-init-onset": _reverse_dim("init_scale"),
    "deeplinear.mc-subset-critical-period": _flat_after_scratch,
    "deeplinear.mc-subset-more-data": _flat_after_scratch,
    "deeplinear.mc-gd-tracks-flow": _gd_off_flow,
    "deeplinear.mc-flow-first-order": _zeroth_order,
}
