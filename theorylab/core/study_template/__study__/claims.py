"""The statements the study checks, evaluated on the experiment's Dataset (never simulating)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from theorylab.core.claims import Claim, fmt, loglog_slope

from . import theory

# With R independent runs, the mean of R squared standardized errors has standard error
# sqrt(2 / R) when the errors are close to normal (the central limit theorem): four of them
# bound a correct estimator's deviation except with probability about 1e-4.
Z = 4.0


def _errors(ds: xr.Dataset) -> np.ndarray:
    """(run, n) errors of the estimates against the closed form; a run is one (seed, repeat)."""
    estimate = ds.estimate.transpose(..., "n").values.reshape(-1, ds.sizes["n"])
    return estimate - theory.expectation(float(ds.attrs["t"]))


def _clt_rate(ds: xr.Dataset):
    n = ds.n.values
    squared = _errors(ds) ** 2
    fit = loglog_slope(n, squared)  # slope of log mean squared error against log n, bootstrap CI over runs
    rate = fit.slope / 2  # the RMS error's slope
    # Tolerance: the log-MSE at each n has standard error about sqrt(2 / R); over the decades of n
    # swept, the slope's is far smaller, so 0.1 is several standard errors yet rejects any rate
    # outside [-0.6, -0.4] (a bias floor flattens the slope towards 0).
    passed = abs(rate + 0.5) <= 0.1
    return (fmt(rate), "-0.5", "|slope + 0.5| <= 0.1", passed,
            f"95% bootstrap CI over runs [{fit.low / 2:.3f}, {fit.high / 2:.3f}]")


def _clt_variance(ds: xr.Dataset):
    n = ds.n.values
    standardized = _errors(ds) ** 2 * n / theory.variance(float(ds.attrs["t"]))
    ratio = standardized.mean(axis=0)  # one value per n, expected 1
    tol = Z * np.sqrt(2 / standardized.shape[0])
    passed = bool(np.all(np.abs(ratio - 1) <= tol))
    return (fmt(ratio), "1 at every n", f"+- {tol:.2g} ({Z:g} standard errors of a mean of squares)",
            passed, "n * MSE / Var[cos(t X)]")


CLAIMS = [
    Claim("__study__.clt-rate",
          "The RMS error of the Monte Carlo mean falls like n^{-1/2} (log-log slope -1/2)",
          "derived", "clt", _clt_rate),
    Claim("__study__.clt-variance",
          "n times the mean squared error equals Var[cos(t X)] = (1 + exp(-2 t^2))/2 - exp(-t^2) at every n "
          "(exact for a mean of independent draws)",
          "derived", "clt", _clt_variance),
]
