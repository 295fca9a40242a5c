"""The study's claims, evaluated on the experiments' Datasets.

Finite-size tolerances (N neurons).  Every Monte-Carlo overlap is an average of N bounded terms,
so its sample fluctuation is at most 1/sqrt(N) per pattern.  Around a stable self-consistent
solution a perturbation eps of the self-consistency map moves the solution by
(I - J)^(-1) eps, at most |eps| / (1 - lambda_max) (linear response; lambda_max is the
largest Jacobian eigenvalue stored in the Dataset).  Hence the band used throughout:

    |m_MC - m_theory| <= 3 / ((1 - lambda_max) sqrt N)          (3 sigma, sigma <= 1/sqrt N),

applied only where lambda_max <= 0.8 (linear response is meaningless next to a transition).
At zero temperature in the noiseless network the state is frozen and m_k is a plain binomial
average: 4 / sqrt N (3 sigma plus up to one sigma from picking the larger of the uncued overlaps).
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from scipy import special

from theorylab.core.claims import Claim, fmt, loglog_slope
from theorylab.hebbian import theory

LAMBDA_TESTED = 0.8          # linear-response band only where the solution is this far from marginal
THETA = 1.0                  # learning threshold: signal-to-noise ratio 1, accuracy Phi(1)


def _n_neurons(ds: xr.Dataset) -> xr.DataArray | int:
    return ds.n_neurons if "n_neurons" in ds.coords else int(ds.attrs["n_neurons"])


def _band(ds: xr.Dataset) -> xr.DataArray:
    """3 / ((1 - lambda_max) sqrt N) at every grid point (inf where lambda_max > LAMBDA_TESTED)."""
    lam = ds.lambda_max
    band = 3.0 / ((1.0 - lam) * np.sqrt(_n_neurons(ds)))
    return band.where(lam <= LAMBDA_TESTED, np.inf)


def _mc(ds: xr.Dataset) -> xr.DataArray:
    """Replica-averaged |m| in decreasing order."""
    return ds.m_sorted.mean("replica")


def _one(da: xr.DataArray) -> xr.DataArray:
    """Drop the seed dimension of a quantity that does not depend on the seed (theory)."""
    return da.isel(seed=0) if "seed" in da.dims else da


def _cut(ds: xr.Dataset) -> float:
    """Spread below which K amplitudes count as equal: twice 3/sqrt N, the fluctuation of one amplitude."""
    return 6.0 / math.sqrt(int(np.max(_n_neurons(ds))))


# --- zero temperature: the power law ------------------------------------------------------------------

def _hierarchy_fits(ds: xr.Dataset):
    """Monte-Carlo amplitudes for d < d_K, the law (1 - d) d^(k-1), and per rank k >= 2 the log-log fit of
    m_k / (1 - d) against d with the slope tolerance propagated from the 4/sqrt N amplitude band."""
    N = int(ds.attrs["n_neurons"])
    d_K = float(ds.d_hierarchy.max())
    sub = ds.sel(dilution=ds.dilution.values[ds.dilution.values < d_K])
    mc = _mc(sub).transpose("dilution", "seed", "rank")
    law = _one(sub.m_power_law).transpose("dilution", "rank").values
    amp_tol = 4.0 / math.sqrt(N)
    d = sub.dilution.values
    fits = {}
    for k in range(2, ds.sizes["rank"] + 1):
        keep = law[:, k - 1] >= 8.0 / math.sqrt(N)      # relative band <= 1/2: the log is defined
        if keep.sum() < 3:
            continue
        x = np.log(d[keep])
        y = (mc.values[keep, :, k - 1] / (1 - d[keep, None])).T             # (seed, dilution)
        # least-squares slope moved by the 4/sqrt N amplitude band: sum_j |w_j| band_j / m_j
        w = (x - x.mean()) / np.sum((x - x.mean()) ** 2)
        fits[k] = (loglog_slope(d[keep], y), float(np.sum(np.abs(w) * amp_tol / law[keep, k - 1])))
    ordered = bool(np.all(np.diff(mc.values, axis=2) < 0))
    return sub, mc, law, amp_tol, d_K, fits, ordered


def _power_laws(ds: xr.Dataset):
    sub, mc, law, amp_tol, d_K, fits, ordered = _hierarchy_fits(ds)
    slopes = [fits[k][0] for k in sorted(fits)]
    positive = all(f.low > 0 for f in slopes)
    increasing = all(b.low > a.high for a, b in zip(slopes, slopes[1:]))
    passed = ordered and positive and increasing and len(slopes) >= 1     # ranks at the 1/sqrt N floor are not fitted
    return ("; ".join(f"k={k}: slope {f.slope:.3f} (95% CI {f.low:.3f}..{f.high:.3f})" for k, (f, _) in fits.items())
            + f"; order m_1 > m_2 > m_3 {'holds' if ordered else 'FAILS'} everywhere",
            "amplitudes ordered by rank, each a power of d (straight log-log line) with an exponent that grows "
            "with the rank", "slope CIs above 0 and disjoint, increasing in k", passed,
            f"T = 0, noiseless examples, d < d_K = {d_K:.3f} ({sub.sizes['dilution']} dilutions x "
            f"{ds.sizes['seed']} seeds)")


def _power_law(ds: xr.Dataset):
    sub, mc, law, amp_tol, d_K, fits, ordered = _hierarchy_fits(ds)
    amp_err = float(np.abs(mc.values - law[:, None, :]).max())
    slopes_ok = all(abs(f.slope - (k - 1)) <= tol for k, (f, tol) in fits.items())
    passed = amp_err <= amp_tol and ordered and slopes_ok and len(fits) > 0
    return (f"max |m_k - (1-d) d^(k-1)| = {amp_err:.4f}; "
            + "; ".join(f"k={k}: slope {f.slope:.3f} (95% CI {f.low:.3f}..{f.high:.3f}) vs {k - 1} +- {tol:.3f}"
                        for k, (f, tol) in fits.items()),
            "m_k = (1 - d) d^(k-1), strictly decreasing in k, log-log slope k - 1 in d",
            f"amplitudes 4/sqrt N = {amp_tol:.4f}; slopes by propagating that band", passed,
            f"d < d_K = {d_K:.3f} ({sub.sizes['dilution']} dilutions x {ds.sizes['seed']} seeds); "
            f"order m_1 > m_2 > m_3 {'holds' if ordered else 'FAILS'} everywhere")


# --- finite beta: Monte Carlo against theory ---------------------------------------------------------

def _batch_se(ds: xr.Dataset, batches: int = 10) -> xr.DataArray:
    """Standard error of the time-averaged m from batch means of the post-burn-in trajectory."""
    m = ds.m.isel(sweep=slice(int(ds.attrs["burn_in"]) + 1, None))
    size = m.sizes["sweep"] // batches
    means = m.isel(sweep=slice(0, size * batches)).coarsen(sweep=size).mean()
    return means.std("sweep", ddof=1) / math.sqrt(batches)


def _mc_vs_mean_field(ds: xr.Dataset):
    N = int(ds.attrs["n_neurons"])
    K = ds.sizes["pattern"]
    se = _batch_se(ds)
    diff = np.abs(ds.m_mean - ds.m_mean_field)
    # thermal error of the time average (5 SE) + the O(K/N) fluctuation corrections the naive mean
    # field leaves out (reaction terms of a low-load network), bounded by 5 K / N; only runs with
    # lambda_max <= 0.8: next to a transition the relaxation time ~ 1/(1 - lambda) outgrows the batches
    tol = 5 * se + 5.0 * K / N
    tested = ds.lambda_max <= LAMBDA_TESTED
    ratio = float((diff / tol).where(tested).max())
    n_tested, n_all = int(tested.sum()), int(tested.size)
    passed = ratio <= 1 and n_tested >= n_all / 2
    return (f"max |<m>_MC - m_MF| = {float(diff.where(tested).max()):.2e}; worst ratio to tolerance {ratio:.2f} "
            f"({n_tested} of {n_all} runs)",
            "time-averaged m of every replica = mean-field fixed point of the same realised network",
            f"5 batch-mean SE + 5K/N (K/N = {K / N:.1e}), runs with lambda_max <= 0.8", passed,
            f"largest difference over all runs, transitions included: {float(diff.max()):.2e}")


def _mc_vs_self_consistency(ds: xr.Dataset):
    band = _band(ds)
    err = np.abs(_mc(ds) - ds.m_theory).max("rank")
    tested = np.isfinite(band)
    n_tested, n_all = int(tested.sum()), int(band.size)
    ratio = float((err / band).where(tested).max())
    passed = n_tested >= n_all / 2 and ratio <= 1
    return (f"max |m_MC - m_theory| / band = {ratio:.2f} over {n_tested} of {n_all} runs; "
            f"largest error {float(err.where(tested).max()):.4f}",
            "Monte-Carlo |m_k| (rank by rank) = N -> infinity self-consistency",
            "3 / ((1 - lambda_max) sqrt N), runs with lambda_max <= 0.8", passed,
            "self-consistency averaged exactly over the binomial example law, retrieval branch from the cue")


def _spreads(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dilutions, MC spread m_(1) - m_(K) averaged over everything else, theory spread)."""
    mc = _mc(ds)
    spread = (mc.isel(rank=0) - mc.isel(rank=-1))
    other = [d for d in spread.dims if d != "dilution"]
    th = _one(ds.m_theory)
    th_spread = th.isel(rank=0) - th.isel(rank=-1)
    th_spread = th_spread.isel({d: 0 for d in th_spread.dims if d != "dilution"})
    return ds.dilution.values, spread.mean(other).values, th_spread.values


