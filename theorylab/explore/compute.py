"""What the explorer computes for one page state, in a worker process.

A :class:`Job` is one experiment at one scale with ``--set``-style overrides and,
optionally, a single seed.  :func:`run` goes through the pipeline the CLI uses
(``run_experiment`` with a Store), then renders the study's own figures and
evaluates its own claims on the result.  It returns plain data (PNG bytes and
strings), so the page process never holds the GIL for simulation or drawing, and
the worker can run anything a study adds without the page knowing about it.
"""

from __future__ import annotations

import dataclasses
import io
import os
import time
from pathlib import Path
from typing import Any

import xarray as xr

from theorylab.core import pipeline, registry
from theorylab.core.store import Store, cache_key
from theorylab.core.sweep import make_tasks

FIGURE_DPI = 150  # shown at 100 px per inch: sharp on high-density screens

_ran: set[str] = set()  # experiments this process has run: their kernels are compiled


@dataclasses.dataclass(frozen=True)
class Job:
    experiment: str                                   # "study/experiment"
    scale: str = "quick"
    overrides: tuple[tuple[str, Any], ...] = ()       # (name, value) pairs, as from --set
    seed: int | None = None                           # run this seed only (None: the scale's seeds)
    cache: str | None = None                          # Store root (None: the CLI's default)

    def experiment_object(self) -> registry.Experiment:
        exp = registry.experiment(self.experiment)
        if self.seed is None:
            return exp
        # run_experiment has no seeds argument: narrow the experiment's seed list instead.
        # Cache keys do not depend on the list, so one-seed runs share the sweep's cache.
        layer = {**exp.scales.get(self.scale, {}), "seeds": [self.seed]}
        return dataclasses.replace(exp, seeds=[self.seed], scales={**exp.scales, self.scale: layer})

    def store(self) -> Store:
        return Store(self.cache)

    def cache_files(self) -> list[Path]:
        """Validate every task (ValueError on bad values) and list the cache file each one fills."""
        exp = self.experiment_object()
        pipeline.validate(exp, self.scale, dict(self.overrides))
        resolved = exp.resolve(self.scale, dict(self.overrides))
        store = self.store()
        return [store.path(exp.study, cache_key(exp.study, exp.name, t.params, t.seed))
                for t in make_tasks(resolved.base, resolved.grid, resolved.seeds)]

    def command(self) -> str:
        """The same run from the command line (all of the scale's seeds)."""
        sets = "".join(f" --set {k}={','.join(map(str, v)) if isinstance(v, tuple) else v}"
                       for k, v in self.overrides)
        return f"theorylab run {self.experiment} --scale {self.scale}{sets}"


@dataclasses.dataclass(frozen=True)
class FigureResult:
    name: str
    caption: str
    png: bytes | None
    width: int = 0                                    # display width in CSS pixels
    error: str = ""


@dataclasses.dataclass(frozen=True)
class VerdictResult:
    claim_id: str
    source: str
    statement: str
    measured: str = ""
    expected: str = ""
    tolerance: str = ""
    passed: bool | None = None                        # None: the claim cannot be evaluated here
    detail: str = ""


@dataclasses.dataclass(frozen=True)
class Outcome:
    job: Job
    figures: list[FigureResult]
    verdicts: list[VerdictResult]
    tasks: int
    seconds: float
    warm: bool                                        # False: this run may have compiled kernels


def message(err: BaseException) -> str:
    """An exception as one line for the page (never a traceback)."""
    return str(err) if isinstance(err, ValueError) else f"{type(err).__name__}: {err}"


def _render(name: str, fn, ds: xr.Dataset) -> FigureResult:
    from matplotlib import pyplot as plt

    from theorylab.core.plotting import style

    caption = registry.caption(fn)
    try:
        fig = fn(ds)
    except Exception as err:  # a figure may need more grid points than one
        return FigureResult(name, caption, None, error=message(err))
    buf = io.BytesIO()
    try:
        with style():
            fig.savefig(buf, format="png", dpi=FIGURE_DPI)
    finally:
        plt.close(fig)
    width = int.from_bytes(buf.getvalue()[16:20], "big")  # from the PNG header
    return FigureResult(name, caption, buf.getvalue(), round(width * 100 / FIGURE_DPI))


def _restore_pinned(ds: xr.Dataset, exp: registry.Experiment, resolved: registry.Resolved,
                    scale: str) -> xr.Dataset:
    """Give a pinned swept parameter its dimension back (length 1), so that figure functions
    which select along it still work on one grid point."""
    grid = list(exp.resolve(scale).grid)
    pinned = {name: [getattr(resolved.base, name)] for name in grid if name not in resolved.grid}
    if not pinned:
        return ds
    return ds.expand_dims(pinned).transpose(*grid, "seed", ..., missing_dims="ignore")


def run(job: Job, cancel: str | None = None) -> Outcome:
    """Run ``job``; if the file ``cancel`` appears, stop before the next task (raises
    :class:`~theorylab.core.sweep.Cancelled`), so a newer request gets the worker."""
    start = time.perf_counter()
    warm = job.experiment in _ran
    exp = job.experiment_object()
    overrides = dict(job.overrides)
    resolved = exp.resolve(job.scale, overrides)
    stop = (lambda: os.path.exists(cancel)) if cancel else None
    ds = pipeline.run_experiment(exp, job.scale, overrides=overrides, store=job.store(), progress=False,
                                 stop=stop)
    ds = _restore_pinned(ds, exp, resolved, job.scale)
    tasks = len(make_tasks(resolved.base, resolved.grid, resolved.seeds))
    figures = [_render(name, fn, ds) for name, fn in exp.figure_functions().items()]
    verdicts = []
    for claim in exp.claim_objects():
        head = (claim.id, claim.source, claim.statement)
        try:
            r = claim.evaluate(ds)
            verdicts.append(VerdictResult(*head, r.measured, r.expected, r.tolerance, r.passed, r.detail))
        except Exception as err:  # likewise a claim about a trend
            verdicts.append(VerdictResult(*head, detail=message(err)))
    _ran.add(job.experiment)
    return Outcome(job, figures, verdicts, tasks, time.perf_counter() - start, warm)
