"""One figure style for the package, and atomic PNG + PDF saving."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Iterator

import matplotlib

matplotlib.use("Agg")  # figures are files; no display is assumed

import matplotlib.pyplot as plt  # noqa: E402

from theorylab.core.store import write_atomic  # noqa: E402

STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "lines.linewidth": 1.4,
    "image.cmap": "viridis",
}


@contextlib.contextmanager
def style() -> Iterator[None]:
    with plt.rc_context(STYLE):
        yield


def figure(*args, **kwargs):
    """``plt.subplots`` under the package style (use inside figure functions)."""
    with style():
        return plt.subplots(*args, layout="constrained", **kwargs)


def save_figure(fig: plt.Figure, stem: str | Path, caption: str = "") -> list[Path]:
    """Write ``stem.png`` and ``stem.pdf`` (and ``stem.txt`` with the caption), atomically."""
    stem = Path(stem)
    written = []
    for ext, meta in ((".png", {"Software": None}), (".pdf", {"CreationDate": None, "Producer": None})):
        buf = io.BytesIO()
        with style():
            fig.savefig(buf, format=ext[1:], metadata=meta)
        path = stem.with_suffix(ext)
        write_atomic(path, buf.getvalue())
        written.append(path)
    if caption:
        path = stem.with_suffix(".txt")
        write_atomic(path, (caption.strip() + "\n").encode())
        written.append(path)
    plt.close(fig)
    return written


# One convention for seed bands, stated in every caption that uses it.
SEED_BAND = "line: mean over seeds; band: mean +- 2 standard errors over seeds (about a 95% interval for the mean)"


def seed_band(ax, x, da, *, dim: str = "seed", color=None, label: str | None = None,
              ls: str = "-", marker: str | None = None, alpha: float = 0.18):
    """Draw the seed mean of ``da`` (dims ``dim`` and one more, aligned with ``x``) and the band
    mean +- 2 standard errors over ``dim``; a single seed draws the line alone. Returns the line."""
    import numpy as np

    n = da.sizes[dim]
    mean = da.mean(dim).values
    (line,) = ax.plot(x, mean, color=color, ls=ls, marker=marker, ms=3.5, label=label)
    if n > 1:
        half = 2.0 * da.std(dim, ddof=1).values / np.sqrt(n)
        ax.fill_between(x, mean - half, mean + half, color=line.get_color(), alpha=alpha, lw=0)
    return line


def log_axes(ax, *, x: bool = True, y: bool = True, base: float = 10, ybase: float | None = None,
             xticks=None, subs=(1.0,)) -> None:
    """Log scale on the chosen axes with plain-number labels (0.01, 0.1, 1, 10; never 10^-2).

    ``base`` is the x base (and the y base unless ``ybase``); ``xticks`` (e.g. the swept values)
    become the x ticks; ``subs`` are the y major ticks per decade (``(1, 2, 5)``: 0.1, 0.2, 0.5, 1)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    plain = FuncFormatter(lambda v, _: f"{v:g}")
    if x:
        ax.set_xscale("log", base=base)
        ax.xaxis.set_major_formatter(plain)
        ax.xaxis.set_minor_formatter(NullFormatter())
    if y:
        yb = base if ybase is None else ybase
        ax.set_yscale("log", base=yb)
        ax.yaxis.set_major_locator(LogLocator(base=yb, subs=subs))
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(NullFormatter())
    if xticks is not None:
        ax.set_xticks(list(xticks), [f"{v:g}" for v in xticks])
        ax.xaxis.set_minor_formatter(NullFormatter())


def ordered_colors(n: int, cmap: str = "viridis", top: float = 0.9) -> list:
    """n colours along a sequential colour map for an ordered family of curves (e.g. one per M),
    from its dark end to ``top`` (the pale end would vanish on white)."""
    colors = plt.get_cmap(cmap)
    return [colors(c / max(1, n - 1) * top) for c in range(n)]