def _retrieving(ds: xr.Dataset) -> np.ndarray:
    th = _one(ds.m_theory).isel(rank=-1)
    return th.isel({d: 0 for d in th.dims if d != "dilution"}).values > theory.ZERO


def _hierarchical_to_parallel(ds: xr.Dataset):
    d, spread, _ = _spreads(ds)
    cut = _cut(ds)
    retrieving = _retrieving(ds)
    mild = spread[0]
    strong = spread[retrieving][-1] if retrieving.any() else np.nan
    passed = mild > 2 * cut and strong <= cut
    return (f"beta = {1.0 / float(ds.attrs['temperature']):g}: m_(1) - m_(K): {fmt(spread)} at d = {fmt(d, 2)}",
            "distinct amplitudes at the mildest dilution, equal amplitudes at the strongest retrieving one",
            f"distinct: > 2 x {cut:.3f}; equal: <= {cut:.3f} (6/sqrt N)", passed,
            f"mildest d = {d[0]:g}: {mild:.3f}; strongest retrieving d: {strong:.3f}")


def _parallel_threshold(ds: xr.Dataset):
    d, spread, th_spread = _spreads(ds)
    d_par = float(_one(ds.d_parallel).max())
    cut = _cut(ds)
    retrieving = _retrieving(ds)
    equal = (spread <= cut) & retrieving
    # MC onset: the smallest d from which every retrieving grid point has equal amplitudes
    onset = math.nan
    for j in range(d.size):
        if equal[j:][retrieving[j:]].all() and equal[j]:
            onset = float(d[j])
            break
    step = float(np.max(np.diff(d)))
    passed = math.isfinite(onset) and onset - step <= d_par <= onset + step
    beta = 1.0 / float(ds.attrs["temperature"])
    return (f"beta = {beta:g}: Monte-Carlo onset of equal amplitudes d* = {onset:g}", f"d_par(beta = {beta:g}) = "
            f"{d_par:.3f} (parallel state becomes stable: amplitude-splitting eigenvalue crosses 1)", f"d_par within one grid step "
            f"({step:g}) of d*", passed,
            f"spread MC {fmt(spread)}, theory {fmt(th_spread)}; equal means <= {cut:.3f}")


