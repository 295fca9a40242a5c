"""Two-pathway simulators: validation, determinism and provenance (shared checks of
tests/study_contract.py), width independence and gate semantics."""

import numpy as np

from theorylab.deeplinear import model
from tests.study_contract import (test_bad_parameters_raise_naming_them,  # noqa: F401 (shared checks)
                                  test_provenance_and_labelled_layout,
                                  test_same_seed_identical_other_seed_different)

STUDY = "deeplinear"

BAD_PARAMETERS = [
    (model.PathwayParams, {"width": 8}, "width"),
    (model.PathwayParams, {"depth": 0}, "depth"),
    (model.PathwayParams, {"lr": -0.01}, "lr"),
    (model.PathwayParams, {"deficit_onset": 0.015}, "deficit_onset"),
    (model.PathwayParams, {"t_final": 10.005}, "t_final"),
    (model.PathwayParams, {"record_dt": 0.03}, "t_final"),
    (model.PathwayParams, {"depth": 20}, "lr"),            # beyond the edge of stability
    (model.PathwayParams, {"gate": "block"}, "gate"),
    (model.PathwayParams, {"lesion_mode": 8}, "lesion_mode"),
    (model.PathwayParams, {"activation": "sigmoid"}, "activation"),
    (model.PathwayParams, {"activation": "tanh", "lesion_mode": 1}, "lesion_mode"),
    (model.PhaseParams, {"regime": "medium"}, "regime"),
    (model.PhaseParams, {"early_window": (0.0, 0.015, 1.0)}, "early_window"),
    (model.PhaseParams, {"n_inits": 5, "init_std": 0.0}, "init_std"),
    (model.PhaseParams, {"regime": "small", "init_mean": 0.0}, "init_mean"),
    (model.SplitParams, {"k0": 1.0}, "k0"),
    (model.SplitParams, {"deficit_onset": 30.0, "t_final": 20.0}, "t_final"),
]

SIMULATORS = [
    (model.simulate_pathways, model.PathwayParams(width=16, t_final=1.0, record_dt=0.1)),
    (model.simulate_phase, model.PhaseParams()),
    (model.simulate_pathways, model.PathwayParams(width=16, t_final=1.0, record_dt=0.1, activation="relu")),
]


def test_time_is_labelled_in_gradient_flow_units():
    for simulate, params in SIMULATORS + [(model.simulate_split, model.SplitParams(depth=2, t_final=2.0))]:
        assert simulate(params, 0).time.attrs["units"].startswith("gradient-flow time")


def test_width_does_not_change_the_modes():
    """The hidden width only adds directions that never reach the output."""
    p = model.PathwayParams(depth=3, width=15, deficit_onset=2.0, t_final=4.0, record_dt=0.1)
    narrow, wide = model.simulate_pathways(p, 0), model.simulate_pathways(p.replace(width=40), 0)
    np.testing.assert_allclose(narrow.K.values, wide.K.values, atol=1e-12)


def test_remove_gate_differs_from_detach_only_when_b_has_learned():
    """Removing b's output matters for late deficits, barely for early ones."""
    base = model.PathwayParams(width=16, deficit_length=1.5)
    final = {}
    for gate in ("detach", "remove"):
        for onset in (0.0, 4.0):
            ds = model.simulate_pathways(base.replace(gate=gate, deficit_onset=onset), 0)
            final[gate, onset] = ds.K.isel(time=-1).values
    early_gap = np.abs(final["detach", 0.0] - final["remove", 0.0]).max()
    middle_gap = np.abs(final["detach", 4.0] - final["remove", 4.0]).max()
    assert early_gap < 0.05 < middle_gap
