"""Every matrix-completion claim at quick scale, a negative control per claim showing its check can
fail, and every figure rendered from quick-scale data (shared checks: tests/study_contract.py)."""

import numpy as np

from tests.study_contract import *  # noqa: F403  the shared checks, parametrized by STUDY

STUDY = "matcomp"


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


def _gd_lags_flow(ds):
    """GD running 5% behind in time: the shift a wrong step count or time unit would make."""
    out = ds.copy(deep=True)
    n = out.sizes["time"]
    lag = max(1, n // 20)
    out["sigma_gd"] = out.sigma_gd.shift(time=lag).fillna(out.sigma_gd.isel(time=0))
    return out


# a plausible wrong answer for each claim: a flattened curve, a reversed sweep axis, a 2-6% bias
NEGATIVE = {
    "matcomp.shallow-no-critical-period": _tilt_depth1,
    "matcomp.shallow-closed-form": _scale("closed_form_loss", 1.02),
    "matcomp.deep-critical-period": _flat_after_scratch,
    "matcomp.deep-beats-nuclear": _set("nuclear_loss", 1e-4),
    "matcomp.seeds-robust": _flat_after_scratch,
    "matcomp.rank-relation": _reverse_dim("rank1"),
    "matcomp.abundant-data": _reverse_dim("n_obs"),
    "matcomp.init-onset": _reverse_dim("init_scale"),
    "matcomp.subset-critical-period": _flat_after_scratch,
    "matcomp.subset-more-data": _flat_after_scratch,
    "matcomp.gd-tracks-flow": _gd_off_flow,
    "matcomp.flow-first-order": _zeroth_order,
    "matcomp.gd-tracks-flow-appendix": _gd_lags_flow,
}
