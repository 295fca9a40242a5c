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
