"""The study's public API: validated parameters and ``simulate_monte_carlo(params, seed) -> Dataset``."""

from __future__ import annotations

import dataclasses

import numpy as np
import xarray as xr

from theorylab.core.params import Params, param
from theorylab.core.provenance import stamp

from . import kernels

STUDY = "__study__"


@dataclasses.dataclass(frozen=True)
class MonteCarloParams(Params):
    t: float = param(1.0, "frequency t of the integrand cos(t X), X ~ N(0, 1)", gt=0.0, le=10.0)
    samples: tuple[int, ...] = param((10, 100, 1000), "sample sizes n at which the estimate is read",
                                     ge=1, le=10_000_000)
    repeats: int = param(100, "independent estimates at every n", ge=2, le=100_000)

    def check(self) -> None:
        if any(b <= a for a, b in zip(self.samples, self.samples[1:])):
            raise ValueError(f"samples must be strictly increasing (got {self.samples!r})")
        if self.samples[-1] * self.repeats > 10**9:
            raise ValueError(f"samples must satisfy max(samples) * repeats <= 1e9 "
                             f"(got {self.samples[-1]} * {self.repeats})")



def simulate_monte_carlo(params: MonteCarloParams, seed: int) -> xr.Dataset:
    """``repeats`` independent running means of cos(t X), read at every n in ``samples``."""
    rng = np.random.default_rng(seed)
    checkpoints = np.asarray(params.samples, dtype=np.int64)
    estimate = np.empty((params.repeats, checkpoints.size))
    for r in range(params.repeats):  # one draw of max(samples) normals at a time: memory O(n), not O(repeats n)
        estimate[r] = kernels.running_means(rng.standard_normal(checkpoints[-1]), params.t, checkpoints)
    ds = xr.Dataset(
        {"estimate": (("repeat", "n"), estimate, {"long_name": "Monte Carlo estimate of E[cos(t X)]"})},
        coords={"repeat": ("repeat", np.arange(params.repeats), {"units": "1", "long_name": "independent run"}),
                "n": ("n", checkpoints, {"units": "samples", "long_name": "number of draws"})},
    )
    return stamp(ds, study=STUDY, params=params, seed=seed)
