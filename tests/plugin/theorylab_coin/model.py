"""Coin flips: validated parameters and ``simulate_flips(params, seed) -> Dataset``."""

import dataclasses

import numpy as np
import xarray as xr

from theorylab.core.params import Params, param
from theorylab.core.provenance import stamp


@dataclasses.dataclass(frozen=True)
class CoinParams(Params):
    p: float = param(0.5, "probability of heads", ge=0.0, le=1.0)
    flips: int = param(1000, "number of flips", ge=1, le=10**8)


def simulate_flips(params: CoinParams, seed: int) -> xr.Dataset:
    """Fraction of heads in ``flips`` independent flips."""
    heads = np.random.default_rng(seed).binomial(params.flips, params.p)
    ds = xr.Dataset({"fraction": ((), heads / params.flips, {"long_name": "fraction of heads"})})
    return stamp(ds, study="coin", params=params, seed=seed)
