"""Shared fixtures: quick-scale experiment Datasets, computed once per test session and cached."""

import pytest

from theorylab.core import pipeline, registry
from theorylab.core.store import Store


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
    """Parametrize the shared study checks (tests/study_contract.py) over the module's STUDY."""
    study = getattr(metafunc.module, "STUDY", None)
    if study is None:
        return
    from tests.study_contract import claim_cases, figure_experiments

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

