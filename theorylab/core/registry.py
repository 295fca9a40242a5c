"""Discovers studies (subpackages of ``theorylab``) and their experiments (``experiments/<study>/*.toml``).

A study package provides ``model`` (simulators ``simulate_*(params, seed) ->
Dataset``, whose ``params`` annotation names the Params class), ``figures``
(functions ``Dataset -> Figure`` whose docstring is the caption) and ``claims``
(``CLAIMS``, a list of Claim).  An experiment TOML names the simulator, the base
parameters, the sweep grid, the seeds, per-scale overrides, figures and claims.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import os
import pkgutil
import typing
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import theorylab
from theorylab.core import schema
from theorylab.core.claims import Claim
from theorylab.core.params import Params

NOT_STUDIES = {"core", "explore"}
SCALES = schema.SCALES


def project_root() -> Path:
    """``$THEORYLAB_ROOT``, else the source checkout holding ``experiments/``, else the working directory."""
    if "THEORYLAB_ROOT" in os.environ:
        return Path(os.environ["THEORYLAB_ROOT"])
    checkout = Path(theorylab.__file__).resolve().parent.parent
    return checkout if (checkout / "experiments").is_dir() else Path.cwd()


def studies() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(theorylab.__path__)
                  if m.ispkg and m.name not in NOT_STUDIES)


def study_module(study: str, part: str):
    if study not in studies():
        raise ValueError(f"study must be one of {studies()} (got {study!r})")
    return importlib.import_module(f"theorylab.{study}.{part}")


@dataclasses.dataclass(frozen=True)
class Resolved:
    """An experiment at one scale: everything a sweep needs."""

    simulate: Callable
    base: Params
    grid: dict[str, list]
    seeds: list[int]


@dataclasses.dataclass(frozen=True)
class Experiment:
    study: str
    name: str
    description: str
    simulate: str
    params: dict[str, Any]
    grid: dict[str, list]
    seeds: list[int]
    scales: dict[str, dict[str, Any]]
    figures: list[str]
    claims: list[str]

    @property
    def full_name(self) -> str:
        return f"{self.study}/{self.name}"

    def simulator(self) -> Callable:
        model = study_module(self.study, "model")
        fn = getattr(model, self.simulate, None)
        if fn is None:
            raise ValueError(f"{self.full_name}: simulate {self.simulate!r} is not in theorylab.{self.study}.model")
        return fn

    def params_class(self) -> type[Params]:
        return typing.get_type_hints(self.simulator())["params"]

    def resolve(self, scale: str, overrides: dict[str, Any] | None = None) -> Resolved:
        """Base params + scale overrides + ``overrides`` (from ``--set``); validated now."""
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES} (got {scale!r})")
        layer = self.scales.get(scale, {})
        values = {**self.params, **layer.get("params", {})}
        grid = {**self.grid, **layer.get("grid", {})}
        for key, value in (overrides or {}).items():
            grid.pop(key, None)  # a --set value pins a swept parameter
            values[key] = value
        cls = self.params_class()
        return Resolved(self.simulator(), cls.from_dict(values), grid,
                        list(layer.get("seeds", self.seeds)))

    def figure_functions(self) -> dict[str, Callable]:
        module = study_module(self.study, "figures")
        out = {}
        for name in self.figures:
            if not hasattr(module, name):
                raise ValueError(f"{self.full_name}: figure {name!r} is not in theorylab.{self.study}.figures")
            out[name] = getattr(module, name)
        return out

    def claim_objects(self) -> list[Claim]:
        known = {c.id: c for c in study_module(self.study, "claims").CLAIMS}
        missing = [c for c in self.claims if c not in known]
        if missing:
            raise ValueError(f"{self.full_name}: unknown claim id(s) {missing}")
        return [known[c] for c in self.claims]


def load_experiment(path: Path) -> Experiment:
    """Read one experiment TOML, validated by :mod:`theorylab.core.schema` (ValueError naming the file)."""
    raw = schema.load(path)
    return Experiment(
        study=raw["study"], name=Path(path).stem, description=raw["description"],
        simulate=raw["simulate"], params=raw["params"], grid=raw["grid"], seeds=raw["seeds"],
        scales=raw["scales"], figures=raw["figures"], claims=raw["claims"],
    )


EXPERIMENTS_ENV = "THEORYLAB_EXPERIMENTS"


def experiments_dir() -> Path:
    """Where experiment TOMLs are read from: ``$THEORYLAB_EXPERIMENTS`` (set by ``--experiments DIR``),
    else ``experiments/`` under the project root; it holds ``<study>/<experiment>.toml``."""
    value = os.environ.get(EXPERIMENTS_ENV)
    if value is None:
        folder = project_root() / "experiments"
        if "THEORYLAB_ROOT" in os.environ and not folder.is_dir():
            raise ValueError(f"THEORYLAB_ROOT={os.environ['THEORYLAB_ROOT']!r} has no experiments/ folder; "
                             f"point it at a project root, or give --experiments DIR")
        return folder
    folder = Path(value)
    if not value.strip() or not folder.is_dir():
        raise ValueError(f"the experiments folder {value!r} (from --experiments or {EXPERIMENTS_ENV}) is not "
                         f"a folder; it must hold <study>/<experiment>.toml files")
    return folder


@dataclasses.dataclass(frozen=True)
class Table:
    """The experiments found: the sound ones, and the broken ones with the one-line reason."""

    good: dict[str, Experiment]
    broken: dict[str, str]


@lru_cache(maxsize=None)
def _table(root: Path) -> Table:
    """Every experiment under ``root``; a broken TOML is recorded, never allowed to hide the others."""
    good, broken = {}, {}
    for study in studies():
        for path in sorted((root / study).glob("*.toml")):
            name = f"{study}/{path.stem}"
            try:
                exp = load_experiment(path)
                if exp.study != study:
                    raise ValueError(f"{path}: study = {exp.study!r} but the file is under {study!r}")
            except ValueError as err:
                broken[name] = str(err)
                continue
            good[name] = exp
    return Table(good, broken)


def _experiments(root: Path) -> dict[str, Experiment]:
    return _table(root).good


def broken_experiments(study: str | None = None) -> dict[str, str]:
    """``study/experiment`` -> why its TOML cannot be used (one line naming the file and key)."""
    broken = _table(experiments_dir()).broken
    return {k: v for k, v in broken.items() if study is None or k.split("/")[0] == study}


def experiments(study: str | None = None) -> list[Experiment]:
    """The sound experiments (of ``study``); see :func:`broken_experiments` for the others."""
    found = list(_table(experiments_dir()).good.values())
    if study is not None:
        if study not in studies():
            raise ValueError(f"study must be one of {studies()} (got {study!r})")
        found = [e for e in found if e.study == study]
    return found


def experiment(name: str) -> Experiment:
    """Look up ``study/experiment``."""
    root = experiments_dir()
    table = _table(root)
    if name in table.broken:
        raise ValueError(table.broken[name])
    if name not in table.good:
        if not table.good and not table.broken:
            raise ValueError(f"no experiment TOMLs under {root} (expected <study>/<experiment>.toml; "
                             f"point --experiments or {EXPERIMENTS_ENV} at such a folder)")
        raise ValueError(f"experiment must be one of {sorted(table.good)} (got {name!r})")
    return table.good[name]


def caption(fn: Callable) -> str:
    return inspect.getdoc(fn) or ""
