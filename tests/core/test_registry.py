"""Every experiment of every study resolves at both scales: all grid points, figures and claims."""

import pytest

from theorylab.core import pipeline, registry
from theorylab.core.registry import SCALES

EXPERIMENTS = registry.experiments()


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("experiment", EXPERIMENTS, ids=[e.full_name for e in EXPERIMENTS])
def test_experiment_is_valid(experiment, scale):
    pipeline.validate(experiment, scale)
    assert experiment.description and experiment.figures and experiment.claims
    for fn in experiment.figure_functions().values():
        assert registry.caption(fn), f"{fn.__name__} needs a docstring: it is the figure's caption"


def test_claim_ids_are_unique_and_prefixed():
    for study in registry.studies():
        ids = [c.id for c in registry.study_module(study, "claims").CLAIMS]
        assert len(ids) == len(set(ids))
        assert all(i.startswith(f"{study}.") for i in ids)
