"""Discovers studies and their experiments.

A study is a package with the modules ``model`` (simulators ``simulate_*(params, seed) ->
Dataset``, whose ``params`` annotation names the Params class), ``figures`` (functions
``Dataset -> Figure`` whose docstring is the caption) and ``claims`` (``CLAIMS``, a list of
Claim), and optionally ``PAPER`` in its ``__init__`` (the bibliography key of its paper;
studies with the same key are grouped under that paper in the report).  An experiment TOML
names the simulator, the base parameters, the sweep grid, the seeds, per-scale overrides,
figures and claims.

Two kinds of study are found:

* **built-in**: every subpackage of ``theorylab`` (except ``core`` and ``explore``), found by
  listing the package folder, so a new subpackage is picked up without reinstalling.  Their
  experiments are ``experiments/<study>/*.toml`` and their report sections
  ``paper/sections/<study>.md`` (and ``.bib``) under :func:`project_root`;
* **plugins**: packages registered under the entry-point group ``theorylab.studies``
  (``name = "package"``), or without installing by ``$THEORYLAB_STUDIES``
  (``name=package,name2=package2``, what :func:`register` sets, so that worker processes
  started afterwards see the same studies).  A plugin carries its
  experiments as package data in ``<package>/experiments/*.toml`` and its report section in
  ``<package>/section.md`` (and ``section.bib``).
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
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
ENTRY_POINT_GROUP = "theorylab.studies"
STUDIES_VARIABLE = "THEORYLAB_STUDIES"
PACKAGED_SOURCES = Path(theorylab.__file__).resolve().parent / "_sources"  # filled when a wheel is built


def project_root() -> Path:
    """Where the built-in studies' ``experiments/`` and ``paper/`` sources are.

    ``$THEORYLAB_ROOT`` if set; else the source checkout this package runs from (the folder
    holding ``theorylab/`` and ``experiments/``); else the copy an installed wheel carries
    (``theorylab/_sources``).  Outputs do not go here: they go under the CLI's ``--root``.
    """
    if "THEORYLAB_ROOT" in os.environ:
        return Path(os.environ["THEORYLAB_ROOT"])
    checkout = Path(theorylab.__file__).resolve().parent.parent
    return checkout if (checkout / "experiments").is_dir() else PACKAGED_SOURCES


def builtin_studies() -> dict[str, str]:
    """Study name -> package of every study shipped inside ``theorylab``."""
    return {m.name: f"theorylab.{m.name}" for m in pkgutil.iter_modules(theorylab.__path__)
            if m.ispkg and m.name not in NOT_STUDIES and not m.name.startswith("_")}


def _variable_studies() -> dict[str, str]:
    out = {}
    for item in filter(None, (i.strip() for i in os.environ.get(STUDIES_VARIABLE, "").split(","))):
        name, sep, package = item.partition("=")
        if not (sep and name.strip().isidentifier() and package.strip()):
            raise ValueError(f"{STUDIES_VARIABLE} must look like name=package,name2=package2 (got {item!r})")
        out[name.strip()] = package.strip()
    return out


@lru_cache(maxsize=1)
def _entry_point_studies() -> dict[str, str]:
    """Read once per process: scanning the installed distributions takes about 10 ms."""
    return {ep.name: ep.value for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def plugin_studies() -> dict[str, str]:
    """Study name -> package of every plugin study (entry points, then ``$THEORYLAB_STUDIES``)."""
    return {**_entry_point_studies(), **_variable_studies()}


def study_packages() -> dict[str, str]:
    """Study name -> importable package, built-in and plugin studies together."""
    builtin, plugins = builtin_studies(), plugin_studies()
    clash = sorted(set(builtin) & set(plugins))
    if clash:
        raise ValueError(f"plugin study name(s) {clash} clash with built-in studies; "
                         f"rename the entry point in the {ENTRY_POINT_GROUP!r} group")
    return {**builtin, **plugins}


def register(study: str, package: str) -> None:
    """Add a plugin study at run time (what an installed entry point does), e.g. in a test's conftest.

    Recorded in ``$THEORYLAB_STUDIES``, so processes started later (dask workers, the explorer's
    worker) find it too; ``package`` must be importable there (they inherit ``sys.path``).
    """
    if not study.isidentifier():
        raise ValueError(f"study must be a Python identifier (got {study!r})")
    table = {**_variable_studies(), study: package}
    os.environ[STUDIES_VARIABLE] = ",".join(f"{name}={pkg}" for name, pkg in table.items())
    _table.cache_clear()


def studies() -> list[str]:
    return sorted(study_packages())


def study_package(study: str) -> str:
    packages = study_packages()
    if study not in packages:
        raise ValueError(f"study must be one of {sorted(packages)} (got {study!r})")
    return packages[study]


def study_module(study: str, part: str):
    return importlib.import_module(f"{study_package(study)}.{part}")


def is_builtin(study: str) -> bool:
    return study in builtin_studies()


def paper_key(study: str) -> str:
    """The bibliography key of the study's paper (``PAPER`` in its ``__init__``), else the study's name."""
    return getattr(importlib.import_module(study_package(study)), "PAPER", study)


def package_folder(study: str) -> Path:
    """The folder of the study's package."""
    return Path(importlib.import_module(study_package(study)).__file__).resolve().parent


def experiments_folder(study: str, sources: Path | None = None) -> Path:
    """Where the study's experiment TOMLs are (see the module docstring)."""
    if is_builtin(study):
        return (experiments_dir() if sources is None else sources / "experiments") / study
    return package_folder(study) / "experiments"


def section_files(study: str, sources: Path | None = None) -> tuple[Path, Path]:
    """The study's report section and its bibliography (either may be missing)."""
    if is_builtin(study):
        folder = (sources or project_root()) / "paper" / "sections"
        return folder / f"{study}.md", folder / f"{study}.bib"
    folder = package_folder(study)
    return folder / "section.md", folder / "section.bib"


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
            raise ValueError(f"{self.full_name}: simulate {self.simulate!r} is not in "
                             f"{study_package(self.study)}.model")
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
                raise ValueError(f"{self.full_name}: figure {name!r} is not in {study_package(self.study)}.figures")
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
        folder = root / study if is_builtin(study) else package_folder(study) / "experiments"
        for path in sorted(folder.glob("*.toml")):
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
