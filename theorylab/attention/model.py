"""Random-feature attention (RFA): parameters, feature maps, ridge estimator and simulators.

A sequence is a query ``x_0`` and N keys ``x_1..x_N``, i.i.d. uniform on the unit sphere
of R^d, augmented as ``x~ = (x, 1)``.  M frozen heads with query-key matrices
``W_m = mu sqrt(d) blockdiag(I_d, 0) + G_m`` (G_m i.i.d. N(0, 1) entries; mu = 0 is the
zero-mean RFA, mu > 0 the biased one) and trainable values give

    f(X) = sum_m (1/N) sum_i relu(x~_0^T W_m x~_i) <v_m, x~_i>  =  <theta, Phi_M(X)>,
    Phi_M(X) = M^{-1/2} (phi(X; W_1), ..., phi(X; W_M)),  phi(X; W) = (1/N) sum_i relu(x~_0^T W x~_i) x~_i.

The baseline RFMLP has P = M (d + 1) ReLU units on ``z = (x_0, ..., x_N, 1) / sqrt(N + 2)``
(as many trainable weights).  ``krr_rfa`` / ``krr_mlp`` are kernel ridge regression with the
infinite-width kernels of the two models.  Every model is fitted by ridge regression: in
dual form while n is at most the number of random features p (one Gram matrix per
(model, seed), whose leading blocks serve the nested training sizes), in primal form above
(one p x p feature Gram accumulated over blocks of sequences, so memory stays O(p^2), not
O(n^2)); either way one Cholesky factorisation per (training size, penalty) serves every target.

* :func:`simulate_learning`: normalised test error against n, for one model (F1-F4).
* :func:`simulate_heads`: Gram error against the closed-form kernel and test error against M (F5).
* :func:`simulate_invariance`: features of sequences and of the same sequences with permuted keys.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.linalg
import xarray as xr

from theorylab.attention import kernels, theory
from theorylab.core.params import Params, param
from theorylab.core.provenance import stamp

STUDY = "attention"
MODELS = ("rfa", "rfmlp", "krr_rfa", "krr_mlp")
MODEL_NAMES = {"rfa": "random-feature attention", "rfmlp": "random-feature MLP",
               "krr_rfa": "KRR, infinite-head RFA kernel", "krr_mlp": "KRR, infinite-width MLP kernel"}
LAMS = tuple(10.0**k for k in range(-8, 1))
N_TRAIN = (32, 64, 128, 256, 512, 1024, 2048, 4096)
# independent random streams per (seed, role): data never depends on the model, so models are paired
ROLE_TRAIN, ROLE_VAL, ROLE_TEST, ROLE_NOISE, ROLE_HEADS, ROLE_UNITS, ROLE_PERM, ROLE_GRAM = range(8)
CHUNK_BYTES = 64e6  # feature block kept in memory while accumulating a Gram matrix
MAX_ENTRIES = 6e7    # float64 entries of any one array a simulation holds (480 MB)
MAX_KEY_PAIRS = 5e9  # key pairs of the closed-form kernel (about 2 minutes on one core)
ATTRS = {
    "input_law": "query and keys i.i.d. uniform on the unit sphere S^{d-1}",
    "augmentation": "x~ = (x, 1)",
    "attention": "relu(x~_0^T W x~_i) / N (no softmax)",
    "feature_scaling": "M^{-1/2} (RFA), P^{-1/2} (RFMLP)",
    "W_law": "W = mu sqrt(d) blockdiag(I_d, 0) + G, G entries i.i.d. N(0, 1) (product matrix sampled directly)",
    "rfmlp": "P ReLU units, w ~ N(0, I_D), on z = (x_0, ..., x_N, 1) / sqrt(N + 2), D = (N + 1) d + 1",
    "estimator": "ridge: min (1/n) sum (y - f)^2 + lam |theta|^2; dual form alpha = (G + n lam I)^{-1} y for n <= p "
                 "features, primal form theta = (F^T F + n lam I)^{-1} F^T y for n > p (same estimator)",
    "solver": "scipy.linalg Cholesky of each leading n x n Gram block (dual) or of the p x p feature Gram (primal) "
              "plus n lam I, reused across targets",
    "error": "normalised MSE mean((f_hat - f*)^2) / mean(f*^2) on the test set (estimates the excess risk "
             "/ Var f*; every target has mean 0 and variance 1 exactly)",
    "lam_selection": "validation set (test_err_best); test set never used for selection",
    "rng": "numpy Generator per (seed, role): train, val, test, label noise, heads, units, permutations, "
           "Gram-error heads",
    "beta": "e_1",
}


def _rng(seed: int, *role: int) -> np.random.Generator:
    return np.random.default_rng([seed, *role])


def _increasing(name: str, values: tuple) -> None:
    if any(b <= a for a, b in zip(values, values[1:])):
        raise ValueError(f"{name} must be strictly increasing (got {values!r})")


def _distinct(name: str, values: tuple) -> None:
    if len(set(values)) != len(values):
        raise ValueError(f"{name} must not repeat values (got {values!r})")


def _at_most(name: str, what: str, size: float, limit: float) -> None:
    """Reject, before any compute, a parameter that makes ``what`` exceed ``limit``."""
    if size > limit:
        raise ValueError(f"{name} must keep {what} at <= {limit:g} (got {size:g})")


# --- data and features -------------------------------------------------------------------------------

def sample_sequences(rng: np.random.Generator, n: int, N: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` sequences: queries ``(n, d)`` and keys ``(n, N, d)``, uniform on S^{d-1} (normalised Gaussians).

    Drawn row by row, so the first n' < n sequences of a larger draw are the n' of a smaller one.
    """
    g = rng.standard_normal((n, N + 1, d))
    g /= np.linalg.norm(g, axis=-1, keepdims=True)
    return np.ascontiguousarray(g[:, 0]), np.ascontiguousarray(g[:, 1:])


