"""``theorylab new NAME``: a new study project to start from, copied from ``study_template/``.

The project is a plugin package (see :mod:`theorylab.core.registry`): the seven modules, one
experiment, a report section and tests that pass the study contract (:mod:`theorylab.testing`),
around Monte Carlo of a known expectation. Every ``__study__`` in the template's file names and
text becomes NAME.
"""

from __future__ import annotations

import importlib.util
import keyword
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent / "study_template"
TOKEN = "__study__"
SKIP = {"__pycache__", ".pytest_cache"}


def check_name(name: str) -> None:
    if not name.isidentifier() or keyword.iskeyword(name) or not name.islower() or name.startswith("_"):
        raise ValueError(f"name must be a lower-case Python identifier not starting with '_' (got {name!r})")
    from theorylab.core import registry

    if name in registry.studies():
        raise ValueError(f"name must not be an existing study (got {name!r})")
    if importlib.util.find_spec(name) is not None:
        raise ValueError(f"name must not shadow an importable module (got {name!r})")


def new_study(name: str, path: Path) -> Path:
    """Write the project ``path/name`` and return its folder; nothing is written if ``name`` is unusable."""
    check_name(name)
    project = Path(path) / name
    if project.exists():
        raise ValueError(f"--path must not already hold a folder {name!r} (got {project})")
    files = [f for f in sorted(TEMPLATE.rglob("*"))
             if f.is_file() and not SKIP & set(f.relative_to(TEMPLATE).parts)]
    for src in files:
        out = project / str(src.relative_to(TEMPLATE)).replace(TOKEN, name)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(src.read_text().replace(TOKEN, name))
    return project
