"""Every experiment of every study resolves at both scales: all grid points, figures and claims."""

import pytest

from theorylab.core import pipeline, registry
from theorylab.core.registry import SCALES

EXPERIMENTS = registry.experiments()


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("experiment", EXPERIMENTS, ids=[e.full_name for e in EXPERIMENTS])
def test_experiment_is_valid(experiment, scale):
    pipeline.validate(experiment, scale)
    # an experiment exists to check claims; a figure is optional (an exact invariant needs none)
    assert experiment.description and experiment.claims
    for fn in experiment.figure_functions().values():
        assert registry.caption(fn), f"{fn.__name__} needs a docstring: it is the figure's caption"


def test_every_study_has_figures():
    for study in registry.studies():
        assert any(e.figures for e in registry.experiments(study)), f"{study} renders no figure"


def test_claim_ids_are_unique_and_prefixed():
    for study in registry.studies():
        ids = [c.id for c in registry.study_module(study, "claims").CLAIMS]
        assert len(ids) == len(set(ids))
        assert all(i.startswith(f"{study}.") for i in ids)


# --- discovery: built-in subpackages by listing the package, plugins by entry point or register() ---

PLUGIN = __import__("pathlib").Path(__file__).resolve().parents[1] / "plugin"  # tests/plugin: the coin study


@pytest.fixture
def clean_registry(monkeypatch):
    monkeypatch.setenv(registry.STUDIES_VARIABLE, "")  # restored after the test, whatever register() sets
    registry._table.cache_clear()
    yield monkeypatch
    registry._table.cache_clear()
    registry._entry_point_studies.cache_clear()


def test_a_new_builtin_subpackage_is_found_without_reinstalling(clean_registry, tmp_path):
    import theorylab

    (tmp_path / "fresh").mkdir()
    (tmp_path / "fresh" / "__init__.py").write_text("")
    clean_registry.setattr(theorylab, "__path__", [*theorylab.__path__, str(tmp_path)])
    assert "fresh" in registry.studies() and registry.study_package("fresh") == "theorylab.fresh"
    assert registry.experiments_folder("fresh") == registry.project_root() / "experiments" / "fresh"


def test_a_plugin_brings_its_experiments_and_section(clean_registry):
    clean_registry.syspath_prepend(str(PLUGIN))
    registry.register("coin", "theorylab_coin")
    assert "coin" in registry.studies() and not registry.is_builtin("coin")
    [exp] = registry.experiments("coin")
    assert exp.full_name == "coin/flips" and [c.id for c in exp.claim_objects()] == ["coin.frequency"]
    pipeline.validate(exp, "quick")
    section, bib = registry.section_files("coin")
    assert section == PLUGIN / "theorylab_coin" / "section.md" and bib.exists()
    assert registry.paper_key("coin") == "bernoulli1713"


def test_entry_points_register_plugins_and_may_not_shadow_builtins(clean_registry):
    import importlib.metadata

    clean_registry.syspath_prepend(str(PLUGIN))
    points = [importlib.metadata.EntryPoint("coin", "theorylab_coin", registry.ENTRY_POINT_GROUP)]
    clean_registry.setattr(registry.importlib.metadata, "entry_points", lambda group: points)
    registry._entry_point_studies.cache_clear()
    assert registry.study_package("coin") == "theorylab_coin"
    points.append(importlib.metadata.EntryPoint("psr", "elsewhere", registry.ENTRY_POINT_GROUP))
    registry._entry_point_studies.cache_clear()
    with pytest.raises(ValueError, match=r"plugin study name\(s\) \['psr'\] clash with built-in studies"):
        registry.studies()


def test_register_wants_an_identifier_and_the_variable_a_table(clean_registry):
    with pytest.raises(ValueError, match="study must be a Python identifier"):
        registry.register("my-study", "x")
    clean_registry.setenv(registry.STUDIES_VARIABLE, "coin")
    with pytest.raises(ValueError, match="THEORYLAB_STUDIES must look like name=package"):
        registry.studies()


def test_registered_studies_reach_worker_processes(clean_registry, tmp_path):
    """register() goes through the environment: a spawned process (a dask worker, the explorer's worker)
    sees the study too."""
    import multiprocessing

    clean_registry.syspath_prepend(str(PLUGIN))
    registry.register("coin", "theorylab_coin")
    assert registry.STUDIES_VARIABLE in __import__("os").environ
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        assert "coin" in pool.apply(registry.studies)