def augment(x: np.ndarray) -> np.ndarray:
    """``x~ = (x, 1)`` along the last axis."""
    return np.concatenate([x, np.ones(x.shape[:-1] + (1,))], axis=-1)


def draw_heads(rng: np.random.Generator, M: int, d: int, mu: float = 0.0) -> np.ndarray:
    """M query-key product matrices ``mu sqrt(d) blockdiag(I_d, 0) + G``, shape ``(M, d + 1, d + 1)``."""
    W = rng.standard_normal((M, d + 1, d + 1))
    if mu:
        idx = np.arange(d)
        W[:, idx, idx] += mu * np.sqrt(d)
    return W


def heads_last(W: np.ndarray) -> np.ndarray:
    """``(M, d1, d1)`` -> the kernel's ``(d1, d1, M)`` layout."""
    return np.ascontiguousarray(W.transpose(1, 2, 0))


def rfa_features(query: np.ndarray, keys: np.ndarray, W: np.ndarray) -> np.ndarray:
    """``Phi_M(X)`` for every sequence, ``(n, (d + 1) M)`` (raw tokens in; augmented here)."""
    q, k = augment(query), augment(keys)
    out = np.empty((q.shape[0], W.shape[0] * W.shape[1]))
    return kernels.rfa_features(q, k, heads_last(W), out)


def rfmlp_features(z: np.ndarray, units: np.ndarray) -> np.ndarray:
    """``P^{-1/2} relu(<w_p, z>)`` for every input (rows of z) and unit (rows of ``units``)."""
    return np.maximum(z @ units.T, 0.0) / np.sqrt(units.shape[0])


