"""Simulator: validation before compute, determinism, provenance, layout, data statistics, model invariants."""

import math

import numpy as np
import pytest

from theorylab.hebbian import model, theory
from tests.study_contract import (test_bad_parameters_raise_naming_them,  # noqa: F401 (shared checks)
                                  test_provenance_and_labelled_layout,
                                  test_same_seed_identical_other_seed_different)

STUDY = "hebbian"

SMALL = dict(n_neurons=300, n_examples=3, n_sweeps=12, burn_in=4, n_replicas=2)

BAD_PARAMETERS = [(model.NetworkParams, {**SMALL, **changes}, name) for changes, name in [
    ({"burn_in": 12, "n_sweeps": 12}, "burn_in"),
    ({"dilution": 1.0}, "dilution"),
    ({"quality": 0.0}, "quality"),
    ({"protocol": "hebb"}, "protocol"),
    ({"init": "zeros"}, "init"),
    ({"temperature": -0.1}, "temperature"),
    ({"n_patterns": 6}, "n_patterns"),
    ({"n_patterns": 5, "n_examples": 51}, "n_examples"),                 # exact theory too large
    ({"n_neurons": 200_000, "n_examples": 201, "protocol": "unsupervised", "n_patterns": 1}, "n_neurons"),
    ({"n_neurons": 10}, "n_neurons"),
    ({"n_examples": 2.5}, "n_examples"),
]]

SIMULATORS = [(model.simulate_network, model.NetworkParams(**{**SMALL, **changes}))
              for changes in ({}, {"protocol": "unsupervised", "temperature": 0.0},
                              {"init": "random", "temperature": 0.2})]


def test_layout():
    ds = model.simulate_network(model.NetworkParams(**SMALL), 0)
    assert ds.m.dims == ("sweep", "replica", "pattern") and ds.m_sorted.dims == ("replica", "rank")


def test_dataset_statistics():
    """Binomial checks (4 sigma): P(xi = 0) = d, P(xi = +1) = P(xi = -1), P(chi = +1) = (1 + r)/2."""
    N, K, d, M, r = 20_000, 3, 0.35, 5, 0.3
    xi, chi = model.draw_dataset(N, K, d, M, r, np.random.default_rng(0))
    n = N * K
    assert abs(np.mean(xi == 0) - d) <= 4 * math.sqrt(d * (1 - d) / n)
    assert abs(np.mean(xi == 1) - np.mean(xi == -1)) <= 4 * math.sqrt((1 - d) / n)
    p = (1 + r) / 2
    assert abs(np.mean(chi == 1) - p) <= 4 * math.sqrt(p * (1 - p) / chi.size)
    assert set(np.unique(xi)) <= {-1, 0, 1} and set(np.unique(chi)) <= {-1, 1}


def test_protocols_share_data_and_start():
    """Paired comparisons: for one seed both protocols see the same dataset, initial state and activity."""
    a = model.simulate_network(model.NetworkParams(**SMALL), 5)
    b = model.simulate_network(model.NetworkParams(**{**SMALL, "protocol": "unsupervised"}), 5)
    np.testing.assert_array_equal(a.m.isel(sweep=0), b.m.isel(sweep=0))
    np.testing.assert_array_equal(a.activity, b.activity)
    np.testing.assert_array_equal(a.data_accuracy, b.data_accuracy)


def test_cue_puts_archetype_one_on_its_support():
    xi, _ = model.draw_dataset(500, 2, 0.4, 1, 1.0, np.random.default_rng(1))
    sigma = model.initial_state(xi, 3, "cue", np.random.default_rng(2))
    support = xi[:, 0] != 0
    assert np.all(sigma[:, support] == xi[support, 0])
    assert set(np.unique(sigma)) == {-1, 1}


def test_zero_temperature_single_archetype_ends_at_the_example_majority():
    """Closed form (K = 1, T = 0, cue): the field is c xi chi_hat n, so every non-blank spin ends at
    sign(sum_a chi^a) xi (odd M: no ties) and the accuracy equals the data's majority accuracy exactly."""
    p = model.NetworkParams(n_neurons=2000, n_patterns=1, dilution=0.2, n_examples=7, quality=0.3,
                            temperature=0.0, n_sweeps=15, burn_in=5, n_replicas=2)
    ds = model.simulate_network(p, 0)
    np.testing.assert_array_equal(ds.accuracy.isel(pattern=0), float(ds.data_accuracy.isel(pattern=0)))
    assert float(ds.theory_accuracy) == pytest.approx(theory.archetype_accuracy(7, 0.3))


def test_theory_fields_and_regimes():
    """The stored theory is the cue-branch self-consistency; regimes follow its amplitudes."""
    p = model.NetworkParams(**{**SMALL, "dilution": 0.8, "temperature": 0.05, "n_examples": 15, "quality": 0.8})
    ds = model.simulate_network(p, 0)
    sol = theory.retrieval(0.8, 15, 0.8, 3, 20.0)
    np.testing.assert_allclose(ds.m_theory, np.abs(sol.m))
    assert str(ds.regime_theory.values) == "parallel"
    assert 0.6 < float(ds.d_parallel) < 0.8
    hot = model.simulate_network(model.NetworkParams(**{**SMALL, "dilution": 0.8, "temperature": 0.5}), 0)
    assert str(hot.regime_theory.values) == "paramagnetic"            # beta (1 - d) = 0.4 < 1
