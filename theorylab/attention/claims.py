"""Claims of the attention study, evaluated on experiment Datasets.

Only the abstract of Fu, Guo, Bai & Mei (NeurIPS 2023) could be read, so no claim is
labelled ``paper``.  ``derived``: exact consequences of the model (key-permutation
invariance, the M^{-1/2} Monte-Carlo rate of the Gram matrix towards the closed-form
kernel, the 1 - 1/N floor of invariant predictors on a non-invariant target), checked
against closed forms.  ``reconstructed``: the abstract's qualitative statements
(finite heads approach the infinite-head limit; excess risk falls with n; better
sample complexity than a random-feature MLP; sample size grows with target complexity;
a non-zero mean of the query-key matrix helps on natural correlation targets), made
measurable with our choice of inputs, targets, mean matrix and ridge estimator.

Statistics use seed means of the validation-selected test error (``test_err_best``).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from theorylab.core.claims import Claim, fmt, loglog_slope

ROUNDING = 1e-12    # float64 sums over N keys in another order: relative differences ~1e-16
MONOTONE_SLACK = 0.05  # relative: ~2.5 standard errors of a seed-mean test MSE (sqrt(2 / n_test) per seed)
SATURATED_SLACK = 0.05  # absolute: unlearned targets all sit at ~1 and may swap order by test noise


def _best(ds: xr.Dataset) -> xr.DataArray:
    """Seed mean of the validation-selected normalised test MSE."""
    return ds.test_err_best.mean("seed")


# --- invariance --------------------------------------------------------------------------------------

def _permutation_invariance(ds: xr.Dataset):
    rel = (ds.max_change / ds.max_feature).max("seed")
    invariant = ["rfa", "brfa", "krr_rfa"]
    worst = float(rel.sel(model=invariant).max())
    mlp = float(rel.sel(model="rfmlp"))
    passed = worst < ROUNDING and mlp > 1e-3
    return (f"max relative change: {', '.join(f'{m} {float(rel.sel(model=m)):.1e}' for m in rel.model.values)}",
            "0 for RFA, biased RFA and the kernel rows; the RFMLP changes",
            f"< {ROUNDING:g} (float64 reordering of the key sum); RFMLP > 1e-3", passed,
            f"{ds.attrs['samples']} sequences, every one with its keys permuted")


# --- heads ---------------------------------------------------------------------------------------------

def _kernel_rate(ds: xr.Dataset):
    # E |Phi Phi^T - K|_F^2 = c / M exactly for i.i.d. heads, so the RMS over head draws scales as M^{-1/2}
    rms = np.sqrt((ds.gram_rel_err**2).mean("draw")).transpose("seed", "M")
    fit = loglog_slope(ds.M.values, rms.values)
    kmax = float(ds.kernel_diag.max())
    ratio = ds.diag_ratio.isel(M=-1).mean()
    # +-0.12: the RMS from (draws x seeds) >= 48 squared errors with chi-square-like spread has a relative
    # error of ~0.2 at worst; over the M range (a factor >= 64) that moves the slope by < 0.1
    passed = -0.62 <= fit.slope <= -0.38 and kmax <= 4 + ROUNDING
    return (f"slope {fit.slope:.3f} (95% CI [{fit.low:.3f}, {fit.high:.3f}]); RMS rel. error "
            f"{fmt(rms.mean('seed').values)}", "-1/2 (Monte-Carlo rate); K(X, X) <= 4", "slope in [-0.62, -0.38]",
            passed, f"M = {fmt(ds.M.values, 5)}; {ds.sizes['draw']} head draws x {ds.sizes['seed']} seeds on "
            f"{ds.attrs['gram_inputs']} sequences; max K(X, X) = {kmax:.3f}; mean |Phi(X)|^2 / K(X, X) at the "
            f"largest M = {float(ratio):.4f}")


def _heads_to_krr(ds: xr.Dataset):
    err = _best(ds).values
    krr = float(ds.krr_test_err_best.mean("seed"))
    M = ds.M.values
    monotone = bool(np.all(err[1:] <= err[:-1] * (1 + MONOTONE_SLACK)))
    ref = int(np.argmin(np.abs(np.log(M / (M[-1] / 16)))))
    shrink = abs(err[-1] - krr) / abs(err[ref] - krr)
    passed = monotone and shrink < 0.25
    return (f"test MSE {fmt(err)} vs KRR {krr:.4f}; gap(M={M[-1]}) / gap(M={M[ref]}) = {shrink:.3f}",
            "decreasing in M towards KRR with the limit kernel; gap shrinks faster than M^{-1/2}",
            f"each step <= {MONOTONE_SLACK:.0%} up; gap ratio over a 16x increase of M < 0.25 (M^{{-1/2}} would "
            "give 0.25)", passed, f"M = {fmt(M, 5)}, n = {ds.attrs['n_train']}, target {ds.attrs['target']}")


# --- learning curves ---------------------------------------------------------------------------------

def _learning_curve(ds: xr.Dataset):
    err = _best(ds).sel(model="rfa", target="corr1")
    n = err.n.values
    d = int(ds.attrs["d"])
    monotone = bool(np.all(err.values[1:] <= err.values[:-1] * (1 + MONOTONE_SLACK)))
    large = n >= 8 * d * d
    passed = monotone and large.any() and bool(np.all(err.values[large] < 0.1))
    krr = _best(ds).sel(model="krr_rfa", target="corr1").values
    return (f"RFA test MSE {fmt(err.values)} at n = {fmt(n, 5)}",
            f"non-increasing in n; < 0.1 once n >= 8 d^2 = {8 * d * d}",
            f"each step <= {MONOTONE_SLACK:.0%} up", passed,
            f"target corr1, M = {ds.attrs['heads']}; KRR with the limit kernel: {fmt(krr)}")


def _rfa_beats_rfmlp(ds: xr.Dataset):
    best = _best(ds)
    sel = best.n[(best.n >= 256) & (best.n <= 2048)]
    rfa = best.sel(model="rfa", target="corr1", n=sel).values
    mlp = best.sel(model="rfmlp", target="corr1", n=sel).values
    ratio = rfa / mlp
    params = ds.trainable_params.isel(seed=0)
    others = "; ".join(f"{t}: RFA {fmt(best.sel(model='rfa', target=t, n=sel).values, 2)} vs RFMLP "
                       f"{fmt(best.sel(model='rfmlp', target=t, n=sel).values, 2)}" for t in ("query", "keys"))
    passed = sel.size > 0 and bool(np.all(ratio < 0.5))
    return (f"RFA / RFMLP test MSE {fmt(ratio)} at n = {fmt(sel.values, 5)}", "< 0.5 at every n in [256, 2048]",
            "factor 2", passed,
            f"target corr1; trainable weights RFA {int(params.sel(model='rfa'))}, RFMLP "
            f"{int(params.sel(model='rfmlp'))}; {others}")


def _n_independence(ds: xr.Dataset):
    best = _best(ds).sel(target="corr1", n=512)
    rfa, mlp = best.sel(model="rfa").values, best.sel(model="rfmlp").values
    N = best.N.values
    spread = rfa.max() / rfa.min()
    rising = bool(np.all(mlp[1:] >= mlp[:-1] - SATURATED_SLACK))
    high = bool(np.all(mlp[N >= 8] > 0.5))
    passed = spread < 2 and rising and high
    return (f"RFA {fmt(rfa)}, RFMLP {fmt(mlp)} at N = {fmt(N, 5)}",
            "RFA flat in N; RFMLP non-decreasing and > 0.5 for N >= 8",
            f"RFA max/min < 2 (measured {spread:.2f}); RFMLP steps >= -{SATURATED_SLACK}", passed,
            f"target corr1, n = 512, d = {ds.attrs['d']}, M = {ds.attrs['heads']}, P = M (d + 1)")


def _invariant_floor(ds: xr.Dataset):
    best = _best(ds).sel(target="ctrl")
    N = best.N.values
    floor = 1 - 1 / N
    rfa = best.sel(model="rfa").transpose("N", "n").values
    # seed mean of a normalised MSE over n_test points: standard error <= sqrt(2 / (n_test seeds))
    tol = 3 * np.sqrt(2 / (ds.attrs["n_test"] * ds.sizes["seed"]))
    margin = (rfa - floor[:, None]).min()
    mlp = best.sel(model="rfmlp").isel(n=-1).values
    passed = bool(np.all(rfa >= floor[:, None] - tol))
    return (f"RFA (largest n) {fmt(rfa[:, -1])} vs floor {fmt(floor)}; smallest margin {margin:+.3f}",
            "every permutation-invariant predictor has error >= 1 - 1/N", f"3 standard errors = {tol:.3f}",
            passed, f"control target sqrt(d) <x_0, x_1>; the RFMLP (not invariant) reaches {fmt(mlp)} at "
            f"n = {int(best.n[-1])}")


# --- degree and bias ---------------------------------------------------------------------------------

def _degrees(ds: xr.Dataset) -> list[str]:
    return [t for t in ds.target.values if str(t).startswith("corr")]


# Degree staircase thresholds on the seed-mean error at the largest n.  The seed standard deviation there
# is at most 0.02 for every degree (0.020 for k = 2 at paper scale, 0.005 at quick scale), and unlearned
# degrees sit at 1.00 +- 0.01.  0.75 lies more than 12 seed standard deviations from both the measured
# degree-2 errors (0.50 paper, 0.66 quick) and from 1, so it separates "partially learned" from "not
# learned" without depending on seed noise; 0.9 is 10 of them below the saturated 1.
LEARNED, PARTIAL, UNLEARNED = 0.1, 0.75, 0.9


def _first_below(err: np.ndarray, n: np.ndarray, level: float) -> str:
    hit = np.flatnonzero(err < level)
    return str(int(n[hit[0]])) if hit.size else "never"


def _staircase(ds: xr.Dataset):
    targets = _degrees(ds)
    best = _best(ds).sel(target=targets).transpose("n", "target")
    rfa, n = best.values, best.n.values           # (n, k)
    ordered = bool(np.all(rfa[:, 1:] >= rfa[:, :-1] - SATURATED_SLACK))
    final = rfa[-1]
    steps = final[0] < LEARNED and final[1] < PARTIAL and bool(np.all(final[2:] > UNLEARNED))
    spread = ds.test_err_best.sel(target=targets).isel(n=-1).std("seed", ddof=1).values
    onset = ", ".join(f"k = {k + 1}: {_first_below(rfa[:, k], n, UNLEARNED)}" for k in range(len(targets)))
    return (f"RFA at n = {int(n[-1])}: {fmt(final)} for k = 1..{len(targets)} (seed std {fmt(spread, 2)})",
            f"k = 1 learned (< {LEARNED}), k = 2 partially (< {PARTIAL}), k >= 3 not (> {UNLEARNED}); error "
            "non-decreasing in the degree k at every n",
            f"order up to {SATURATED_SLACK} (saturated errors)", ordered and steps,
            f"zero-mean RFA, M = {ds.attrs['heads']}, p = {int(ds.attrs['heads']) * (int(ds.attrs['d']) + 1)} "
            f"features (primal ridge for n > p), {ds.sizes['seed']} seeds; first n with error < {UNLEARNED}: "
            f"{onset}")


def _bias_helps(ds: xr.Dataset):
    best = _best(ds).isel(n=-1)
    targets = _degrees(ds)
    rfa = best.sel(mu=0.0, target=targets).values
    brfa = best.sel(mu=2.0, target=targets).values
    ratio = brfa / rfa
    passed = bool(np.all(ratio[1:3] < 0.8))
    per_mu = "; ".join(f"mu={float(m):g}: {fmt(best.sel(mu=m, target=targets).values, 2)}" for m in best.mu.values)
    return (f"biased / zero-mean test MSE {fmt(ratio)} for k = 1..{len(targets)}", "< 0.8 for k = 2 and 3",
            "factor 0.8", passed,
            f"n = {int(ds.n[-1])}, mu = 2 (W = 2 sqrt(d) blockdiag(I, 0) + G); k = 1 is the trade-off (bias "
            f"hurts it); all mu: {per_mu}")


CLAIMS: list[Claim] = [
    Claim("attention.permutation-invariance",
          "RFA features, biased-RFA features and the infinite-head kernel are invariant to permuting the keys; "
          "the RFMLP's are not", "derived", "invariance", _permutation_invariance),
    Claim("attention.kernel-rate",
          "The RFA Gram matrix converges to the closed-form infinite-head kernel at the Monte-Carlo rate "
          "M^{-1/2} (log-log slope of the RMS relative Frobenius error)", "derived", "heads", _kernel_rate),
    Claim("attention.heads-to-krr",
          "With finitely many heads the ridge test error decreases in M towards kernel ridge regression with "
          "the limit kernel (abstract: excess-risk bounds with finitely many heads)", "reconstructed", "heads",
          _heads_to_krr),
    Claim("attention.learning-curve",
          "The RFA test error on the key-averaged correlation target falls with n and is small once n is a few "
          "times d^2 (abstract: excess-risk bounds from finite samples)", "reconstructed", "learning_curves",
          _learning_curve),
    Claim("attention.rfa-beats-rfmlp",
          "RFA needs fewer samples than a random-feature MLP with as many trainable weights (abstract: "
          "advantage in sample complexity over two-layer random-feature networks)", "reconstructed",
          "learning_curves", _rfa_beats_rfmlp),
    Claim("attention.n-independence",
          "On a key-averaged target the RFA error does not grow with the number of keys N, while the RFMLP's "
          "rises towards 1", "reconstructed", "sequence_length", _n_independence),
    Claim("attention.invariant-floor",
          "On the non-invariant control target sqrt(d) <x_0, x_1> RFA cannot go below 1 - 1/N",
          "derived", "sequence_length", _invariant_floor),
    Claim("attention.degree-staircase",
          "Higher-degree correlation targets need more samples: at the largest n of the sweep zero-mean RFA has "
          "learned the degree-1 target, the degree-2 target partially, and neither degree 3 nor degree 4; its "
          "error is non-decreasing in the Gegenbauer degree k at every n (abstract: interplay between sample "
          "size and target complexity)",
          "reconstructed", "staircase", _staircase),
    Claim("attention.bias-helps",
          "A non-zero-mean query-key matrix beats the zero-mean one on degree-2 and degree-3 correlation "
          "targets (abstract: non-zero mean gives better sample complexity for certain natural targets)",
          "reconstructed", "bias", _bias_helps),
]
