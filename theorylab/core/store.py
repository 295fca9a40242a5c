"""Result cache: one verified NetCDF file per (study, experiment, params, seed, code and library versions).

Every entry records the key's inputs (``payload``: study, experiment, parameters,
seed, code digest, library versions) and a checksum of its content.  On load both
are verified: the payload must hash to the entry's own file name (an entry copied
over another key is caught) and the content must match the checksum (flipped bits
are caught).  A file that fails either check, or cannot be read at all, is moved to
``<root>/.quarantine/``, reported in one warning line and treated as missing, so
the sweep recomputes it.  Writes are atomic (a temporary file in the same folder,
then ``os.replace``): an interrupted write never leaves a partial entry behind.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import dask
import numba
import numpy as np
import scipy
import xarray as xr
from filelock import FileLock

import theorylab
from theorylab.core import interrupts
from theorylab.core.params import Params, attrs_value
from theorylab.core.provenance import code_digest

# netCDF4's C library writes a Dataset of a few dozen small variables ~6x faster than
# h5netcdf (27 vs 154 ms for a hebbian task), and the driver writes one per task.
ENGINE = "netcdf4"
FORMAT = 2                       # bump when the entry layout changes: old entries become unreachable
PAYLOAD_ATTR = "theorylab_cache_payload"
CHECKSUM_ATTR = "theorylab_cache_checksum"
SECONDS_ATTR = "theorylab_cache_seconds"
CACHE_ATTRS = (PAYLOAD_ATTR, CHECKSUM_ATTR, SECONDS_ATTR)
QUARANTINE = ".quarantine"
LOCKS = ".locks"
TIMINGS = "timings.json"
DEFAULT_ENTRY_BYTES = 1 << 20    # space to reserve per task before any entry of the experiment exists
MIN_FREE_BYTES = 64 << 20        # never fill a disk to the last byte (small disks: 5% of their size)


NO_RECORD = "no checksum or key record (written by an older version, or not by theorylab)"


class CacheError(ValueError):
    """A cache folder that cannot be used (not writable, full, a file): one line naming path and fix."""


def warn(message: str) -> None:
    """One warning line on stderr (never a traceback)."""
    print(f"theorylab: warning: {message}", file=sys.stderr, flush=True)


def default_root() -> Path:
    """``$THEORYLAB_CACHE`` if set, else ``.cache/theorylab`` under the working directory."""
    value = os.environ.get("THEORYLAB_CACHE")
    if value is None:
        return Path.cwd() / ".cache" / "theorylab"
    if not value.strip():
        raise CacheError("THEORYLAB_CACHE is set but empty; unset it (default .cache/theorylab) "
                         "or set it to a folder")
    return Path(value)


def library_versions() -> dict[str, str]:
    """Versions of the libraries whose arithmetic shapes results: an upgrade invalidates the cache."""
    return {"numpy": np.__version__, "scipy": scipy.__version__, "numba": numba.__version__}


def key_payload(study: str, experiment: str, params: Params, seed: int) -> dict[str, Any]:
    """Everything a result depends on; :func:`cache_key` is its hash and each entry stores it."""
    return {
        "format": FORMAT,
        "study": study,
        "experiment": experiment,
        "params_class": type(params).__name__,
        "params": {k: attrs_value(v) for k, v in params.to_dict().items()},
        "seed": int(seed),
        "version": theorylab.__version__,
        "code": code_digest(study),
        "libraries": library_versions(),
    }


def payload_key(payload: dict[str, Any]) -> str:
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def cache_key(study: str, experiment: str, params: Params, seed: int) -> str:
    return payload_key(key_payload(study, experiment, params, seed))


def _canonical_attr(value: Any) -> Any:
    """An attribute as NetCDF gives it back: a string, or a flat list of numbers/strings
    (a scalar and a one-element list read back alike)."""
    if isinstance(value, str):
        return value
    return np.atleast_1d(np.asarray(value)).ravel().tolist()


def checksum(ds: xr.Dataset) -> str:
    """SHA-256 of a Dataset's content (variables, dims, dtypes, values, attrs), invariant under a
    NetCDF round trip; the cache's own attributes are left out."""
    h = hashlib.sha256()

    def attrs(a: dict) -> None:
        items = {k: _canonical_attr(v) for k, v in a.items() if k not in CACHE_ATTRS}
        h.update(json.dumps(items, sort_keys=True, default=str).encode())

    attrs(ds.attrs)
    for name in sorted(map(str, ds.variables)):
        var = ds.variables[name]
        values = np.asarray(var.values)
        h.update(json.dumps([name, list(var.dims), list(values.shape), values.dtype.kind]).encode())
        attrs(var.attrs)
        if values.dtype.kind in "OUS":
            h.update(json.dumps(values.astype(str).ravel().tolist()).encode())
        else:
            if values.dtype.kind in "fc":
                values = np.where(np.isnan(values), np.nan, values)  # one NaN bit pattern
            h.update(values.dtype.str.encode())
            h.update(np.ascontiguousarray(values).tobytes())
    return h.hexdigest()


