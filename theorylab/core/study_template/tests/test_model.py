"""Simulator checks shared by every study (validation, determinism, provenance), and the model's own."""

import numpy as np
from theorylab.testing import (test_bad_parameters_raise_naming_them,  # noqa: F401 (shared checks)
                               test_provenance_and_labelled_layout,
                               test_same_seed_identical_other_seed_different)

from __study__ import model

STUDY = "__study__"

SIMULATORS = [(model.simulate_monte_carlo, model.MonteCarloParams(samples=(10, 100), repeats=5))]

BAD_PARAMETERS = [
    (model.MonteCarloParams, {"t": 0.0}, "t"),
    (model.MonteCarloParams, {"samples": (100, 10)}, "samples"),
    (model.MonteCarloParams, {"samples": (0, 10)}, "samples"),
    (model.MonteCarloParams, {"repeats": 1}, "repeats"),
    (model.MonteCarloParams, {"samples": (10, 10**7), "repeats": 1000}, "samples"),
]


def test_estimates_are_nested_running_means():
    """The estimate at n uses the first n draws of the same stream as the estimate at larger n."""
    ds = model.simulate_monte_carlo(model.MonteCarloParams(samples=(1, 2), repeats=2), seed=0)
    x = np.random.default_rng(0).standard_normal(2)
    np.testing.assert_allclose(ds.estimate.values[0], [np.cos(x[0]), np.cos(x).mean()], rtol=1e-14)