def _supervised_equals_unsupervised(ds: xr.Dataset):
    N = int(ds.attrs["n_neurons"])
    mc = _mc(ds)
    diff = float(np.abs(mc.sel(protocol="supervised") - mc.sel(protocol="unsupervised")).max())
    lam_ex = float(ds.lambda_example.max())
    # paired runs (same data, same start); the unsupervised example overlaps add fluctuations damped
    # by 1 / (1 - lambda_ex), so 3 / ((1 - lambda_ex) sqrt N)
    tol = 3.0 / ((1.0 - lam_ex) * math.sqrt(N)) if lam_ex < 1 else 0.0
    passed = diff <= tol and lam_ex < 1
    return (f"max |m_sup - m_unsup| = {diff:.4f}; largest example-mode eigenvalue {lam_ex:.3f}",
            "same magnetizations; example-asymmetric modes stable, so the same stability thresholds",
            f"{tol:.4f} = 3 / ((1 - lambda_ex) sqrt N); lambda_ex < 1", passed,
            "paired on identical datasets; one self-consistency serves both protocols (the unsupervised map "
            "has the supervised solutions, checked against the explicit K M-dimensional map in the tests)")


# --- the (d, beta) phase diagram ------------------------------------------------------------------------

def phase_table(ds: xr.Dataset) -> list[dict]:
    """Per (dilution, temperature): the retrieval state of the theory and of Monte Carlo (one classifier,
    :func:`theory.classify`) and whether the point is clear enough to compare them.

    Theory resolution: :data:`theory.ZERO` (solver precision).  Monte-Carlo resolution: ``_cut`` = 6/sqrt N,
    twice the 3 sigma fluctuation 3/sqrt N of one amplitude, so two equal amplitudes differ by less and an
    unretrieved archetype's overlap (order 1/sqrt N) stays below it.  A point is clear when every theory
    amplitude and every nonzero gap is at least twice that resolution and lambda_max <= 0.8 (linear response
    amplifies the fluctuations by at most 1/(1 - lambda) = 5), or, for the paramagnet, when beta (1 - d) <= 0.85.
    """
    cut = _cut(ds)
    mc = _mc(ds).mean("seed")
    rows = []
    for d in ds.dilution.values:
        for T in ds.temperature.values:
            point = ds.sel(dilution=d, temperature=T).isel(seed=0)
            th = point.m_theory.values
            beta = 1.0 / T
            state_th = theory.classify(th, theory.ZERO, theory.ZERO)
            state_mc = theory.classify(mc.sel(dilution=d, temperature=T).values, cut, cut)
            lam = float(point.lambda_max)
            if state_th == "paramagnetic":
                clear = beta * (1 - d) <= 0.85            # away from the critical line
            else:                                           # every amplitude zero or far from zero
                present = th[th > theory.ZERO]
                gaps = np.diff(present)
                clear = bool(lam <= LAMBDA_TESTED and np.all(present >= 2 * cut)
                             and np.all((np.abs(gaps) <= theory.ZERO) | (-gaps >= 2 * cut)))
            rows.append({"dilution": float(d), "beta": beta, "theory": state_th, "mc": state_mc,
                         "clear": bool(clear), "lambda": lam})
    return rows