def _feature_gram(feature_block, total: int, width: int, n_all: int, n_train: int):
    """Gram ``G = F_tr F_tr^T`` and cross-Gram ``C = F_ev F_tr^T`` accumulated over blocks of heads/units.

    ``feature_block(start, stop)`` returns the features of units [start, stop) scaled for a
    layer of ``stop - start`` units; block b is weighted by its share of the ``total`` units,
    which makes the sum the Gram of the whole layer.  ``width`` = features per unit.
    """
    per_block = max(1, int(CHUNK_BYTES // (8 * n_all * width)))
    G = np.zeros((n_train, n_train))
    C = np.zeros((n_all - n_train, n_train))
    for start in range(0, total, per_block):
        stop = min(total, start + per_block)
        F = feature_block(start, stop)
        share = (stop - start) / total
        tr = F[:n_train]
        G += share * (tr @ tr.T)
        C += share * (F[n_train:] @ tr.T)
    return G, C


def rfa_gram(query, keys, W, n_train: int):
    """Gram and cross-Gram of the RFA features (first ``n_train`` sequences are the training set)."""
    q, k = augment(query), augment(keys)
    d1 = W.shape[1]

    def block(start, stop):
        out = np.empty((q.shape[0], (stop - start) * d1))
        return kernels.rfa_features(q, k, heads_last(W[start:stop]), out)

    return _feature_gram(block, W.shape[0], d1, q.shape[0], n_train)


def rfmlp_gram(z, units, n_train: int):
    return _feature_gram(lambda a, b: rfmlp_features(z, units[a:b]), units.shape[0], 1, z.shape[0], n_train)


def rfa_kernel_matrices(query, keys, n_train: int):
    """Closed-form infinite-head kernel: ``K(train, train)`` (each pair once) and ``K(eval, train)``."""
    tq, tk = query[:n_train], keys[:n_train]
    G = kernels.rfa_kernel_sym(tq, tk, np.empty((n_train, n_train)))
    C = kernels.rfa_kernel(query[n_train:], keys[n_train:], tq, tk, np.empty((query.shape[0] - n_train, n_train)))
    return G, C


# --- ridge regression ----------------------------------------------------------------------------------

def _nmse(pred: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``mean((pred - ref)^2) / mean(ref^2)`` over samples (axis 0), per target."""
    return ((pred - ref) ** 2).mean(axis=0) / (ref**2).mean(axis=0)


def ridge_errors(G, C, y_train, y_val, f_test, n_list, lams):
    """Ridge on nested training sets; errors for every (n, lam, target).

    ``G (n_max, n_max)`` training Gram, ``C (n_val + n_test, n_max)`` cross-Gram (validation
    rows first), ``y_train (n_max, T)`` and ``y_val (n_val, T)`` labels, ``f_test (n_test, T)``
    the noiseless target.  For each n and lam one Cholesky factorisation of ``G_n + n lam I``
    gives ``alpha`` for every target: the nine factorisations of the default grid cost about
    half of one eigendecomposition of ``G_n``, which dominated the study's run time.  The
    training fit is ``G_n alpha = y - n lam alpha``.  ``lam >= 1e-10`` (the parameters'
    bound) keeps ``G_n + n lam I`` positive definite in float64: rounding moves the
    eigenvalues of the PSD Gram by at most about ``n eps |G| <= 4 n^2 eps`` (its entries are
    at most 4), far below ``n lam`` for every allowed n.
    Returns normalised mean squared errors ``(train, val, test)``, each ``(len(n_list), len(lams), T)``:
    each MSE is divided by the mean square of the values it is measured against on the same
    set (1 = predicting 0 = the population mean of every target); this ratio estimates
    ``E(f_hat - f*)^2 / Var f*`` with less noise than dividing by the exact variance 1.
    """
    n_val = y_val.shape[0]
    shape = (len(n_list), len(lams), y_train.shape[1])
    train, val, test = np.empty(shape), np.empty(shape), np.empty(shape)
    for a, n in enumerate(n_list):
        y = y_train[:n]
        for b, lam in enumerate(lams):
            A = G[:n, :n].copy()
            A.flat[::n + 1] += n * lam
            alpha = scipy.linalg.cho_solve(scipy.linalg.cho_factor(A, lower=True, overwrite_a=True,
                                                                   check_finite=False), y, check_finite=False)
            pred = C[:, :n] @ alpha
            train[a, b] = _nmse(y - n * lam * alpha, y)
            val[a, b] = _nmse(pred[:n_val], y_val)
            test[a, b] = _nmse(pred[n_val:], f_test)
    return train, val, test


def ridge_errors_primal(train_features, F_eval, y_train, y_val, f_test, n_list, lams):
    """Ridge in primal form on nested training sets, the estimator of :func:`ridge_errors`; for n > p.

    ``train_features(start, stop)`` returns the features ``(stop - start, p)`` of training
    sequences [start, stop); ``F_eval (n_val + n_test, p)`` those of the validation rows, then
    the test rows; the other arguments and the returned ``(train, val, test)`` are as in
    :func:`ridge_errors`.  ``theta = (A_n + n lam I)^{-1} F_n^T y`` with ``A_n = F_n^T F_n``
    accumulated over blocks of at most ``CHUNK_BYTES`` of features, in increasing n (the
    blocks of a smaller n are the first ones of a larger n); one Cholesky factorisation of
    the p x p matrix per (n, lam) serves every target.  A symmetric eigendecomposition of
    ``A_n`` serving all penalties costs more than the nine factorisations (as for the dual
    form; the benchmark measures both).  The training fit ``F_n theta`` is computed in a second
    pass over the training features (recomputing them is cheaper than keeping n x p entries).
    Memory: ``A_n``, its factor, ``F_eval`` and one block: O(p^2 + (n_val + n_test) p).
    The positive-definiteness argument of :func:`ridge_errors` holds here too: ``A_n`` has the
    nonzero eigenvalues of the dual Gram.
    """
    p = F_eval.shape[1]
    n_val = y_val.shape[0]
    shape = (len(n_list), len(lams), y_train.shape[1])
    train, val, test = np.empty(shape), np.empty(shape), np.empty(shape)
    thetas = np.empty(shape[:2] + (p, y_train.shape[1]))
    rows = max(1, int(CHUNK_BYTES // (8 * p)))
    A = np.zeros((p, p))
    Fty = np.zeros((p, y_train.shape[1]))
    done = 0
    for a, n in enumerate(n_list):
        for start in range(done, n, rows):
            stop = min(n, start + rows)
            F = train_features(start, stop)
            A += F.T @ F
            Fty += F.T @ y_train[start:stop]
        done = n
        for b, lam in enumerate(lams):
            shifted = A.copy()
            shifted.flat[::p + 1] += n * lam
            thetas[a, b] = scipy.linalg.cho_solve(scipy.linalg.cho_factor(shifted, lower=True, overwrite_a=True,
                                                                          check_finite=False), Fty,
                                                  check_finite=False)
            pred = F_eval @ thetas[a, b]
            val[a, b] = _nmse(pred[:n_val], y_val)
            test[a, b] = _nmse(pred[n_val:], f_test)
    # training fit: squared residuals and squared labels summed over the blocks of each n
    resid = np.zeros(shape)
    norm = np.zeros((len(n_list), y_train.shape[1]))
    by_column = thetas.transpose(2, 0, 1, 3).reshape(p, -1)      # (p, n x lam x target): one product per block
    for start in range(0, done, rows):
        stop = min(done, start + rows)
        F, y = train_features(start, stop), y_train[start:stop]
        fit = (F @ by_column).reshape((stop - start,) + shape)
        for a, n in enumerate(n_list):
            k = max(0, min(stop, n) - start)
            resid[a] += ((fit[:k, a] - y[:k, None, :]) ** 2).sum(axis=0)
            norm[a] += (y[:k] ** 2).sum(axis=0)
    train[:] = resid / norm[:, None, :]
    return train, val, test


def _select(val: np.ndarray, test: np.ndarray, lams, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Test error and lam at the validation minimum along the lam axis ``axis``."""
    best = np.expand_dims(np.argmin(val, axis=axis), axis)
    return (np.take_along_axis(test, best, axis).squeeze(axis),
            np.asarray(lams, dtype=float)[best.squeeze(axis)])


# --- parameters ----------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class LearningParams(Params):
    d: int = param(8, "token dimension d (tokens on the unit sphere S^{d-1})", ge=3, le=64)
    N: int = param(8, "keys per sequence N", ge=1, le=64)
    model: str = param("rfa", "rfa | rfmlp | krr_rfa | krr_mlp", choices=MODELS)
    heads: int = param(512, "attention heads M (rfa; rfmlp gets M (d + 1) units unless units > 0)", ge=1, le=16384)
    units: int = param(0, "RFMLP units P (0: P = M (d + 1), as many trainable weights as RFA)", ge=0, le=200_000)
    mu: float = param(0.0, "mean of W: mu sqrt(d) blockdiag(I_d, 0) (rfa only; 0 = zero-mean RFA)", ge=0, le=100)
    n_train: tuple[int, ...] = param(N_TRAIN, "nested training-set sizes n", ge=1, le=16384)
    n_val: int = param(500, "validation sequences (selects lam)", ge=10, le=20000)
    n_test: int = param(2000, "test sequences", ge=10, le=20000)
    lams: tuple[float, ...] = param(LAMS, "ridge penalties lam (>= 1e-10: positive-definite float64 solves)",
                                    ge=1e-10, le=1e3)
    targets: tuple[str, ...] = param(theory.TARGETS, "targets (unit variance)", choices=theory.TARGETS)
    noise: float = param(0.0, "label noise std tau (training and validation labels)", ge=0, le=10)

    def check(self) -> None:
        _increasing("n_train", self.n_train)
        _distinct("lams", self.lams)
        _distinct("targets", self.targets)
        if self.mu != 0 and self.model != "rfa":
            raise ValueError(f"mu must be 0 unless model is 'rfa' (got mu={self.mu} with model {self.model!r})")
        if self.units != 0 and self.model != "rfmlp":
            raise ValueError(f"units must be 0 unless model is 'rfmlp' (got units={self.units} with model "
                             f"{self.model!r})")
        dual, primal, n_eval = self.dual_sizes, self.primal_sizes, self.n_val + self.n_test
        if dual:
            _at_most("n_train", "the dual Gram blocks' entries", (dual[-1] + n_eval) * dual[-1], MAX_ENTRIES)
        if primal:   # n > p features: the p x p feature Gram and the evaluation features, never n x n
            name = "units" if self.units else "heads"
            _at_most(name, "the primal feature Gram's entries (p^2, p features)", self.features**2, MAX_ENTRIES)
            _at_most("n_test", "the validation and test features' entries", n_eval * self.features, MAX_ENTRIES)
        if self.model == "rfa":
            _at_most("heads", "the query-key matrices' entries", self.heads * (self.d + 1) ** 2, MAX_ENTRIES)
        if self.model == "rfmlp":
            _at_most("units" if self.units else "heads", "the RFMLP weights' entries",
                     self.width * ((self.N + 1) * self.d + 1), MAX_ENTRIES)
        if self.model == "krr_rfa":
            n_max = self.n_train[-1]
            _at_most("N", "the closed-form kernel's key pairs", (n_max + n_eval) * n_max * self.N**2, MAX_KEY_PAIRS)

    @property
    def width(self) -> int:
        """RFMLP units P."""
        return self.units or self.heads * (self.d + 1)

    @property
    def features(self) -> int:
        """Random features p of the model (0 for the kernel methods)."""
        return {"rfa": self.heads * (self.d + 1), "rfmlp": self.width}.get(self.model, 0)

    @property
    def dual_sizes(self) -> tuple[int, ...]:
        """Training sizes fitted in dual form: all of them for kernels, n <= p for feature models."""
        return tuple(n for n in self.n_train if not self.features or n <= self.features)

    @property
    def primal_sizes(self) -> tuple[int, ...]:
        """Training sizes above the feature count p, fitted in primal form (the n x n Gram is avoided)."""
        return self.n_train[len(self.dual_sizes):]


@dataclasses.dataclass(frozen=True)
class HeadsParams(Params):
    d: int = param(8, "token dimension d", ge=3, le=64)
    N: int = param(8, "keys per sequence N", ge=1, le=64)
    heads: tuple[int, ...] = param((32, 64, 128, 256, 512, 1024, 2048, 4096), "numbers of heads M (independent "
                                   "draws)", ge=1, le=16384)
    n_train: int = param(512, "training sequences n", ge=2, le=8192)
    n_val: int = param(500, "validation sequences", ge=10, le=20000)
    n_test: int = param(1000, "test sequences", ge=10, le=20000)
    lams: tuple[float, ...] = param(LAMS, "ridge penalties lam (>= 1e-10: positive-definite float64 solves)",
                                    ge=1e-10, le=1e3)
    target: str = param("corr1", "target", choices=theory.TARGETS)
    gram_inputs: int = param(60, "sequences (the first training ones) on which the Gram error is measured",
                             ge=2, le=2000)
    gram_draws: int = param(16, "independent head draws per M for the Gram error", ge=1, le=1000)

    def check(self) -> None:
        _increasing("heads", self.heads)
        _distinct("lams", self.lams)
        if self.gram_inputs > self.n_train:
            raise ValueError(f"gram_inputs must be <= n_train = {self.n_train} (got {self.gram_inputs})")
        n_all, d1, M = self.n_train + self.n_val + self.n_test, self.d + 1, self.heads[-1]
        _at_most("n_train", "the Gram blocks' entries", n_all * self.n_train, MAX_ENTRIES)
        _at_most("n_train", "the closed-form kernel's key pairs", n_all * self.n_train * self.N**2, MAX_KEY_PAIRS)
        _at_most("heads", "the query-key matrices' entries", M * d1**2, MAX_ENTRIES)
        _at_most("heads", "one Gram-error feature matrix's entries", M * d1 * self.gram_inputs, MAX_ENTRIES)
        _at_most("gram_draws", "the Gram-error features computed", self.gram_draws * sum(self.heads) * d1
                 * self.gram_inputs, 2e9)


@dataclasses.dataclass(frozen=True)
class InvarianceParams(Params):
    d: int = param(8, "token dimension d", ge=3, le=64)
    N: int = param(8, "keys per sequence N (>= 2 so that a permutation moves a key)", ge=2, le=64)
    heads: int = param(64, "attention heads M (RFMLP: M (d + 1) units)", ge=1, le=4096)
    mu: float = param(2.0, "mean scale of the biased variant", gt=0, le=100)
    samples: int = param(50, "sequences", ge=1, le=10000)
    references: int = param(20, "reference sequences X' for the kernel rows K(X, X')", ge=1, le=1000)

    def check(self) -> None:
        width = self.heads * (self.d + 1)
        _at_most("samples", "the feature matrices' entries", self.samples * width, MAX_ENTRIES)
        _at_most("heads", "the RFMLP weights' entries", width * ((self.N + 1) * self.d + 1), MAX_ENTRIES)
        _at_most("references", "the closed-form kernel's key pairs", self.samples * self.references * self.N**2,
                 MAX_KEY_PAIRS)


# --- simulators ----------------------------------------------------------------------------------------

def _split_data(seed: int, n_max: int, n_val: int, n_test: int, N: int, d: int):
    parts = [sample_sequences(_rng(seed, role), n, N, d)
             for role, n in ((ROLE_TRAIN, n_max), (ROLE_VAL, n_val), (ROLE_TEST, n_test))]
    return np.concatenate([q for q, _ in parts]), np.concatenate([k for _, k in parts])


def _heads(p: LearningParams, seed: int) -> np.ndarray:
    return draw_heads(_rng(seed, ROLE_HEADS), p.heads, p.d, p.mu)


def _units(p: LearningParams, seed: int) -> np.ndarray:
    return _rng(seed, ROLE_UNITS).standard_normal((p.width, (p.N + 1) * p.d + 1))


def _gram_for(p: LearningParams, seed: int, query, keys, n_max: int):
    if p.model == "rfa":
        return rfa_gram(query, keys, _heads(p, seed), n_max)
    if p.model == "krr_rfa":
        return rfa_kernel_matrices(query, keys, n_max)
    z = theory.mlp_inputs(query, keys)
    if p.model == "rfmlp":
        return rfmlp_gram(z, _units(p, seed), n_max)
    return theory.mlp_kernel(z[:n_max], z[:n_max]), theory.mlp_kernel(z[n_max:], z[:n_max])


def _feature_map(p: LearningParams, seed: int):
    """``(query, keys) -> features (n, p)`` of the feature models, with the heads (units) of ``_gram_for``."""
    if p.model == "rfa":
        W = _heads(p, seed)
        return lambda q, k: rfa_features(q, k, W)
    units = _units(p, seed)
    return lambda q, k: rfmlp_features(theory.mlp_inputs(q, k), units)


def _coords_learning(p: LearningParams) -> dict:
    return {
        "target": ("target", list(p.targets), {"units": "1", "long_name": "target function",
                                               "formula": "; ".join(f"{t}: {theory.TARGET_FORMULAS[t]}"
                                                                    for t in p.targets)}),
        "n": ("n", np.array(p.n_train), {"units": "sequences", "long_name": "training-set size n"}),
        "lam": ("lam", np.array(p.lams), {"units": "1", "long_name": "ridge penalty lam"}),
    }


def simulate_learning(params: LearningParams, seed: int) -> xr.Dataset:
    """Ridge with one model on nested training sets: normalised errors for every (target, n, lam)."""
    p = params
    n_max = p.n_train[-1]
    query, keys = _split_data(seed, n_max, p.n_val, p.n_test, p.N, p.d)
    f = theory.target_bank(p.targets, query, keys)
    labels = f + p.noise * _rng(seed, ROLE_NOISE).standard_normal(f.shape)
    y_train, y_val, f_test = labels[:n_max], labels[n_max:n_max + p.n_val], f[n_max + p.n_val:]
    parts = []
    if p.dual_sizes:
        n_dual = p.dual_sizes[-1]
        if n_dual < n_max:   # the dual Gram holds only the training sequences it needs
            query_d, keys_d = (np.concatenate([x[:n_dual], x[n_max:]]) for x in (query, keys))
        else:
            query_d, keys_d = query, keys
        G, C = _gram_for(p, seed, query_d, keys_d, n_dual)
        parts.append(ridge_errors(G, C, y_train, y_val, f_test, p.dual_sizes, p.lams))
        del G, C
    if p.primal_sizes:
        features = _feature_map(p, seed)
        parts.append(ridge_errors_primal(lambda a, b: features(query[a:b], keys[a:b]),
                                         features(query[n_max:], keys[n_max:]), y_train, y_val, f_test,
                                         p.primal_sizes, p.lams))
    train, val, test = (np.concatenate(e) for e in zip(*parts))
    best, best_lam = _select(val, test, p.lams, axis=1)
    dims = ("n", "lam", "target")
    n_params = {"rfa": p.heads * (p.d + 1), "rfmlp": p.width}.get(p.model, np.nan)
    ds = xr.Dataset(
        {
            "test_err": (dims, test, {"long_name": "normalised test MSE mean((f_hat - f*)^2) / mean(f*^2)"}),
            "val_err": (dims, val, {"long_name": "normalised validation MSE (against the noisy labels)"}),
            "train_err": (dims, train, {"long_name": "normalised training MSE (against the noisy labels)"}),
            "test_err_best": (("n", "target"), best,
                              {"long_name": "normalised test MSE at the validation-selected lam"}),
            "best_lam": (("n", "target"), best_lam, {"long_name": "validation-selected lam", "units": "1"}),
            "test_target_var": (("target",), f[n_max + p.n_val:].var(axis=0),
                                {"long_name": "empirical variance of f* on the test set (exact: 1)"}),
            "trainable_params": ((), float(n_params),
                                 {"long_name": "trainable weights (NaN: kernel method)", "units": "1"}),
        },
        coords=_coords_learning(p),
    ).transpose("target", "n", "lam")
    ds.attrs.update(ATTRS)
    ds.attrs["model_name"] = MODEL_NAMES[p.model]
    return stamp(ds, study=STUDY, params=params, seed=seed)


def simulate_heads(params: HeadsParams, seed: int) -> xr.Dataset:
    """RFA with M heads against its M -> infinity limit: Gram error vs the closed form, and test error vs KRR.

    The data are shared by every M (paired comparison).  Gram error: ``gram_draws`` independent
    head draws per M on the first ``gram_inputs`` training sequences; ridge: one more draw per M.
    """
    p = params
    n, m = p.n_train, p.gram_inputs
    query, keys = _split_data(seed, n, p.n_val, p.n_test, p.N, p.d)
    f = theory.target_bank((p.target,), query, keys)
    y_train, y_val, f_test = f[:n], f[n:n + p.n_val], f[n + p.n_val:]
    K, KC = rfa_kernel_matrices(query, keys, n)
    K_sub = K[:m, :m]
    rel_err = np.empty((len(p.heads), p.gram_draws))
    diag_ratio = np.empty((len(p.heads), p.gram_draws))
    val, test = [], []
    for a, M in enumerate(p.heads):
        for r in range(p.gram_draws):
            F = rfa_features(query[:m], keys[:m], draw_heads(_rng(seed, ROLE_GRAM, M, r), M, p.d))
            G = F @ F.T
            rel_err[a, r] = np.linalg.norm(G - K_sub) / np.linalg.norm(K_sub)
            diag_ratio[a, r] = np.mean(np.diag(G) / np.diag(K_sub))
        G, C = rfa_gram(query, keys, draw_heads(_rng(seed, ROLE_HEADS, M), M, p.d), n)
        _, v, t = ridge_errors(G, C, y_train, y_val, f_test, (n,), p.lams)
        val.append(v[0, :, 0])
        test.append(t[0, :, 0])
    _, kv, kt = ridge_errors(K, KC, y_train, y_val, f_test, (n,), p.lams)
    val, test = np.array(val), np.array(test)
    best, best_lam = _select(val, test, p.lams, axis=1)
    kbest, kbest_lam = _select(kv[0, :, 0], kt[0, :, 0], p.lams, axis=0)
    ds = xr.Dataset(
        {
            "gram_rel_err": (("M", "draw"), rel_err,
                             {"long_name": "|Phi Phi^T - K|_F / |K|_F on the first gram_inputs training sequences"}),
            "diag_ratio": (("M", "draw"), diag_ratio,
                           {"long_name": "mean over sequences of |Phi_M(X)|^2 / K(X, X)"}),
            "kernel_diag": (("sample",), np.diag(K), {"long_name": "K(X, X), closed form (bound: 4)"}),
            "test_err": (("M", "lam"), test, {"long_name": "normalised test MSE, RFA with M heads"}),
            "val_err": (("M", "lam"), val, {"long_name": "normalised validation MSE, RFA with M heads"}),
            "test_err_best": (("M",), best, {"long_name": "normalised test MSE at the validation-selected lam"}),
            "best_lam": (("M",), best_lam, {"long_name": "validation-selected lam", "units": "1"}),
            "krr_test_err": (("lam",), kt[0, :, 0], {"long_name": "normalised test MSE, KRR with the limit kernel"}),
            "krr_val_err": (("lam",), kv[0, :, 0], {"long_name": "normalised validation MSE, KRR"}),
            "krr_test_err_best": ((), float(kbest), {"long_name": "KRR normalised test MSE at the selected lam"}),
            "krr_best_lam": ((), float(kbest_lam), {"long_name": "KRR validation-selected lam", "units": "1"}),
        },
        coords={
            "M": ("M", np.array(p.heads), {"units": "heads", "long_name": "number of heads M"}),
            "draw": ("draw", np.arange(p.gram_draws), {"units": "1", "long_name": "independent head draw"}),
            "lam": ("lam", np.array(p.lams), {"units": "1", "long_name": "ridge penalty lam"}),
            "sample": ("sample", np.arange(n), {"units": "1", "long_name": "training sequence"}),
        },
    )
    ds.attrs.update(ATTRS)
    ds.attrs["target_formula"] = theory.TARGET_FORMULAS[p.target]
    return stamp(ds, study=STUDY, params=params, seed=seed)


INVARIANCE_MODELS = ("rfa", "brfa", "rfmlp", "krr_rfa")


def permute_keys(rng: np.random.Generator, keys: np.ndarray) -> np.ndarray:
    """Each sequence's keys in a random order that moves at least one key."""
    n, N, _ = keys.shape
    out = np.empty_like(keys)
    for s in range(n):
        perm = rng.permutation(N)
        if np.all(perm == np.arange(N)):
            perm = np.roll(perm, 1)
        out[s] = keys[s, perm]
    return out


def simulate_invariance(params: InvarianceParams, seed: int) -> xr.Dataset:
    """Largest change of each model's features when the keys of every sequence are permuted.

    RFA, biased RFA, the RFMLP and the closed-form kernel rows K(X, X') against reference sequences X'.
    """
    p = params
    query, keys = sample_sequences(_rng(seed, ROLE_TRAIN), p.samples, p.N, p.d)
    ref_q, ref_k = sample_sequences(_rng(seed, ROLE_VAL), p.references, p.N, p.d)
    perm = permute_keys(_rng(seed, ROLE_PERM), keys)
    G = draw_heads(_rng(seed, ROLE_HEADS), p.heads, p.d)
    W_biased = draw_heads(_rng(seed, ROLE_HEADS), p.heads, p.d, p.mu)
    units = _rng(seed, ROLE_UNITS).standard_normal((p.heads * (p.d + 1), (p.N + 1) * p.d + 1))
    maps = {
        "rfa": lambda k: rfa_features(query, k, G),
        "brfa": lambda k: rfa_features(query, k, W_biased),
        "rfmlp": lambda k: rfmlp_features(theory.mlp_inputs(query, k), units),
        "krr_rfa": lambda k: kernels.rfa_kernel(query, k, ref_q, ref_k, np.empty((p.samples, p.references))),
    }
    change, scale = [], []
    for name in INVARIANCE_MODELS:
        a, b = maps[name](keys), maps[name](perm)
        change.append(np.abs(a - b).max())
        scale.append(np.abs(a).max())
    ds = xr.Dataset(
        {"max_change": (("model",), np.array(change),
                        {"long_name": "max |feature(X) - feature(X with permuted keys)|"}),
         "max_feature": (("model",), np.array(scale), {"long_name": "max |feature(X)|"})},
        coords={"model": ("model", list(INVARIANCE_MODELS),
                          {"units": "1", "long_name": "feature map (krr_rfa: kernel rows K(X, X'))"})},
    )
    ds.attrs.update(ATTRS)
    return stamp(ds, study=STUDY, params=params, seed=seed)
