"""Every claim of the study at quick scale, plus a negative control per claim showing the check can fail;
every figure renders from quick-scale data."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from theorylab.core import registry

EXPERIMENTS = registry.experiments("attention")
CASES = [(exp.full_name, claim) for exp in EXPERIMENTS for claim in exp.claim_objects()]


def test_every_claim_is_attached_to_an_experiment_and_labelled():
    from theorylab.attention.claims import CLAIMS

    attached = {claim.id for _, claim in CASES}
    assert {c.id for c in CLAIMS} == attached
    # only the abstract was readable: nothing may claim to be verified in the paper
    assert {c.source for c in CLAIMS} <= {"derived", "reconstructed"}
    for c in CLAIMS:
        assert c.id.startswith("attention.")
        assert any(e.name == c.experiment and c.id in e.claims for e in EXPERIMENTS), c.id


@pytest.mark.parametrize("experiment, claim", CASES, ids=[c.id for _, c in CASES])
def test_claim_holds_at_quick_scale(quick_dataset, experiment, claim):
    result = claim.evaluate(quick_dataset(experiment))
    assert result.passed, f"{result.measured} | expected {result.expected} ({result.tolerance})"


def _swap(dim, a, b, var="test_err_best"):
    """Mislabelled results: the values of ``a`` reported under ``b`` and vice versa."""
    def corrupt(ds):
        out = ds.copy(deep=True)
        out[var].loc[{dim: a}] = ds[var].sel({dim: b}).values
        out[var].loc[{dim: b}] = ds[var].sel({dim: a}).values
        return out
    return corrupt


def _kernel_off_by_10_percent(ds):
    """A closed form 10% off leaves an error floor: sqrt(err^2 + 0.1^2) flattens the log-log slope."""
    out = ds.copy(deep=True)
    out["gram_rel_err"] = np.sqrt(ds.gram_rel_err**2 + 0.1**2)
    return out


def _reverse(dim, var="test_err_best"):
    """Axis labels reversed: the error grows along ``dim``."""
    def corrupt(ds):
        out = ds.copy(deep=True)
        out[var] = ds[var].isel({dim: slice(None, None, -1)}).assign_coords({dim: ds[dim].values})
        return out
    return corrupt


def _rfa_error_grows_with_N(ds):
    """Features summed over keys instead of averaged: an error growing with N."""
    out = ds.copy(deep=True)
    out["test_err_best"].loc[{"model": "rfa"}] = ds.test_err_best.sel(model="rfa") * ds.N / ds.N.min()
    return out


def _reverse_degrees(ds):
    out = ds.copy(deep=True)
    out["test_err_best"] = ds.test_err_best.isel(target=slice(None, None, -1)).assign_coords(
        target=ds.target.values)
    return out


def _invariance_broken(ds):
    """RFA features computed from the first key only: they change under permutation like the RFMLP's."""
    out = ds.copy(deep=True)
    out["max_change"].loc[{"model": "rfa"}] = ds.max_change.sel(model="rfmlp").values
    out["max_feature"].loc[{"model": "rfa"}] = ds.max_feature.sel(model="rfmlp").values
    return out


NEGATIVE = {
    "attention.permutation-invariance": _invariance_broken,
    "attention.kernel-rate": _kernel_off_by_10_percent,
    "attention.heads-to-krr": _reverse("M"),
    "attention.learning-curve": _reverse("n"),
    "attention.rfa-beats-rfmlp": _swap("model", "rfa", "rfmlp"),
    "attention.n-independence": _rfa_error_grows_with_N,
    "attention.invariant-floor": _swap("model", "rfa", "rfmlp"),
    "attention.degree-staircase": _reverse_degrees,
    "attention.bias-helps": _swap("mu", 0.0, 2.0),
}


def test_every_claim_has_a_negative_control():
    assert {c.id for _, c in CASES} == set(NEGATIVE)


@pytest.mark.parametrize("experiment, claim", CASES, ids=[c.id for _, c in CASES])
def test_claim_fails_on_a_corrupted_dataset(quick_dataset, experiment, claim):
    corrupted = NEGATIVE[claim.id](quick_dataset(experiment))
    assert not claim.evaluate(corrupted).passed


@pytest.mark.parametrize("experiment", [e.full_name for e in EXPERIMENTS if e.figures])
def test_figures_render_from_quick_data(quick_dataset, experiment):
    exp = next(e for e in EXPERIMENTS if e.full_name == experiment)
    for name, fn in exp.figure_functions().items():
        fig = fn(quick_dataset(experiment))
        assert isinstance(fig, plt.Figure) and fig.axes, name
        plt.close(fig)
