"""Simulators: validation before compute, determinism, provenance and layout, the ridge solver against
independent solves, Gram accumulation, and the augmentation the model relies on."""

import numba
import numpy as np
import pytest
import scipy.linalg
import xarray as xr

from theorylab.attention import model, theory
from tests.study_contract import (test_bad_parameters_raise_naming_them,  # noqa: F401 (shared checks)
                                  test_provenance_and_labelled_layout,
                                  test_same_seed_identical_other_seed_different)

STUDY = "attention"

SMALL = dict(d=4, N=3, heads=16, n_train=(20, 40), n_val=30, n_test=40)
SMALL_HEADS = dict(d=4, N=3, heads=(4, 16), n_train=30, n_val=20, n_test=20, gram_inputs=10, gram_draws=2)
SMALL_INV = dict(d=4, N=3, heads=8, samples=10, references=5)


BAD_PARAMETERS = [
    (model.LearningParams, {"d": 2}, "d"),
    (model.LearningParams, {"N": 0}, "N"),
    (model.LearningParams, {"model": "softmax"}, "model"),
    (model.LearningParams, {"n_train": (64, 32)}, "n_train"),
    (model.LearningParams, {"n_train": ()}, "n_train"),
    (model.LearningParams, {"lams": (1e-3, -1.0)}, "lams"),
    (model.LearningParams, {"lams": (1e-3, 1e-3)}, "lams"),
    (model.LearningParams, {"lams": (1e-11,)}, "lams"),
    (model.HeadsParams, {"lams": (1e-11,)}, "lams"),
    (model.LearningParams, {"targets": ("corr1", "corr9")}, "targets"),
    (model.LearningParams, {"model": "rfmlp", "mu": 1.0}, "mu"),
    (model.LearningParams, {"model": "rfa", "units": 100}, "units"),
    (model.LearningParams, {"noise": -0.1}, "noise"),
    (model.LearningParams, {"model": "krr_mlp", "n_train": (16384,), "n_test": 20000}, "n_train"),
    (model.LearningParams, {"n_train": (16384,), "n_test": 20000}, "n_test"),      # primal: evaluation features
    (model.LearningParams, {"heads": 1024, "n_train": (16384,)}, "heads"),        # primal: p^2 = 9216^2 entries
    (model.LearningParams, {"model": "rfmlp", "units": 10_000, "n_train": (16384,)}, "units"),
    (model.LearningParams, {"model": "krr_rfa", "N": 64, "n_train": (4096,)}, "N"),
    (model.HeadsParams, {"heads": (64, 32)}, "heads"),
    (model.HeadsParams, {"gram_inputs": 600, "n_train": 512}, "gram_inputs"),
    (model.HeadsParams, {"target": "nope"}, "target"),
    (model.HeadsParams, {"n_train": 8192, "n_test": 20000}, "n_train"),
    (model.HeadsParams, {"heads": (16000,), "d": 64}, "heads"),
    (model.HeadsParams, {"heads": (4096,), "d": 64, "gram_inputs": 500}, "heads"),
    (model.LearningParams, {"model": "rfmlp", "units": 200_000, "d": 64, "N": 8}, "units"),
    (model.LearningParams, {"model": "rfmlp", "heads": 4096, "d": 32, "N": 32}, "heads"),
    (model.LearningParams, {"model": "rfa", "heads": 16384, "d": 64}, "heads"),
    (model.InvarianceParams, {"N": 1}, "N"),
    (model.InvarianceParams, {"mu": 0.0}, "mu"),
    (model.InvarianceParams, {"samples": 10000, "heads": 4096, "d": 8}, "samples"),
    (model.InvarianceParams, {"heads": 4096, "d": 64, "N": 64, "samples": 1}, "heads"),
    (model.InvarianceParams, {"samples": 10000, "references": 1000, "N": 64}, "references"),
]

SIMULATORS = [(model.simulate_learning, model.LearningParams(**SMALL, model=m)) for m in model.MODELS]
SIMULATORS += [(model.simulate_learning, model.LearningParams(**SMALL, mu=2.0, noise=0.1)),
          (model.simulate_heads, model.HeadsParams(**SMALL_HEADS)),
          (model.simulate_invariance, model.InvarianceParams(**SMALL_INV))]


def test_results_do_not_depend_on_numba_threads():
    """Serial (2 Numba threads) and dask workers (1 thread) must give bit-identical Datasets."""
    params = model.LearningParams(**SMALL, model="rfa")
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = model.simulate_learning(params, 0)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = model.simulate_learning(params, 0)
    finally:
        numba.set_num_threads(old)
    xr.testing.assert_identical(one, two)