def _phase_diagram(ds: xr.Dataset):
    rows = phase_table(ds)
    tested = [r for r in rows if r["clear"]]
    wrong = [r for r in tested if r["theory"] != r["mc"]]
    kinds = sorted({r["theory"] for r in tested})
    mixtures = [r for r in rows if r["theory"] in theory.MIXTURES]
    passed = not wrong and len(tested) >= len(rows) / 3 and len(kinds) >= 3
    mix = "; ".join(f"d={r['dilution']:g} beta={r['beta']:g}: {r['theory']} (lambda {r['lambda']:.2f}, "
                    f"{'clear' if r['clear'] else 'not clear'}), MC {r['mc']}" for r in mixtures)
    return (f"{len(tested) - len(wrong)} of {len(tested)} clear points agree ({len(rows)} in the grid); "
            f"states tested: {', '.join(kinds)}",
            "Monte-Carlo state = state of the self-consistent solution reached from the cue, at every clear point",
            "MC: amplitudes below 6/sqrt N count as zero, gaps below it as ties; clear points: theory amplitudes "
            "and gaps >= 12/sqrt N, lambda_max <= 0.8, or beta (1 - d) <= 0.85", passed,
            ("; ".join(f"d={r['dilution']:g} beta={r['beta']:g}: theory {r['theory']}, MC {r['mc']}"
                       for r in wrong) or "no disagreement")
            + f". Mixture points of the theory: {mix or 'none'}")


# --- learning thresholds of the multitasking network ----------------------------------------------------

def _first(ok: np.ndarray) -> int:
    hits = np.nonzero(ok)[0]
    return int(hits[0]) if hits.size else len(ok)


