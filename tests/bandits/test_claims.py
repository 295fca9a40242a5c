"""Every claim of the study at quick scale, a negative control per claim showing its check can fail,
and every figure rendered from quick-scale data (shared checks: tests/study_contract.py)."""

import numpy as np
import xarray as xr

from tests.negative_controls import mislabelled, replaced
from tests.study_contract import *  # noqa: F403  the shared checks, parametrized by STUDY

STUDY = "bandits"


def _linear_regret(ds):
    """A learner that never learns: regret linear in T (the last value spread evenly)."""
    out = ds.copy(deep=True)
    t = ds.t.values / ds.t.values.max()
    out["regret"] = ds.regret.isel(t=-1) * xr_like(ds, t)
    return out


def xr_like(ds, values):
    import xarray as xr
    return xr.DataArray(values, dims=["t"], coords={"t": ds.t})


def _regret_times(factor, algorithm=None):
    def corrupt(ds):
        out = ds.copy(deep=True)
        if algorithm is None:
            out["regret"] = ds.regret * factor
        else:
            out["regret"].loc[{"algorithm": algorithm}] = ds.regret.sel(algorithm=algorithm).values * factor
        return out
    return corrupt


def _bound_without_log(ds):
    """The bound scaling without its log factors: grows slower than the measured regret."""
    out = ds.copy(deep=True)
    t = ds.t.values.astype(float)
    out["bound_multitask"] = ds.bound_multitask * 0 + 0.05 * np.sqrt(t)[None, None, :] ** 0.9
    return out


def _perturb_m1(ds):
    """The task-wise rule at M = 1 off by 1e-9 (a rule that is not OFUL's with one task)."""
    out = ds.copy(deep=True)
    m1 = int(ds.tasks.min())
    sel = {"algorithm": "gfucb_taskwise", "tasks": m1}
    out["regret"].loc[sel] = ds.regret.sel(sel).values + 1e-9
    return out


def _oful_violated(ds):
    """A bound 10x too tight (e.g. sigma in place of sigma^2 the wrong way round)."""
    out = ds.copy(deep=True)
    out["oful_bound"] = ds.oful_bound * 0.1
    return out


def _improves_with_tasks(algorithm):
    """A learner whose per-task regret falls like M^(-1/2) (what a per-task learner cannot do)."""
    def corrupt(ds):
        out = ds.copy(deep=True)
        shrink = (ds.tasks / ds.tasks.min()) ** -0.5
        out["regret"].loc[{"algorithm": algorithm}] = (ds.regret.sel(algorithm=algorithm) * shrink).transpose(
            *out["regret"].sel(algorithm=algorithm).dims).values
        return out
    return corrupt


def _coverage_lost(ds):
    """A radius too small: the set loses the true function in a third of the runs."""
    out = ds.copy(deep=True)
    gf = out["covered"].sel(algorithm="gfucb")
    lost = xr.DataArray(np.arange(gf.isel(t=-1).size).reshape(gf.isel(t=-1).shape) % 3 == 0,
                        dims=gf.isel(t=-1).dims, coords=gf.isel(t=-1).coords)
    out["covered"].loc[{"algorithm": "gfucb"}] = gf.where(~lost, 0.0).transpose(*gf.dims).values
    return out


# a plausible wrong answer for each claim
NEGATIVE = {
    "bandits.sqrt-T": _linear_regret,
    "bandits.bound-ratio": _bound_without_log,
    "bandits.multitask-gain-finite": replaced("gfucb", "single"),          # no gain from sharing
    "bandits.beats-independent-finite": mislabelled("gfucb", "single"),
    "bandits.M1-reduces-to-single": _perturb_m1,
    "bandits.multitask-gain-lowrank": _improves_with_tasks("gfucb"),
    "bandits.taskwise-gain-lowrank": replaced("gfucb_taskwise", "single"),
    "bandits.taskwise-beats-independent-lowrank": mislabelled("gfucb_taskwise", "single"),
    # the two action rules' counts of suboptimal plays exchanged (the joint rule exploring less late)
    "bandits.joint-rule-late-exploration-lowrank": mislabelled("gfucb", "gfucb_taskwise", var="suboptimal"),
    "bandits.taskwise-finite-no-gain": _improves_with_tasks("gfucb_taskwise"),
    "bandits.taskwise-gain-neural": replaced("gfucb_taskwise", "single"),
    "bandits.taskwise-beats-independent-neural": mislabelled("gfucb_taskwise", "single"),
    "bandits.beats-independent-lowrank": _regret_times(0.3, "gfucb"),
    "bandits.oful-bound": _oful_violated,
    "bandits.neural-multitask-gain": _improves_with_tasks("gfucb"),
    "bandits.neural-per-task-flat": _improves_with_tasks("single"),
    "bandits.beats-independent-neural": _regret_times(0.3, "gfucb"),
    "bandits.coverage-finite": _coverage_lost,
    "bandits.coverage-lowrank": _coverage_lost,
    "bandits.coverage-neural": _coverage_lost,
    "bandits.digits-multitask-gain": _regret_times(0.5, "shared_mlp"),
    "bandits.digits-per-task-flat": _improves_with_tasks("task_mlp"),
    "bandits.digits-beats-independent": _regret_times(3.0, "shared_mlp"),
}
