"""What produced a Dataset: parameters, seed, package versions and git revision.

The stamp contains no timestamps, so the same seed gives bit-identical Datasets.
"""

from __future__ import annotations

import functools
import hashlib
import subprocess
from pathlib import Path

import numba
import numpy as np
import xarray as xr

import theorylab
from theorylab.core.params import Params, attrs_value

PACKAGE_DIR = Path(theorylab.__file__).resolve().parent


@functools.lru_cache(maxsize=1)
def git_revision() -> str:
    """The checkout's HEAD (with '+dirty' for uncommitted changes), or 'unknown'."""
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PACKAGE_DIR, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "."],
                               cwd=PACKAGE_DIR, capture_output=True, text=True, timeout=10).stdout
        return rev + ("+dirty" if dirty.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


# Modules that read results but never shape them: editing a claim, a figure or the report must not
# throw away hours of cached simulation.  Any other module (including a new one) counts as shaping results.
READS_RESULTS_ONLY = frozenset({"claims.py", "figures.py", "reference.py",
                                "plotting.py", "pipeline.py", "registry.py", "report.py",
                                "schema.py", "store.py"})  # the cache's layout has its own FORMAT number


def _study_folder(study: str) -> Path:
    """A built-in study's folder inside the package, else the plugin package's folder."""
    if (PACKAGE_DIR / study).is_dir():
        return PACKAGE_DIR / study
    from theorylab.core import registry  # only plugins need the registry (it imports no provenance)

    return registry.package_folder(study)


@functools.lru_cache(maxsize=None)
def code_digest(study: str) -> str:
    """Hash of the source that shapes one study's results (``core`` and the study, less
    :data:`READS_RESULTS_ONLY`): a cache key part that changes with that code."""
    digest = hashlib.sha256()
    for folder in (PACKAGE_DIR / "core", _study_folder(study)):
        for path in sorted(folder.glob("*.py")):
            if path.name in READS_RESULTS_ONLY:
                continue
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def stamp(ds: xr.Dataset, *, study: str, params: Params, seed: int) -> xr.Dataset:
    """Attach provenance attrs (study, every parameter, seed, versions, git revision)."""
    ds.attrs.update({name: attrs_value(value) for name, value in params.to_dict().items()})
    ds.attrs.update({
        "study": study,
        "params_class": type(params).__name__,
        "seed": int(seed),
        "theorylab_version": theorylab.__version__,
        "git_revision": git_revision(),
        "numba_version": numba.__version__,
        "numpy_version": np.__version__,
        "xarray_version": xr.__version__,
    })
    return ds