def _read(path: Path, key: str) -> tuple[xr.Dataset | None, dict, str]:
    """Read and verify one entry: (Dataset, key record, "") if sound, else (None, {}, what is wrong)."""
    try:
        if path.stat().st_size == 0:
            return None, {}, "empty file"
        with _netcdf_io(), xr.open_dataset(path, engine=ENGINE) as handle:
            ds = handle.load().drop_encoding()  # served like a fresh result: no on-disk dtypes (a
            # string variable would keep its width, and a later write of a combined result truncate to it)
    except Exception as err:  # netCDF/HDF errors come as OSError, RuntimeError, ValueError, KeyError ...
        return None, {}, f"unreadable ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})"
    stored_sum, raw_payload = ds.attrs.get(CHECKSUM_ATTR), ds.attrs.get(PAYLOAD_ATTR)
    if not isinstance(stored_sum, str) or not isinstance(raw_payload, str):
        return None, {}, NO_RECORD
    if checksum(ds) != stored_sum:
        return None, {}, "content does not match its checksum"
    try:
        payload = json.loads(raw_payload)
    except ValueError:
        return None, {}, "key record is not valid JSON"
    if payload_key(payload) != key:
        return None, {}, (f"computed for another key (study {payload.get('study')!r}, experiment "
                      f"{payload.get('experiment')!r}, seed {payload.get('seed')!r})")
    for name in CACHE_ATTRS:
        ds.attrs.pop(name, None)
    return ds, payload, ""


