"""The law of large numbers for the coin, checked within four standard errors."""

import numpy as np

from theorylab.core.claims import Claim, fmt


def _frequency(ds):
    p, n = ds.p.values, ds.attrs["flips"] * ds.sizes["seed"]
    mean = ds.fraction.mean("seed").values
    tol = 4 * np.sqrt(p * (1 - p) / n)  # four binomial standard errors of the pooled frequency
    return fmt(mean), fmt(p), "4 standard errors", bool(np.all(np.abs(mean - p) <= tol)), ""


CLAIMS = [Claim("coin.frequency", "The fraction of heads estimates p", "derived", "flips", _frequency)]
