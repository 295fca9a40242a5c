"""The study contract: what every study owes the package, checked the same way for each.

Used by the built-in studies' tests and by plugin studies alike (``theorylab new`` writes tests
that use it).  A test folder's ``conftest.py`` takes the fixtures and the parametrization hook::

    from theorylab.testing import pytest_generate_tests, quick_dataset, quick_store  # noqa: F401

A study's ``test_claims.py`` sets ``STUDY`` (its name) and ``NEGATIVE`` (claim id -> a plausible
wrong Dataset that a correct check must reject), optionally ``SOURCES`` (the labels its claims may
carry), and star-imports the ``test_*`` functions of ``__all__``; :func:`pytest_generate_tests`
parametrizes them over that study's claims and experiments.  ``test_golden_values`` reads
``golden.toml`` beside the test module.

Its ``test_model.py`` sets ``STUDY``, ``SIMULATORS`` (a list of ``(simulate, params)`` small
enough to run in about a second) and ``BAD_PARAMETERS`` (a list of ``(ParamsClass, changes,
name)``: constructing the class with ``changes`` must raise ``ValueError("<name> must ...")``), and
imports the tests named in :data:`SIMULATOR_TESTS`: determinism, provenance and validation.
"""

import tomllib
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr

from theorylab.core import pipeline, registry
from theorylab.core.params import Params
from theorylab.core.store import Store

SOURCES = {"paper", "derived", "reconstructed"}

__all__ = [  # what a study's test_claims.py takes with ``from theorylab.testing import *``
    "test_every_claim_is_checked_by_an_experiment_and_labelled",
    "test_claim_holds_at_quick_scale",
    "test_every_claim_has_a_negative_control",
    "test_claim_fails_on_a_corrupted_dataset",
    "test_figures_render_from_quick_data",
    "test_golden_values",
]


def claim_cases(study: str) -> list[tuple[str, object]]:
    """(experiment, claim) for every claim an experiment of ``study`` checks."""
    return [(exp.full_name, claim) for exp in registry.experiments(study) for claim in exp.claim_objects()]


def figure_experiments(study: str) -> list[str]:
    return [exp.full_name for exp in registry.experiments(study) if exp.figures]


def test_every_claim_is_checked_by_an_experiment_and_labelled(request):
    study = request.module.STUDY
    claims = registry.study_module(study, "claims").CLAIMS
    assert {c.id for c in claims} == {claim.id for _, claim in claim_cases(study)}
    assert {c.source for c in claims} <= getattr(request.module, "SOURCES", SOURCES)
    for c in claims:
        assert any(e.name == c.experiment and c.id in e.claims for e in registry.experiments(study)), c.id


def test_claim_holds_at_quick_scale(quick_dataset, experiment, claim):
    result = claim.evaluate(quick_dataset(experiment))
    assert result.passed, f"{result.measured} | expected {result.expected} ({result.tolerance}) {result.detail}"


def test_every_claim_has_a_negative_control(request):
    assert set(request.module.NEGATIVE) == {claim.id for _, claim in claim_cases(request.module.STUDY)}


def test_claim_fails_on_a_corrupted_dataset(request, quick_dataset, experiment, claim):
    corrupted = request.module.NEGATIVE[claim.id](quick_dataset(experiment))
    assert not claim.evaluate(corrupted).passed


def test_figures_render_from_quick_data(quick_dataset, figure_experiment):
    exp = registry.experiment(figure_experiment)
    for name, fn in exp.figure_functions().items():
        fig = fn(quick_dataset(figure_experiment))
        assert isinstance(fig, plt.Figure) and fig.axes, name
        plt.close(fig)


SIMULATOR_TESTS = [  # the simulator checks a study's test_model.py imports by name
    "test_bad_parameters_raise_naming_them",
    "test_same_seed_identical_other_seed_different",
    "test_provenance_and_labelled_layout",
]


def test_bad_parameters_raise_naming_them(params_class, changes, name):
    with pytest.raises(ValueError, match=rf"^{name} must"):
        params_class(**changes)