def threshold_table(ds: xr.Dataset) -> list[dict]:
    """Per (K, d, r): the grid index of the smallest M at which every archetype is learned, for the theory
    and each protocol's Monte Carlo, and the Monte-Carlo band of the learned fraction at each M.

    Band: 3 sqrt(1 - d) / ((1 - lambda_max) sqrt N) on an amplitude (an overlap of N sites of which a fraction
    1 - d is non-blank fluctuates by at most sqrt((1 - d)/N); linear response amplifies that by
    1/(1 - lambda)), divided by the noiseless amplitude of the rank that decides; infinite where
    lambda_max > 0.8 (too close to a transition to be judged).
    """
    N = int(ds.attrs["n_neurons"])
    level = float(ds.learned_level.max())
    rows = []
    for K in ds.n_patterns.values:
        for d in ds.dilution.values:
            for r in ds.quality.values:
                point = ds.sel(n_patterns=K, dilution=d, quality=r)
                th = _one(point.learned_theory).isel(protocol=0).isel(rank=slice(0, int(K)))
                worst = th.argmin("rank")
                m0 = _one(point.m_noiseless).isel(protocol=0).isel(rank=slice(0, int(K)))
                lam = _one(point.lambda_max).isel(protocol=0).values
                band = 3 * math.sqrt(1 - d) / ((1 - lam) * math.sqrt(N)) / m0.isel(rank=worst).values
                band = np.where(lam <= LAMBDA_TESTED, band, np.inf)
                row = {"K": int(K), "d": float(d), "r": float(r), "theory": _first(th.min("rank").values >= level),
                       "band": band, "ratio": th.min("rank").values}
                for prot in ds.protocol.values:
                    mc = point.learned.sel(protocol=prot).isel(rank=slice(0, int(K))).mean(["replica", "seed"])
                    row[str(prot)] = _first(mc.min("rank").values >= level)
                rows.append(row)
    return rows


def _multitask_threshold(ds: xr.Dataset):
    level = float(ds.learned_level.max())
    Ms = ds.n_examples.values
    rows = threshold_table(ds)

    def label(j: int) -> str:
        return f"{Ms[j]}" if j < len(Ms) else f">{Ms[-1]}"

    def compatible(a: int, b: int, row: dict) -> bool:
        """Equal, or differing only across grid points whose theory fraction is within its band of the level."""
        return all(abs(row["ratio"][i] - level) <= row["band"][i] for i in range(min(a, b), min(max(a, b), len(Ms))))

    agree, exact, text = True, 0, []
    for row in rows:
        found = [row["supervised"], row["unsupervised"]]
        ok = compatible(found[0], found[1], row) and all(compatible(j, row["theory"], row) for j in found)
        agree &= ok
        exact += found[0] == found[1] == row["theory"]
        text.append(f"K={row['K']} d={row['d']:g} r={row['r']:g}: theory {label(row['theory'])}, sup "
                    f"{label(found[0])}, unsup {label(found[1])}{'' if ok else ' (MISMATCH)'}")
    # multitasking: hierarchical dilution needs more examples for K = max than K = 1; parallel dilution does not
    by = {(row["K"], row["d"], row["r"]): row["theory"] for row in rows}
    Ks, ds_ = sorted({row["K"] for row in rows}), sorted({row["d"] for row in rows})
    rs = sorted({row["r"] for row in rows})
    grows = all(by[(Ks[-1], ds_[0], r)] > by[(1, ds_[0], r)] for r in rs)
    flat = all(abs(by[(K, ds_[-1], r)] - by[(1, ds_[-1], r)]) <= 1 for K in Ks for r in rs)
    passed = agree and grows and flat and 1 in Ks and len(Ks) >= 2
    return (f"{exact} of {len(rows)} (K, d, r) lines: theory, supervised and unsupervised thresholds identical; "
            f"d = {ds_[0]:g}: K = {Ks[-1]} needs more examples than K = 1 at every r: {grows}; d = {ds_[-1]:g}: "
            f"thresholds within one grid step for every K: {flat}",
            f"beta = {1 / float(ds.attrs['temperature']):g}: the smallest M at which every archetype reaches "
            f"{level:.3f} of its noiseless amplitude is the same for both protocols and the self-consistency; it "
            "grows with K at hierarchical dilution and not at parallel dilution",
            "equal grid M, or differing only across grid points whose theory fraction is within the Monte-Carlo "
            "band 3 sqrt(1-d) / ((1 - lambda) sqrt N m_noiseless) of the level (lambda <= 0.8)", passed,
            "; ".join(text))


# --- the cost function's minima and the loss ---------------------------------------------------------

def competing_sites(d: float, K: int) -> float:
    """2 K P(>= 3 archetypes non-blank at a site) bounds the loss a cost minimum can lose to the loss's own
    minimum when only the sites where three or more archetypes compete are set differently (a weighted and
    an unweighted majority agree wherever at most two archetypes are non-blank)."""
    p = 1 - d
    at_most_two = sum(math.comb(K, j) * p ** j * d ** (K - j) for j in range(min(K, 2) + 1))
    return 2 * K * (1 - at_most_two)


