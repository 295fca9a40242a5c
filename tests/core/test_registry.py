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
