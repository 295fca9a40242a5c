"""Figures of the coin study."""

from theorylab.core.plotting import figure


def fig_frequency(ds):
    """Fraction of heads against the coin's bias p, one marker per seed."""
    fig, ax = figure(figsize=(3, 2.5))
    for seed in ds.seed.values:
        ax.plot(ds.p.values, ds.fraction.sel(seed=seed).values, "o", color="C0")
    ax.plot([0, 1], [0, 1], "k--")
    ax.set_xlabel("p")
    ax.set_ylabel("fraction of heads")
    return fig
