"""Result cache: keys, round trip, and atomic writes (an interrupted write leaves no entry)."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import xarray as xr

from theorylab.core.store import Store, cache_key, write_atomic
from theorylab.deeplinear.model import SplitParams


def _dataset(n=5):
    return xr.Dataset({"x": (("t",), np.linspace(0, 1, n))}, coords={"t": np.arange(n)},
                      attrs={"study": "toy", "values": [1.0, 2.0], "seed": 3})


def test_key_depends_on_every_part():
    p = SplitParams()
    base = cache_key("deeplinear", "e", p, 0)
    assert base == cache_key("deeplinear", "e", SplitParams(), 0)
    others = {cache_key("deeplinear", "f", p, 0), cache_key("deeplinear", "e", p, 1),
              cache_key("deeplinear", "e", p.replace(depth=4), 0)}
    assert base not in others and len(others) == 3


def test_round_trip_is_exact(tmp_path):
    store = Store(tmp_path)
    ds = _dataset()
    assert store.load("toy", "k") is None
    store.save("toy", "k", ds)
    xr.testing.assert_identical(store.load("toy", "k"), ds)


def test_cache_io_takes_no_distributed_lock_while_a_client_is_active(tmp_path, monkeypatch):
    """Under a default dask Client xarray would guard each variable with a scheduler-held lock
    (a network round trip each), which once made every cluster sweep's cache writes 5x slower."""
    from distributed import Lock

    from theorylab.core.sweep import dask_client

    def refuse(*args, **kwargs):
        raise AssertionError("a dask.distributed Lock was taken for cache I/O")

    store = Store(tmp_path)
    with dask_client(n_workers=1):
        monkeypatch.setattr(Lock, "acquire", refuse)
        store.save("toy", "k", _dataset())
        xr.testing.assert_identical(store.load("toy", "k"), _dataset())


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    store = Store(tmp_path)

    def broken(self, path, **kwargs):
        with open(path, "wb") as fh:
            fh.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", broken)
    with pytest.raises(OSError, match="disk full"):
        store.save("toy", "k", _dataset())
    assert store.load("toy", "k") is None
    assert list((tmp_path / "toy").iterdir()) == []


def test_killed_writer_leaves_no_corrupt_entry(tmp_path):
    """SIGKILL a process in the middle of writing a large entry: the entry is absent or complete."""
    script = textwrap.dedent(f"""
        import numpy as np, xarray as xr, sys
        from theorylab.core.store import Store
        ds = xr.Dataset({{"x": (("i", "j"), np.random.default_rng(0).random((4000, 4000)))}})
        print("ready", flush=True)
        Store({str(tmp_path)!r}).save("toy", "big", ds)
        print("done", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.05)  # the 128 MB write takes longer than this
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    final = tmp_path / "toy" / "big.nc"
    if final.exists():  # the write won the race: then the file must be complete
        assert Store(tmp_path).load("toy", "big").x.shape == (4000, 4000)
    else:
        assert Store(tmp_path).load("toy", "big") is None


def test_write_atomic_replaces_whole_file(tmp_path):
    path = tmp_path / "sub" / "f.txt"
    write_atomic(path, b"one")
    write_atomic(path, b"two")
    assert path.read_bytes() == b"two"
    assert [p.name for p in path.parent.iterdir()] == ["f.txt"]


def test_written_files_get_umask_permissions_not_temp_file_ones(tmp_path):
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "a.txt", b"x")
        path = Store(tmp_path).save("s", "k", xr.Dataset({"v": ("t", [1.0])}))
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644
    assert path.stat().st_mode & 0o777 == 0o644


def test_code_digest_follows_code_that_shapes_results_only(tmp_path, monkeypatch):
    """Editing a claim, figure or twin keeps the cache; editing a kernel, core or a new module does not."""
    from theorylab.core import provenance

    for name in ("core/sweep.py", "core/plotting.py", "s/kernels.py", "s/figures.py", "s/claims.py",
                 "s/reference.py"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x = 1\n")
    monkeypatch.setattr(provenance, "PACKAGE_DIR", tmp_path)

    def digest():
        provenance.code_digest.cache_clear()
        return provenance.code_digest("s")

    try:
        base = digest()
        for name in ("s/figures.py", "s/claims.py", "s/reference.py", "core/plotting.py"):
            (tmp_path / name).write_text("x = 2\n")
        assert digest() == base
        changed = []
        for name in ("s/kernels.py", "core/sweep.py", "s/generators.py"):
            (tmp_path / name).write_text("x = 3\n")
            changed.append(digest())
        assert len({base, *changed}) == 4
    finally:
        provenance.code_digest.cache_clear()