def _same_minima(ds: xr.Dataset):
    K = ds.sizes["pattern"]
    d_lo, d_hi = float(ds.dilution.min()), float(ds.dilution.max())
    strong, mild = ds.sel(dilution=d_hi), ds.sel(dilution=d_lo)
    tol = competing_sites(d_hi, K)
    big = ds.n_neurons.values.max()
    strong_excess = float(strong.loss_excess.max())
    mild_excess = mild.loss_excess.sel(n_neurons=big)
    contradicted = bool((mild_excess > tol).all())
    passed = strong_excess <= tol and contradicted
    rows = []
    for d in ds.dilution.values:
        x = ds.sel(dilution=d, n_neurons=big)
        rows.append(f"d={d:g}: excess {float(x.loss_excess.mean()):.4f}, cost minima that are loss minima "
                    f"{float(x.loss_min_fraction.mean()):.2f}, Kendall tau {float(x.kendall_tau.mean()):.2f}")
    return (f"parallel d = {d_hi:g}: largest loss excess of the lowest-cost minimum {strong_excess:.4f}; "
            f"hierarchical d = {d_lo:g}: smallest {float(mild_excess.min()):.4f} (N = {big})",
            "T = 0: the lowest-cost minimum is the loss's global minimum up to the competing sites at strong "
            "dilution (parallel regime), and lies above it at mild dilution (hierarchical regime)",
            f"excess <= 2K P(>= 3 non-blank) = {tol:.4f} at d = {d_hi:g} (every seed, both N); > that at "
            f"d = {d_lo:g} (every seed, N = {big})", passed,
            "; ".join(rows) + f" (means over {ds.sizes['seed']} seeds, N = {big}; enumeration at N = "
            f"{ds.n_neurons.values.min()})")


# --- learning from examples ---------------------------------------------------------------------------

def _accuracy(ds: xr.Dataset) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    """(MC accuracy of archetype 1, exact theory accuracy, its binomial 3-sigma band)."""
    N = int(ds.attrs["n_neurons"])
    d = float(ds.attrs["dilution"])
    acc = ds.accuracy.isel(pattern=0).mean("replica")
    th = ds.theory_accuracy
    sites = N * (1 - d)
    band = 3 * np.sqrt(th * (1 - th) / sites) + 3.0 / sites      # + 3/sites: one spin is 1/sites
    return acc, th, band


def _snr_accuracy(ds: xr.Dataset):
    acc, th, band = _accuracy(ds)
    ratio = float((np.abs(acc - th) / band).max())
    gauss = np.abs(ds.snr_accuracy - th)
    return (f"max |acc_MC - acc_exact| / band = {ratio:.2f} over {acc.size} runs",
            "accuracy = P(example majority right) = P(chi_hat > 0) (+ ties / 2), exact binomial",
            "3 sqrt(a (1 - a) / (N (1 - d))) + 3 / (N (1 - d))", ratio <= 1,
            f"Gaussian signal-to-noise form Phi(1/sqrt rho) differs from the exact law by up to "
            f"{float(gauss.max()):.3f} (largest at M = 1)")


def _threshold_index(acc: np.ndarray, level: float) -> int:
    """Index of the first M whose accuracy reaches the level (len(acc) if none does)."""
    hits = np.nonzero(acc >= level)[0]
    return int(hits[0]) if hits.size else len(acc)


def _same_learning_threshold(ds: xr.Dataset):
    level = float(special.ndtr(THETA))
    acc, th, band = _accuracy(ds)
    acc = acc.mean("seed")
    Ms = ds.n_examples.values
    rows, passed = [], True
    for r in ds.quality.values:
        t_th = th.sel(quality=r).isel(protocol=0, seed=0).values
        b = band.sel(quality=r).isel(protocol=0, seed=0).values
        j_th = _threshold_index(t_th, level)
        found = {}
        for prot in ds.protocol.values:
            j = _threshold_index(acc.sel(quality=r, protocol=prot).values, level)
            found[str(prot)] = j
            # a different grid point is allowed only where the exact accuracy is within its band of the level
            between = range(min(j, j_th), max(j, j_th))
            passed &= all(abs(t_th[i] - level) <= b[i] for i in between)
        same = len(set(found.values())) == 1
        passed &= same or all(abs(t_th[i] - level) <= b[i]
                              for i in range(min(found.values()), max(found.values())))

        def label(j: int) -> str:
            return f"{Ms[j]}" if j < len(Ms) else f">{Ms[-1]}"
        rows.append(f"r={r:g}: sup {label(found['supervised'])}, unsup {label(found['unsupervised'])}, "
                    f"exact {label(j_th)}, SNR {THETA ** 2 * (1 - r * r) / (r * r):.1f}")
    return ("; ".join(rows), f"the smallest M reaching accuracy Phi({THETA:g}) = {level:.3f} is the same for "
            "both protocols and the exact theory", "equal grid M, or differing only across grid points whose "
            "exact accuracy is within its binomial band of the level", passed,
            "SNR: the Gaussian threshold M_x = theta^2 (1 - r^2) / r^2 for comparison")


