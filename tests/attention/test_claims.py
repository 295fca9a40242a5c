"""Every claim of the study at quick scale, a negative control per claim showing its check can fail,
and every figure rendered from quick-scale data (shared checks: tests/study_contract.py)."""

import numpy as np

from tests.negative_controls import mislabelled
from tests.study_contract import *  # noqa: F403  the shared checks, parametrized by STUDY

STUDY = "attention"
# only the abstract was readable: nothing may claim to be verified in the paper
SOURCES = {"derived", "reconstructed"}


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
    "attention.rfa-beats-rfmlp": mislabelled("rfa", "rfmlp", var="test_err_best", dim="model"),
    "attention.n-independence": _rfa_error_grows_with_N,
    "attention.invariant-floor": mislabelled("rfa", "rfmlp", var="test_err_best", dim="model"),
    # degrees 2 and 3 mislabelled
    "attention.degree-staircase": mislabelled("corr2", "corr3", var="test_err_best", dim="target"),
    "attention.bias-helps": mislabelled(0.0, 2.0, var="test_err_best", dim="mu"),
}


def test_staircase_rejects_a_sweep_that_stops_before_degree_2_is_learned(quick_dataset):
    """The bias experiment's range (n <= 2048) does not reach the sample size at which degree 2 is learned:
    its degree-2 error is still > 0.75, so the check must not pass on it."""
    from theorylab.attention.claims import CLAIMS
    claim = next(c for c in CLAIMS if c.id == "attention.degree-staircase")
    ds = quick_dataset("attention/staircase")
    assert claim.evaluate(ds).passed
    assert not claim.evaluate(ds.sel(n=ds.n[ds.n <= 2048])).passed