class Store:
    """A folder of cached Datasets addressed by :func:`cache_key`."""

    def __init__(self, root: str | os.PathLike | None = None):
        if root is not None and not str(root).strip():
            raise CacheError("the cache folder must not be empty; give a folder with --cache or use --no-cache")
        self.root = Path(root) if root is not None else default_root()

    def path(self, study: str, key: str) -> Path:
        return self.root / study / f"{key}.nc"

    def load(self, study: str, key: str) -> xr.Dataset | None:
        """The verified entry, or None if absent; a damaged or mis-keyed entry is quarantined (one warning line)."""
        path = self.path(study, key)
        if not path.exists():
            return None
        ds, _, problem = _read(path, key)
        if problem:
            self.quarantine(path, problem)
            return None
        return ds

    def save(self, study: str, key: str, ds: xr.Dataset, payload: dict[str, Any],
             seconds: float | None = None) -> Path:
        """Write ``ds`` under ``key`` with its key record and checksum; one-line CacheError if the disk refuses."""
        if payload_key(payload) != key:
            raise ValueError(f"payload does not hash to key {key}")
        extra = {PAYLOAD_ATTR: json.dumps(payload, sort_keys=True), CHECKSUM_ATTR: checksum(ds)}
        if seconds is not None:
            extra[SECONDS_ATTR] = float(seconds)
        path = self.path(study, key)
        try:
            with _netcdf_io(), atomic_path(path) as tmp:
                ds.assign_attrs(extra).to_netcdf(tmp, engine=ENGINE)
        except (OSError, RuntimeError) as err:
            raise self.write_error(path, err) from None
        return path

    def write_error(self, path: Path, err: BaseException) -> CacheError:
        """Say why a write failed in words a user can act on (netCDF reports a full disk as 'HDF error')."""
        free = _free_bytes(path.parent)
        if getattr(err, "errno", None) == errno.ENOSPC or (free is not None and free < _spare(path.parent)):
            return CacheError(f"no space left on the device holding the cache {self.root}: free space, "
                              f"choose another folder with --cache, or run with --no-cache")
        if getattr(err, "errno", None) in (errno.EACCES, errno.EPERM, errno.EROFS):
            return CacheError(f"cannot write to the cache folder {path.parent} ({err.strerror}): choose "
                              f"another folder with --cache or run with --no-cache")
        return CacheError(f"cannot write cache entry {path} ({type(err).__name__}: {err}): "
                          f"choose another folder with --cache or run with --no-cache")

    def quarantine(self, path: Path, problem: str) -> Path | None:
        """Move a bad entry out of the cache (kept for inspection), with one warning line."""
        target = self.root / QUARANTINE / path.parent.name / f"{path.stem}.{time.time_ns()}.nc"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
        except OSError:
            warn(f"cache entry {path} is damaged ({problem}) and could not be moved aside; recomputing it")
            return None
        warn(f"cache entry {path} is damaged ({problem}); moved to {target}; recomputing it")
        return target

    def lock(self, study: str, key: str) -> FileLock:
        """An inter-process lock on one key: concurrent runs of the same sweep share its tasks."""
        path = self.root / study / LOCKS / f"{key}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(path)

    # --- checks before a run --------------------------------------------------------------------

    def preflight(self, needed: dict[str, int]) -> None:
        """Check before computing that every study folder is writable and the disk has room for
        ``needed`` (study -> bytes); raise one CacheError line naming the path and the fix."""
        if self.root.exists() and not self.root.is_dir():
            raise CacheError(f"the cache path {self.root} is a file, not a folder: choose a folder "
                             f"with --cache or run with --no-cache")
        for study in needed:
            probe_writable(self.root / study, "the cache folder", "choose another folder with --cache "
                           "or run with --no-cache")
        total = sum(needed.values())
        free, spare = _free_bytes(self.root), _spare(self.root)
        if free is not None and free < total + spare:
            raise CacheError(f"not enough space for the cache at {self.root}: about {_mb(total)} needed, "
                             f"{_mb(free)} free (keeping {_mb(spare)} spare); free space, choose "
                             f"another folder with --cache, or run with --no-cache")

    # --- per-experiment timings and sizes, for estimates ----------------------------------------

    def timings(self, study: str) -> dict[str, dict[str, float]]:
        """experiment -> {"seconds": mean wall seconds per task, "cpu_seconds": mean CPU seconds per task,
        "bytes": mean entry size, "n": tasks}."""
        try:
            data = json.loads((self.root / study / TIMINGS).read_text())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def record_timings(self, study: str, experiment: str, seconds: list[float], sizes: list[int],
                       cpu: list[float] | None = None) -> None:
        """Fold measured task times (wall and CPU) and entry sizes into the study's running means (best effort)."""
        if not seconds:
            return
        data = self.timings(study)
        old = data.get(experiment, {})
        n_old = int(old.get("n", 0)) if isinstance(old, dict) else 0
        n = n_old + len(seconds)

        def mean(name: str, new: list) -> float:
            prev = float(old.get(name, 0.0)) if n_old else 0.0
            return (prev * n_old + float(sum(new))) / (n_old + len(new)) if new else prev

        data[experiment] = {"seconds": mean("seconds", seconds), "bytes": mean("bytes", sizes),
                            "cpu_seconds": mean("cpu_seconds", cpu or []), "n": n}
        with contextlib.suppress(OSError):
            write_atomic(self.root / study / TIMINGS, json.dumps(data, indent=1, sort_keys=True).encode())

    # --- maintenance: `theorylab cache verify | clean` -----------------------------------------

    def studies(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def entries(self, study: str | None = None) -> list[Path]:
        studies = [study] if study else self.studies()
        return sorted(p for s in studies for p in (self.root / s).glob("*.nc"))

    def verify(self, study: str | None = None) -> tuple[int, list[tuple[Path, str]], int]:
        """Check every entry; quarantine the bad ones.  Returns (entries checked, bad ones with the
        problem, stale ones: sound but made by other code or library versions, so never served)."""
        bad, stale, entries = [], 0, self.entries(study)
        for path in entries:
            _, payload, problem = _read(path, path.stem)
            if problem == NO_RECORD:  # an older format: never looked up again, so stale, not damaged
                stale += 1
            elif problem:
                self.quarantine(path, problem)
                bad.append((path, problem))
            elif not _is_current(path.parent.name, payload):
                stale += 1
        return len(entries), bad, stale

    def clean(self, study: str | None = None, everything: bool = False) -> dict[str, int]:
        """Delete what can never be served: quarantined files, leftover temporary files and locks, and
        entries made by other code or library versions (``everything``: every entry too)."""
        removed = {"entries": 0, "stale": 0, "quarantined": 0, "temporary": 0}
        studies = [study] if study else self.studies()
        for s in studies:
            for path in self.entries(s):
                if everything:
                    path.unlink(missing_ok=True)
                    removed["entries"] += 1
                    continue
                _, payload, problem = _read(path, path.stem)
                if problem or not _is_current(s, payload):
                    path.unlink(missing_ok=True)
                    removed["stale"] += 1
            for tmp in (self.root / s).glob(".*.tmp"):
                if time.time() - tmp.stat().st_mtime > 3600:  # a live writer finishes within the hour
                    tmp.unlink(missing_ok=True)
                    removed["temporary"] += 1
            shutil.rmtree(self.root / s / LOCKS, ignore_errors=True)
            if everything:
                (self.root / s / TIMINGS).unlink(missing_ok=True)
            q = self.root / QUARANTINE / s
            if q.is_dir():
                removed["quarantined"] += sum(1 for _ in q.iterdir())
                shutil.rmtree(q, ignore_errors=True)
        return removed


def _is_current(study: str, payload: dict) -> bool:
    """An entry this code would look up: same format, code digest, package and library versions."""
    return (payload.get("format") == FORMAT and payload.get("version") == theorylab.__version__
            and payload.get("libraries") == library_versions()
            and payload.get("code") == _safe_digest(study))


def _safe_digest(study: str) -> str | None:
    try:
        return code_digest(study)
    except (OSError, ValueError):  # a study no longer installed (e.g. a removed plugin): its entries are stale
        return None


def _existing(path: Path) -> Path:
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _free_bytes(path: Path) -> int | None:
    """Free bytes on the device holding ``path`` (or its nearest existing parent)."""
    try:
        return shutil.disk_usage(_existing(path)).free
    except OSError:
        return None


def _spare(path: Path) -> int:
    """Bytes to leave free on the device holding ``path``."""
    try:
        return min(MIN_FREE_BYTES, shutil.disk_usage(_existing(path)).total // 20)
    except OSError:
        return MIN_FREE_BYTES


def _mb(n: float) -> str:
    return f"{n / 1e6:.0f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def probe_writable(folder: Path, what: str, fix: str) -> None:
    """Create ``folder`` if needed and write then delete a probe file in it (permissions, read-only
    mounts and immutable folders all show up here); raise one CacheError line naming folder and fix."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".probe.{os.getpid()}.{uuid.uuid4().hex}"
        probe.write_bytes(b"")
        probe.unlink()
    except FileExistsError:
        raise CacheError(f"{what} {folder} is not a folder (a file is in the way): {fix}") from None
    except NotADirectoryError:
        raise CacheError(f"{what} {folder} is inside a file, not a folder: {fix}") from None
    except OSError as err:
        reason = "no space left" if err.errno == errno.ENOSPC else (err.strerror or str(err))
        raise CacheError(f"cannot write to {what} {folder} ({reason}): {fix}") from None


@contextlib.contextmanager
def _netcdf_io() -> Iterator[None]:
    """Guard NetCDF I/O: signals deferred to its end, and an in-process lock for xarray.

    A signal's exception raised inside xarray's I/O can leave its file lock held, and
    the cleanup then waits on that lock forever.  The lock is an in-process one: while a
    distributed Client is the default scheduler, xarray's write lock would be a
    scheduler-held Lock, a network round trip per variable, which made the driver's
    cache writes 5x slower during every cluster sweep.  Our Datasets live in memory
    and only this process touches the file, so a local lock is all it needs.
    """
    with interrupts.deferred(), dask.config.set(scheduler="threads"):
        yield


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed onto ``path`` if the block succeeds.

    Readers see either the old or the new file, never half of one; on any error (an
    interrupt included) the temporary file is removed.  Created with mode 0666 so the
    umask, not a temp-file default of owner-only, sets the final permissions.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write bytes to ``path`` so that readers see either the old or the new file, never half."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
