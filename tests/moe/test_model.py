"""ALF-LB simulators: the shared simulator checks (validation, determinism, provenance, layout) on small
parameter sets, and the model's own invariants."""

import numpy as np
import pytest

from theorylab.moe import model, theory
from tests.study_contract import (test_bad_parameters_raise_naming_them,  # noqa: F401 (shared checks)
                                  test_provenance_and_labelled_layout,
                                  test_same_seed_identical_other_seed_different)

STUDY = "moe"

SMALL_FIXED = dict(tokens=128, experts=8, top_k=2, n_iter=200)
SMALL_ROUTER = dict(tokens=128, experts=8, top_k=2, dim=4, topics=3, n_iter=40, eval_batches=2)
SMALL_TRAINED = dict(tokens=64, experts=8, top_k=2, dim=4, out_dim=2, clusters=4, n_iter=40, record_every=10,
                     eval_tokens=256)


BAD_PARAMETERS = [
    (model.FixedParams, {"tokens": 100, "experts": 16}, "tokens"),        # KT/E not an integer
    (model.FixedParams, {"top_k": 16, "experts": 16}, "top_k"),
    (model.FixedParams, {"rule": "mult"}, "rule"),                        # not a dual step
    (model.FixedParams, {"step": 0.0}, "step"),
    (model.FixedParams, {"noise": "cauchy"}, "noise"),
    (model.FixedParams, {"tokens": 16384, "experts": 128}, "tokens"),     # LP too large
    (model.TopKParams, {"tokens": 8, "experts": 8, "top_k": 4}, "tokens"),  # enumeration too large
    (model.TopKParams, {"quantum": -1.0}, "quantum"),
    (model.RegretParams, {"policy": "adam"}, "policy"),
    (model.RegretParams, {"tokens": 100, "experts": 8}, "tokens"),
    (model.RegretParams, {"n_iter": 5}, "n_iter"),
    (model.RouterParams, {"update_rates": (1e-3, 1e-3)}, "update_rates"),
    (model.RouterParams, {"aux_alphas": (-1.0,)}, "aux_alphas"),
    (model.RouterParams, {"baselines": ("none", "base")}, "baselines"),
    (model.RouterParams, {"n_iter": 2005}, "n_iter"),
    (model.RouterParams, {"capacity_factor": 0.5}, "capacity_factor"),
    (model.RouterParams, {"tokens": 1000}, "tokens"),
    (model.TrainedParams, {"tokens": 100}, "tokens"),                     # KT/E not an integer
    (model.TrainedParams, {"eval_tokens": 100}, "eval_tokens"),
    (model.TrainedParams, {"lr": 0.01, "lr_final": 0.1}, "lr_final"),
    (model.TrainedParams, {"aux_alphas": (0.1, 0.1)}, "aux_alphas"),
    (model.TrainedParams, {"update_rates": (0.0,)}, "update_rates"),
    (model.TrainedParams, {"n_iter": 150}, "n_iter"),
]

SIMULATORS = [
    (model.simulate_fixed, model.FixedParams(**SMALL_FIXED)),
    (model.simulate_topk, model.TopKParams(instances=20)),
    (model.simulate_regret, model.RegretParams(tokens=64, n_iter=300)),
    (model.simulate_router, model.RouterParams(**SMALL_ROUTER)),
    (model.simulate_trained, model.TrainedParams(**SMALL_TRAINED)),
]


def test_fixed_run_consistent_with_theory():
    """D(p^0) from the kernel equals the sorted closed form; D - OPT >= 0; loads sum to K T."""
    p = model.FixedParams(**SMALL_FIXED)
    ds = model.simulate_fixed(p, 1)
    scores, *_ = model._fixed_problem(128, 8, 2, "gauss", p.noise_scale, p.offset_scale, 1)
    assert float(ds.dual_value[0]) == pytest.approx(theory.dual_function(scores, np.zeros(8), 2), rel=1e-12)
    assert float(ds.dual_gap.min()) >= -1e-9 * abs(float(ds.opt_value))
    assert np.all(ds.loads.sum("expert") == 2 * 128)
    assert float(ds.affinity[0]) == pytest.approx(float(ds.free_affinity), rel=1e-12)


def test_recentred_sign_rule_routes_identically():
    """Recentring is routing-neutral, so every load and the dual value coincide."""
    a = model.simulate_fixed(model.FixedParams(**SMALL_FIXED, rule="sign"), 0)
    b = model.simulate_fixed(model.FixedParams(**SMALL_FIXED, rule="sign_centered"), 0)
    np.testing.assert_array_equal(a.loads.values, b.loads.values)
    np.testing.assert_allclose(a.dual_value.values, b.dual_value.values, rtol=1e-12)
    np.testing.assert_allclose(b.bias.sum("expert"), 0.0, atol=1e-12)


def test_regret_records_the_doubling_marks():
    at = model.regret_iterations(5000, 20)
    assert {1, 500, 1250, 2500, 5000} <= set(at.tolist())
    assert np.all(np.diff(at) > 0)


def test_router_methods_invariants():
    """Expert choice is exactly balanced, capacity caps loads, loss-free never changes a gate value."""
    p = model.RouterParams(**SMALL_ROUTER)
    ds = model.simulate_router(p, 0)
    fam = ds.family.values
    ec = ds.variant.values[fam == "expert_choice"][0]
    cap = ds.variant.values[fam == "capacity"][0]
    assert np.all(ds.maxvio_batch.sel(variant=ec) == 0)
    assert np.all(ds.loads_global.sel(variant=ec) == (2 * 128 // 8) * p.eval_batches)
    assert np.all(ds.maxvio_batch.sel(variant=cap) <= p.capacity_factor - 1 + 1e-12)
    lf = ds.variant.values[fam == "loss_free"]
    assert np.all(ds.interference_batch.sel(variant=lf) == 0)
    for v in ds.variant.values[np.isin(fam, ["loss_free", "aux", "none", "sinkhorn"])]:
        assert np.all(ds.quality_batch.sel(variant=v) <= 1 + 1e-12)
    assert list(ds.variant.values) == [m for m, _, _ in model.router_methods(p)]
