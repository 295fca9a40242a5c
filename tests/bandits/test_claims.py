"""Every claim of the study at quick scale, plus negative controls showing each check can fail."""

import numpy as np
import pytest

from theorylab.core import registry

EXPERIMENTS = registry.experiments("bandits")
CASES = [(exp.full_name, claim) for exp in EXPERIMENTS for claim in exp.claim_objects()]


def test_every_claim_is_attached_to_an_experiment_and_labelled():
    from theorylab.bandits.claims import CLAIMS

    attached = {claim.id for _, claim in CASES}
    assert {c.id for c in CLAIMS} == attached
    for c in CLAIMS:
        assert any(e.name == c.experiment and c.id in e.claims for e in EXPERIMENTS), c.id


@pytest.mark.parametrize("experiment, claim", CASES, ids=[c.id for _, c in CASES])
def test_claim_holds_at_quick_scale(quick_dataset, experiment, claim):
    result = claim.evaluate(quick_dataset(experiment))
    assert result.passed, f"{result.measured} | expected {result.expected} ({result.tolerance})"


def _copy(ds):
    return ds.copy(deep=True)


def _linear_regret(ds):
    """A learner that never learns: regret linear in T (the last value spread evenly)."""
    out = _copy(ds)
    t = ds.t.values / ds.t.values.max()
    out["regret"] = ds.regret.isel(t=-1) * xr_like(ds, t)
    return out


def xr_like(ds, values):
    import xarray as xr
    return xr.DataArray(values, dims=["t"], coords={"t": ds.t})


def _regret_times(factor, algorithm=None):
    def corrupt(ds):
        out = _copy(ds)
        if algorithm is None:
            out["regret"] = ds.regret * factor
        else:
            out["regret"].loc[{"algorithm": algorithm}] = ds.regret.sel(algorithm=algorithm).values * factor
        return out
    return corrupt


def _swap_algorithms(a, b):
    """Mislabelled algorithms: a's regret reported as b's and vice versa."""
    def corrupt(ds):
        out = _copy(ds)
        out["regret"].loc[{"algorithm": a}] = ds.regret.sel(algorithm=b).values
        out["regret"].loc[{"algorithm": b}] = ds.regret.sel(algorithm=a).values
        return out
    return corrupt


def _shared_gain_removed(ds):
    """GFUCB's regret replaced by per-task learning's at every M (no sharing)."""
    out = _copy(ds)
    out["regret"].loc[{"algorithm": "gfucb"}] = ds.regret.sel(algorithm="single").values
    return out


def _bound_without_log(ds):
    """The bound scaling without its log factors: grows slower than the measured regret."""
    out = _copy(ds)
    t = ds.t.values.astype(float)
    out["bound_multitask"] = ds.bound_multitask * 0 + 0.05 * np.sqrt(t)[None, None, :] ** 0.9
    return out


def _perturb_m1(ds):
    out = _copy(ds)
    m1 = int(ds.tasks.min())
    out["regret"].loc[{"algorithm": "gfucb", "tasks": m1}] = ds.regret.sel(algorithm="gfucb", tasks=m1).values + 1e-9
    return out


def _oful_violated(ds):
    """A bound 10x too tight (e.g. sigma in place of sigma^2 the wrong way round)."""
    out = _copy(ds)
    out["oful_bound"] = ds.oful_bound * 0.1
    return out


# a plausible wrong answer for each claim
NEGATIVE = {
    "bandits.sqrt-T": _linear_regret,
    "bandits.bound-ratio": _bound_without_log,
    "bandits.multitask-gain-finite": _shared_gain_removed,
    "bandits.beats-independent-finite": _swap_algorithms("gfucb", "single"),
    "bandits.M1-reduces-to-single": _perturb_m1,
    "bandits.multitask-gain-lowrank": _shared_gain_removed,
    "bandits.beats-independent-lowrank": _swap_algorithms("gfucb", "raw"),
    "bandits.oful-bound": _oful_violated,
    "bandits.neural-multitask-gain": _swap_algorithms("gfucb", "single"),
    "bandits.beats-independent-neural": _regret_times(3.0, "gfucb"),
}


def test_every_claim_has_a_negative_control():
    assert {c.id for _, c in CASES} == set(NEGATIVE)


@pytest.mark.parametrize("experiment, claim", CASES, ids=[c.id for _, c in CASES])
def test_claim_fails_on_a_corrupted_dataset(quick_dataset, experiment, claim):
    corrupted = NEGATIVE[claim.id](quick_dataset(experiment))
    assert not claim.evaluate(corrupted).passed
