"""Claims: a paper's statements as checks evaluated on result Datasets.

A :class:`Claim` reads the Dataset of one experiment and returns a
:class:`ClaimResult` with what was measured, what was expected, the tolerance
and why that tolerance.  ``source`` says how much the statement can be trusted:
``paper`` (verified in the paper's text or figure captions), ``derived``
(follows provably from the model), ``reconstructed`` (our reading of
unverified material).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import numpy as np
import xarray as xr

SOURCES = ("paper", "derived", "reconstructed")


@dataclasses.dataclass(frozen=True)
class ClaimResult:
    claim_id: str
    measured: str
    expected: str
    tolerance: str
    passed: bool
    detail: str = ""


@dataclasses.dataclass(frozen=True)
class Claim:
    """A checkable statement.  ``check(ds)`` returns ``(measured, expected, tolerance, passed, detail)``."""

    id: str
    statement: str
    source: str
    experiment: str
    check: Callable[[xr.Dataset], tuple[str, str, str, bool, str]]

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES} (got {self.source!r})")

    def evaluate(self, ds: xr.Dataset) -> ClaimResult:
        measured, expected, tolerance, passed, detail = self.check(ds)
        return ClaimResult(self.id, measured, expected, tolerance, bool(passed), detail)


# --- statistics helpers -------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Slope:
    slope: float
    low: float
    high: float


def loglog_slope(x: Sequence[float], y: np.ndarray, *, n_boot: int = 2000, level: float = 0.95,
                 seed: int = 0) -> Slope:
    """Least-squares slope of log y on log x with a bootstrap CI over replicates.

    ``y`` has shape ``(len(x),)`` or ``(n_replicates, len(x))``; replicates (seeds)
    are resampled with replacement and the slope of the mean curve refitted.
    """
    lx = np.log(np.asarray(x, dtype=float))
    y = np.atleast_2d(np.asarray(y, dtype=float))
    if y.shape[1] != lx.size:
        raise ValueError(f"y must have {lx.size} columns (got shape {y.shape})")
    if np.any(y <= 0):
        raise ValueError("y must be positive for a log-log slope")

    def fit(curve: np.ndarray) -> float:
        return float(np.polyfit(lx, np.log(curve), 1)[0])

    point = fit(y.mean(axis=0))
    if y.shape[0] == 1:
        return Slope(point, point, point)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, y.shape[0], size=(n_boot, y.shape[0]))
    boots = np.array([fit(y[p].mean(axis=0)) for p in picks])
    alpha = (1 - level) / 2
    return Slope(point, float(np.quantile(boots, alpha)), float(np.quantile(boots, 1 - alpha)))


def is_monotone(values: Sequence[float], *, increasing: bool, strict: bool = True) -> bool:
    d = np.diff(np.asarray(values, dtype=float))
    if not increasing:
        d = -d
    return bool(np.all(d > 0) if strict else np.all(d >= 0))


def within(measured: float | np.ndarray, target: float | np.ndarray, *, atol: float = 0.0,
           rtol: float = 0.0) -> bool:
    """``|measured - target| <= atol + rtol * |target|`` elementwise, all true."""
    m, t = np.asarray(measured, dtype=float), np.asarray(target, dtype=float)
    return bool(np.all(np.abs(m - t) <= atol + rtol * np.abs(t)))


def ratio(a: float, b: float) -> float:
    if b == 0:
        raise ValueError("ratio denominator must be non-zero")
    return float(a) / float(b)


def fmt(values: float | Sequence[float], digits: int = 3) -> str:
    """Compact formatting of a number or a short sequence for claim tables."""
    arr = np.atleast_1d(np.asarray(values, dtype=float))
    text = ", ".join(f"{v:.{digits}g}" for v in arr)
    return text if arr.size == 1 else f"[{text}]"