# --- cost and loss -------------------------------------------------------------------------------------

def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation, 0 when either series is constant (no co-movement to speak of)."""
    a, b = a - a.mean(), b - b.mean()
    norm = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b) / norm if norm > 0 else 0.0


def _undershoot(loss: xr.DataArray, burn: int) -> xr.DataArray:
    """How far the loss dipped below its final (post-burn-in mean) value during the run."""
    return loss.isel(sweep=slice(burn + 1, None)).mean("sweep") - loss.min("sweep")


def _loss_follows_cost(ds: xr.Dataset):
    N = int(ds.attrs["n_neurons"])
    K = ds.sizes["pattern"]
    burn = int(ds.attrs["burn_in"])
    rises = ds.cost.sel(temperature=0.0).diff("sweep") if 0.0 in ds.temperature.values else ds.cost[:0]
    worst_rise = float(rises.max()) if rises.size else -np.inf
    strong = ds.sel(dilution=ds.dilution.values.max())
    window = strong.isel(sweep=slice(0, burn + 1))
    flat = window.cost.transpose("sweep", ...).values.reshape(burn + 1, -1)
    flat_loss = window.loss.transpose("sweep", ...).values.reshape(burn + 1, -1)
    rho = np.array([_correlation(c, l) for c, l in zip(flat.T, flat_loss.T)])
    under = float(_undershoot(strong.loss, burn).max())
    # end point against the self-consistency: K amplitudes, each within its band
    lam = strong.lambda_max.where(np.isfinite(strong.lambda_max), 0.0)
    band = xr.where(strong.temperature == 0, 4.0 / math.sqrt(N), 3.0 / ((1 - lam) * math.sqrt(N)))
    end_ratio = float((np.abs(strong.loss_mean.mean("replica") - strong.loss_theory) / (K * band)).max())
    mild = ds.sel(dilution=ds.dilution.values.min())
    mild_under = float(_undershoot(mild.loss, burn).max())
    # unrelated series of 30+ sweeps correlate ~0 +- 0.18: 0.9 is 5 standard deviations away; the loss
    # may sit below its final value only by thermal noise, 3/sqrt N
    passed = (worst_rise <= 1e-12 and rho.min() >= 0.9 and under <= 3 / math.sqrt(N) and end_ratio <= 1)
    return (f"d = {float(strong.dilution):g}: correlation(cost, loss) >= {rho.min():.3f}, loss never more than "
            f"{under:.4f} below its final value, end loss / band {end_ratio:.2f}; T = 0 cost rise "
            f"{worst_rise:.1e}",
            "parallel regime: the sum-squared loss falls with the cost and ends at its minimum, the value at the "
            "self-consistent solution; the cost never rises at T = 0",
            f"Pearson >= 0.9; undershoot <= 3/sqrt N = {3 / math.sqrt(N):.4f}; end within K x band; rise <= 1e-12",
            passed, f"{rho.size} runs from a random state; at mild dilution d = {float(mild.dilution):g} "
            f"(hierarchical) the loss dips up to {mild_under:.3f} below its final value on the way: there the "
            "cost minimum is not a minimum of the summed loss")


# --- finite-size scaling ------------------------------------------------------------------------------

def _finite_size(ds: xr.Dataset):
    err = np.abs(_mc(ds) - ds.m_theory).max("rank").mean("dilution")     # (n_neurons, seed)
    y = err.transpose("seed", "n_neurons").values
    fit = loglog_slope(ds.n_neurons.values, y)
    # pre-asymptotic corrections at N >= 1000 allowed up to +-0.1 around -1/2
    passed = fit.low <= -0.4 and fit.high >= -0.6 and fit.high < 0
    return (f"slope {fit.slope:.3f} (95% bootstrap CI {fit.low:.3f}..{fit.high:.3f}); mean error "
            f"{fmt(err.mean('seed').values)} at N = {fmt(ds.n_neurons.values)}",
            "error of the Monte-Carlo magnetizations against the N -> infinity theory ~ N^(-1/2)",
            "CI overlaps [-0.6, -0.4] and excludes 0", passed,
            f"max over ranks, mean over d = {fmt(ds.dilution.values, 2)}, bootstrap over {ds.sizes['seed']} seeds")


CLAIMS: list[Claim] = [
    Claim("hebbian.power-laws",
          "For mild dilution the network handles the archetypes hierarchically, their amplitudes distributed as "
          "power laws (checked at zero temperature with noiseless examples, K = 3)", "paper", "hierarchy",
          _power_laws),
    Claim("hebbian.power-law",
          "At zero temperature the noiseless multitasking network retrieves all K archetypes hierarchically, "
          "m_k = (1 - d) d^(k-1), for d below d_K (root of 1 - 2d + d^K)", "derived", "hierarchy", _power_law),
    Claim("hebbian.mc-vs-mean-field",
          "Monte-Carlo time averages equal the mean-field fixed point of the same realised network "
          "(checks the overlap kernel's equilibrium, both protocols)", "derived", "dilution", _mc_vs_mean_field),
    Claim("hebbian.mc-vs-self-consistency",
          "Statistical mechanics and Monte Carlo agree: the Monte-Carlo magnetizations match the low-storage "
          "self-consistency (beta = 20, K = 3, M = 15, r = 0.8)", "paper", "dilution", _mc_vs_self_consistency),
    Claim("hebbian.hierarchical-to-parallel",
          "Mild dilution: the archetypes are retrieved hierarchically (distinct amplitudes); strong dilution: "
          "all with the same strength (parallel regime); checked at beta = 20, K = 3, M = 15, r = 0.8",
          "paper", "dilution", _hierarchical_to_parallel),
    Claim("hebbian.parallel-threshold",
          "At beta = 20 (K = 3, M = 15, r = 0.8) the parallel regime starts where the amplitude-splitting "
          "eigenvalue of the symmetric solution crosses 1", "derived", "dilution", _parallel_threshold),
    Claim("hebbian.supervised-equals-unsupervised",
          "In the low-storage regime the supervised and unsupervised protocols give the same multitasking "
          "magnetizations and the same thresholds", "paper", "dilution", _supervised_equals_unsupervised),
    Claim("hebbian.phase-diagram",
          "In the (d, beta) plane Monte Carlo and the stability analysis of the self-consistency agree on the "
          "retrieval state (paramagnetic, pure, hierarchical or partial hierarchy, symmetric or partially "
          "symmetric mixture, parallel) at every clear grid point", "derived", "phase", _phase_diagram),
    Claim("hebbian.multitask-learning-threshold",
          "Learning thresholds of the multitasking network (beta = 20, K = 1, 2, 3): the smallest M at which "
          "every archetype reaches 2 Phi(1) - 1 of its noiseless amplitude is the same for supervised and "
          "unsupervised learning and the self-consistency; it grows with K at hierarchical dilution (d = 0.5) "
          "and not at parallel dilution (d = 0.8)", "reconstructed", "thresholds", _multitask_threshold),
    Claim("hebbian.snr-accuracy",
          "At zero temperature the retrieved archetype is set by the example majority: accuracy "
          "P(chi_hat > 0), -> Phi(1/sqrt rho) for many examples (signal-to-noise)", "derived", "learning",
          _snr_accuracy),
    Claim("hebbian.same-learning-threshold",
          "One archetype (K = 1) at zero temperature: the learning threshold in (M, r) is the same for supervised "
          "and unsupervised learning (threshold: signal-to-noise ratio 1)", "reconstructed", "learning",
          _same_learning_threshold),
    Claim("hebbian.loss-follows-cost",
          "When the cost function (Hamiltonian) is minimised in parallel on several archetypes, the sum-squared "
          "loss on the archetypes is minimised with it", "paper", "relaxation", _loss_follows_cost),
    Claim("hebbian.same-minima",
          "The cost function's lowest minimum is the sum-squared loss's global minimum (up to the sites where "
          "three archetypes compete) in the parallel regime only: at mild dilution it lies well above the loss's "
          "minimum, so 'same minima' holds at strong dilution and fails at mild dilution (T = 0, K = 3, "
          "M = 15, r = 0.8)", "reconstructed", "minima", _same_minima),
    Claim("hebbian.finite-size-scaling",
          "The Monte-Carlo deviation from the N -> infinity self-consistency shrinks like N^(-1/2)",
          "derived", "finite_size", _finite_size),
]