def test_data_are_nested_and_shared_by_models():
    """The first n sequences of a larger draw are the n of a smaller one; the data do not depend on the model."""
    big = model.sample_sequences(np.random.default_rng(1), 50, 3, 4)
    small = model.sample_sequences(np.random.default_rng(1), 20, 3, 4)
    np.testing.assert_array_equal(big[0][:20], small[0])
    np.testing.assert_array_equal(big[1][:20], small[1])
    np.testing.assert_allclose(np.linalg.norm(big[1], axis=-1), 1.0, rtol=1e-14)
    a = model.simulate_learning(model.LearningParams(**SMALL, model="rfa"), 0)
    b = model.simulate_learning(model.LearningParams(**SMALL, model="krr_mlp"), 0)
    np.testing.assert_array_equal(a.test_target_var.values, b.test_target_var.values)


def test_biased_heads_have_the_stated_mean():
    """W = mu sqrt(d) blockdiag(I_d, 0) + G: the mean over 20000 heads within 5 standard errors (1/sqrt(M))."""
    d, mu = 4, 1.5
    W = model.draw_heads(np.random.default_rng(0), 20_000, d, mu)
    want = np.zeros((d + 1, d + 1))
    want[:d, :d] = mu * np.sqrt(d) * np.eye(d)
    assert np.all(np.abs(W.mean(axis=0) - want) <= 5 / np.sqrt(20_000))


def _small_problem(seed=0, n=60, n_eval=50, p=25, T=3):
    rng = np.random.default_rng(seed)
    Phi = rng.standard_normal((n + n_eval, p))
    Y = rng.standard_normal((n + n_eval, T))
    return Phi, Y


@pytest.mark.parametrize("p", [25, 90])   # fewer and more features than training samples
def test_ridge_errors_match_primal_solve(p):
    """Oracle: the primal problem as least squares, [Phi; sqrt(n lam) I] theta = [y; 0], solved by SVD
    (scipy.linalg.lstsq) for each nested n and lam: independent of the dual Cholesky solve."""
    Phi, Y = _small_problem(p=p)
    n_list, lams, n_val = (30, 60), (1e-4, 1e-2, 1.0), 20
    tr, ev = Phi[:60], Phi[60:]
    train, val, test = model.ridge_errors(tr @ tr.T, ev @ tr.T, Y[:60], Y[60:60 + n_val], Y[60 + n_val:],
                                          n_list, lams)
    for a, n in enumerate(n_list):
        for b, lam in enumerate(lams):
            stacked = np.vstack([tr[:n], np.sqrt(n * lam) * np.eye(p)])
            theta = scipy.linalg.lstsq(stacked, np.vstack([Y[:n], np.zeros((p, Y.shape[1]))]))[0]
            pred = ev @ theta
            nmse = lambda f, y: ((f - y) ** 2).mean(axis=0) / (y**2).mean(axis=0)  # noqa: E731
            np.testing.assert_allclose(train[a, b], nmse(tr[:n] @ theta, Y[:n]), rtol=1e-7)
            np.testing.assert_allclose(val[a, b], nmse(pred[:n_val], Y[60:60 + n_val]), rtol=1e-7)
            np.testing.assert_allclose(test[a, b], nmse(pred[n_val:], Y[60 + n_val:]), rtol=1e-7)


EPS = np.finfo(float).eps


def _condition(F, n_list, lams):
    """Condition number of ``F_n^T F_n + n lam I`` (and of the dual ``F_n F_n^T + n lam I``: same nonzero spectrum)."""
    top = np.array([np.linalg.eigvalsh(F[:n].T @ F[:n])[-1] for n in n_list])[:, None]
    shift = np.array(n_list)[:, None] * np.array(lams)[None, :]
    return (top + shift) / shift


def _assert_round_off(primal, dual, kappa):
    """Both forms solve the same ridge problem with backward-stable Cholesky solves, so they differ by
    rounding amplified by the condition number kappa of the shifted system: relative difference of order
    eps kappa (measured at most 2.4 eps kappa over three seeds); 50 eps kappa leaves room for BLAS summation
    order yet is 1e-13 relative at lam = 1 and 1e-7 at lam = 1e-8, so a wrong penalty or a missing block fails."""
    for p_err, d_err in zip(primal, dual):
        np.testing.assert_array_less(np.abs(p_err - d_err), 50 * EPS * kappa[:, :, None] * np.abs(d_err) + 1e-300)


