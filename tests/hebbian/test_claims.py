"""Every claim of the study at quick scale, a negative control per claim showing its check can fail,
and every figure rendered from quick-scale data (shared checks: tests/study_contract.py)."""


from tests.study_contract import *  # noqa: F403  the shared checks, parametrized by STUDY

STUDY = "hebbian"


def _copy(ds):
    return ds.copy(deep=True)


def _square_root_law(ds):
    """Amplitudes (1 - d) d^((k-1)/2): a plausible wrong exponent."""
    out = _copy(ds)
    k = out["rank"] - 1
    out["m_sorted"] = ((1 - out.dilution) * out.dilution ** (k / 2)).broadcast_like(out.m_sorted).transpose(
        *ds.m_sorted.dims)
    return out


def _biased_mean_field(ds):
    """A mean field 3% off (e.g. a normalisation R missing from the fields)."""
    out = _copy(ds)
    out["m_mean_field"] = 0.97 * out.m_mean_field
    return out


def _single_pattern_theory(ds):
    """A theory that ignores multitasking: only the cued archetype retrieved."""
    out = _copy(ds)
    out["m_theory"] = out.m_theory.where(out["rank"] == 1, 0.0)
    return out


def _dilution_reversed(ds):
    """Results filed under the wrong dilution (axis reversed)."""
    out = _copy(ds)
    for name in ("m_sorted", "m_theory", "d_parallel"):
        out[name] = ds[name].isel(dilution=slice(None, None, -1)).assign_coords(dilution=ds.dilution.values)
    return out


def _boundary_shifted(ds):
    """A parallel boundary 0.2 too high (e.g. computed for noiseless examples at lower temperature)."""
    out = _copy(ds)
    out["d_parallel"] = out.d_parallel + 0.2
    return out


def _unsupervised_shifted(ds):
    """Unsupervised results one dilution step off."""
    out = _copy(ds)
    uns = ds.m_sorted.sel(protocol="unsupervised")
    out["m_sorted"].loc[{"protocol": "unsupervised"}] = uns.roll(dilution=1).values
    return out


def _only_cued_retrieved(ds):
    """Monte Carlo that never raises the uncued archetypes (a network without multitasking)."""
    out = _copy(ds)
    out["m_sorted"] = ds.m_sorted.where(ds["rank"] == 1, 0.0)
    return out


def _theory_accuracy_shifted(ds):
    """The exact accuracy filed one example count off."""
    out = _copy(ds)
    out["theory_accuracy"] = ds.theory_accuracy.roll(n_examples=1)
    return out


def _unsupervised_accuracy_shifted(ds):
    """Unsupervised accuracies one example count late (a network that needs more data)."""
    out = _copy(ds)
    uns = ds.accuracy.sel(protocol="unsupervised")
    out["accuracy"].loc[{"protocol": "unsupervised"}] = uns.shift(n_examples=1).fillna(0.5).values
    return out


def _loss_reversed(ds):
    """Loss recorded backwards in time."""
    out = _copy(ds)
    out["loss"] = ds.loss.isel(sweep=slice(None, None, -1)).assign_coords(sweep=ds.sweep.values)
    return out


def _size_independent_bias(ds):
    """Errors that do not shrink with N: a fixed offset of 0.02 on every amplitude."""
    out = _copy(ds)
    out["m_sorted"] = (ds.m_theory + 0.02).broadcast_like(ds.m_sorted).transpose(*ds.m_sorted.dims)
    return out


def _no_hierarchy(ds):
    """Every archetype retrieved with the same amplitude (the mean of the true ones): no power-law hierarchy."""
    out = _copy(ds)
    out["m_sorted"] = ds.m_sorted.mean("rank").broadcast_like(ds.m_sorted).transpose(*ds.m_sorted.dims)
    return out


def _theory_without_multitasking(ds):
    """A theory that learns every archetype as if it were alone: K = 1 fractions for every K."""
    out = _copy(ds)
    single = ds.learned_theory.sel(n_patterns=1).isel(rank=0)
    out["learned_theory"] = single.broadcast_like(ds.learned_theory).where(ds.learned_theory.notnull())
    return out


def _excess_reversed(ds):
    """Loss excesses filed under the reversed dilution axis."""
    out = _copy(ds)
    out["loss_excess"] = ds.loss_excess.isel(dilution=slice(None, None, -1)).assign_coords(dilution=ds.dilution.values)
    return out


# a plausible wrong answer for each claim: a wrong exponent, a biased comparator, a mislabelled axis
NEGATIVE = {
    "hebbian.power-laws": _no_hierarchy,
    "hebbian.power-law": _square_root_law,
    "hebbian.mc-vs-mean-field": _biased_mean_field,
    "hebbian.mc-vs-self-consistency": _single_pattern_theory,
    "hebbian.hierarchical-to-parallel": _dilution_reversed,
    "hebbian.parallel-threshold": _boundary_shifted,
    "hebbian.supervised-equals-unsupervised": _unsupervised_shifted,
    "hebbian.phase-diagram": _only_cued_retrieved,
    "hebbian.snr-accuracy": _theory_accuracy_shifted,
    "hebbian.same-learning-threshold": _unsupervised_accuracy_shifted,
    "hebbian.loss-follows-cost": _loss_reversed,
    "hebbian.finite-size-scaling": _size_independent_bias,
    "hebbian.multitask-learning-threshold": _theory_without_multitasking,
    "hebbian.same-minima": _excess_reversed,
}