def test_same_seed_identical_other_seed_different(simulate, params):
    a, b, c = simulate(params, 3), simulate(params, 3), simulate(params, 4)
    xr.testing.assert_identical(a, b)
    assert any(not np.array_equal(a[v].values, c[v].values) for v in a.data_vars), "seed changes nothing"


def test_provenance_and_labelled_layout(request, simulate, params):
    assert_labelled_with_provenance(simulate(params, 0), params, request.module.STUDY)


def golden_entries(module_file: str) -> list[dict]:
    """``golden.toml`` beside a study's test module: quick-scale numbers frozen with their tolerance.

    Each ``[[value]]`` names ``experiment``, ``variable``, an optional ``select`` (``.sel`` keywords),
    the frozen ``value`` (the mean of the selection), ``rtol``/``atol`` and ``why`` (the reason for
    the tolerance). A kernel and its NumPy twin that move together (a dependency upgrade, a changed
    random stream) pass the twin test but fail here.
    """
    path = Path(module_file).parent / "golden.toml"
    with open(path, "rb") as fh:
        return tomllib.load(fh)["value"]


def test_golden_values(request, quick_dataset):
    entries = golden_entries(request.module.__file__)
    assert len(entries) >= 3, "a study pins at least three golden values"
    for entry in entries:
        assert entry.get("why"), f"{entry['experiment']}:{entry['variable']} needs a reason for its tolerance"
        da = quick_dataset(entry["experiment"])[entry["variable"]].sel(entry.get("select", {}))
        np.testing.assert_allclose(float(da.mean()), entry["value"], rtol=entry.get("rtol", 1e-12),
                                   atol=entry.get("atol", 0.0),
                                   err_msg=f"{entry['experiment']}:{entry['variable']} {entry.get('select', {})}")


def assert_labelled_with_provenance(ds: xr.Dataset, params: Params, study: str) -> None:
    """One simulator result: provenance and every parameter in attrs, units on coords, names on data."""
    for key in ("study", "seed", "theorylab_version", "git_revision", "numba_version", "params_class"):
        assert key in ds.attrs, key
    assert ds.attrs["study"] == study
    assert ds.attrs["params_class"] == type(params).__name__
    for name in params.to_dict():
        assert name in ds.attrs, name
    for name in ds.coords:
        assert "units" in ds[name].attrs, name
    for name in ds.data_vars:
        assert "long_name" in ds[name].attrs, name


# --- fixtures and parametrization, for a test folder's conftest.py ------------------------------

@pytest.fixture(scope="session")
def quick_store(tmp_path_factory) -> Store:
    return Store(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def quick_dataset(quick_store):
    """``quick_dataset("study/experiment")`` -> the experiment's quick-scale Dataset (cached)."""
    cache = {}

    def get(name: str):
        if name not in cache:
            exp = registry.experiment(name)
            cache[name] = pipeline.run_experiment(exp, "quick", store=quick_store, progress=False)
        return cache[name]

    return get


def pytest_generate_tests(metafunc):
    """Parametrize the contract's checks over the test module's ``STUDY``."""
    study = getattr(metafunc.module, "STUDY", None)
    if study is None:
        return
    if {"experiment", "claim"} <= set(metafunc.fixturenames):
        cases = claim_cases(study)
        metafunc.parametrize("experiment, claim", cases, ids=[c.id for _, c in cases])
    if "figure_experiment" in metafunc.fixturenames:
        metafunc.parametrize("figure_experiment", figure_experiments(study))
    if {"simulate", "params"} <= set(metafunc.fixturenames) and hasattr(metafunc.module, "SIMULATORS"):
        cases = metafunc.module.SIMULATORS
        metafunc.parametrize("simulate, params", cases,
                             ids=[f"{fn.__name__}-{i}" for i, (fn, _) in enumerate(cases)])
    if {"params_class", "changes", "name"} <= set(metafunc.fixturenames):
        cases = metafunc.module.BAD_PARAMETERS
        metafunc.parametrize("params_class, changes, name", cases,
                             ids=[f"{cls.__name__}-{name}-{i}" for i, (cls, _, name) in enumerate(cases)])