def test_primal_ridge_matches_dual_ridge(monkeypatch):
    """Ground truth for the primal path: the dual path on the same features (n = 20 ... 160 around p = 40),
    with blocks of 7 sequences so that the Gram accumulation and the training fit cross the n boundaries."""
    d = N = 4
    n_list, n_val, n_test = (20, 40, 80, 160), 30, 50
    rng = np.random.default_rng(0)
    q, k = model.sample_sequences(rng, 160 + n_val + n_test, N, d)
    F = model.rfa_features(q, k, model.draw_heads(rng, 8, d))
    f = theory.target_bank(("corr1", "corr2", "query"), q, k)
    y, yv, ft = f[:160], f[160:160 + n_val], f[160 + n_val:]
    tr, ev = F[:160], F[160:]
    dual = model.ridge_errors(tr @ tr.T, ev @ tr.T, y, yv, ft, n_list, model.LAMS)
    monkeypatch.setattr(model, "CHUNK_BYTES", 8 * F.shape[1] * 7)
    calls = []
    primal = model.ridge_errors_primal(lambda a, b: calls.append(b - a) or F[a:b], ev, y, yv, ft, n_list, model.LAMS)
    assert max(calls) == 7
    _assert_round_off(primal, dual, _condition(tr, n_list, model.LAMS))


def test_simulator_switches_to_primal_above_the_feature_count(monkeypatch):
    """simulate_learning with n on both sides of p = (d + 1) M = 40 against the same simulator forced to the
    dual form everywhere (features = 0 makes every n dual): same data, heads and estimator."""
    params = model.LearningParams(d=4, N=3, heads=8, n_train=(20, 40, 80, 160), n_val=30, n_test=40)
    assert params.dual_sizes == (20, 40) and params.primal_sizes == (80, 160)
    mixed = model.simulate_learning(params, 0)
    q, k = model.sample_sequences(model._rng(0, model.ROLE_TRAIN), 160, params.N, params.d)
    kappa = _condition(model._feature_map(params, 0)(q, k), params.n_train, params.lams)
    monkeypatch.setattr(model.LearningParams, "features", property(lambda self: 0))
    dual = model.simulate_learning(params, 0)
    order = ("n", "lam", "target")
    _assert_round_off([mixed[v].transpose(*order).values for v in ("train_err", "val_err", "test_err")],
                      [dual[v].transpose(*order).values for v in ("train_err", "val_err", "test_err")], kappa)
    np.testing.assert_array_equal(mixed.best_lam.values, dual.best_lam.values)


def test_gram_blocks_equal_full_features(monkeypatch):
    """Accumulating the Gram over blocks of heads (units) weighted by their share equals the full Gram."""
    q, k = model.sample_sequences(np.random.default_rng(2), 40, 3, 4)
    W = model.draw_heads(np.random.default_rng(3), 23, 4, 0.5)
    F = model.rfa_features(q, k, W)
    z = theory.mlp_inputs(q, k)
    U = np.random.default_rng(4).standard_normal((37, z.shape[1]))
    H = model.rfmlp_features(z, U)
    monkeypatch.setattr(model, "CHUNK_BYTES", 8 * 40 * 5 * 4)   # 4 heads (or 20 units) per block
    for (G, C), feats in ((model.rfa_gram(q, k, W, 25), F), (model.rfmlp_gram(z, U, 25), H)):
        np.testing.assert_allclose(G, feats[:25] @ feats[:25].T, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(C, feats[25:] @ feats[:25].T, rtol=1e-12, atol=1e-14)


def test_permute_keys_always_moves_a_key():
    keys = np.arange(2 * 3 * 200, dtype=float).reshape(200, 2, 3)
    perm = model.permute_keys(np.random.default_rng(0), keys)
    assert np.all(perm[:, 0] == keys[:, 1])


def test_augmentation_is_needed_for_the_correlation_target():
    """Negative control of the model's constant coordinate: with x~ = (x, 0) the features are odd-even or
    even-odd in (x_0, x_i) and cannot represent mean_i <x_0, x_i>; with x~ = (x, 1) ridge learns it."""
    d = N = 5
    rng = np.random.default_rng(0)
    q, k = model.sample_sequences(rng, 700, N, d)
    W = model.draw_heads(rng, 128, d)
    y = theory.target_bank(("corr1",), q, k)
    errs = {}
    for name, const in (("augmented", 1.0), ("no constant", 0.0)):
        aug = lambda x: np.concatenate([x, np.full(x.shape[:-1] + (1,), const)], axis=-1)  # noqa: E731,B023
        F = model.kernels.rfa_features(aug(q), aug(k), model.heads_last(W), np.empty((700, 128 * (d + 1))))
        G, C = F[:400] @ F[:400].T, F[400:] @ F[:400].T
        _, val, test = model.ridge_errors(G, C, y[:400], y[400:500], y[500:], (400,), model.LAMS)
        errs[name] = float(test[0, np.argmin(val[0, :, 0]), 0])
    assert errs["augmented"] < 0.2 and errs["no constant"] > 0.9, errs
