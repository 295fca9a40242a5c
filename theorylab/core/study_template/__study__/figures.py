"""Dataset -> Figure, one function per figure; a function's docstring is the figure's caption."""

from __future__ import annotations

import xarray as xr

from theorylab.core.plotting import SEED_BAND, figure, log_axes, seed_band

from . import theory


def fig_clt_rate(ds: xr.Dataset):
    """Mean squared error of the Monte Carlo estimate of E[cos(t X)] against the number of draws n
    (markers), and the central limit theorem's Var[cos(t X)] / n (dashed). Over the independent
    runs (seeds and repeats), {band}."""
    t = float(ds.attrs["t"])
    squared = ((ds.estimate - theory.expectation(t)) ** 2).stack(run=[d for d in ds.estimate.dims if d != "n"])
    fig, ax = figure(figsize=(4.0, 3.0))
    seed_band(ax, ds.n.values, squared, dim="run", marker="o", label="Monte Carlo")
    ax.plot(ds.n.values, theory.variance(t) / ds.n.values, "k--", label="Var / n")
    log_axes(ax, xticks=ds.n.values)
    ax.set_xlabel("draws n")
    ax.set_ylabel("mean squared error")
    ax.set_title(f"t = {t:g}")
    ax.legend()
    return fig


fig_clt_rate.__doc__ = fig_clt_rate.__doc__.format(band=SEED_BAND.replace("seeds", "runs"))
