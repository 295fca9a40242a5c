"""Result cache: keys, round trip, atomic writes (an interrupted write leaves no entry), and
verification: a damaged or mis-keyed entry is never served, it is set aside and recomputed."""

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import xarray as xr

from theorylab.core.store import (CacheError, Store, cache_key, checksum, key_payload, payload_key,
                                  write_atomic)
from theorylab.deeplinear.model import SplitParams


def _dataset(n=5):
    return xr.Dataset({"x": (("t",), np.linspace(0, 1, n))}, coords={"t": np.arange(n)},
                      attrs={"study": "deeplinear", "values": [1.0, 2.0], "seed": 3})


def _save(store, ds, seed=0, experiment="e"):
    """Save ``ds`` under the key of (deeplinear-like toy params, seed); return the key."""
    payload = key_payload("deeplinear", experiment, SplitParams(), seed)
    key = payload_key(payload)
    store.save("deeplinear", key, ds, payload)
    return key


def test_key_depends_on_every_part():
    p = SplitParams()
    base = cache_key("deeplinear", "e", p, 0)
    assert base == cache_key("deeplinear", "e", SplitParams(), 0)
    others = {cache_key("deeplinear", "f", p, 0), cache_key("deeplinear", "e", p, 1),
              cache_key("deeplinear", "e", p.replace(depth=4), 0)}
    assert base not in others and len(others) == 3


def test_key_includes_numerical_library_versions(monkeypatch):
    """An upgrade of numpy, scipy or numba can change results, so it must change every key."""
    import numba
    import scipy

    base = cache_key("deeplinear", "e", SplitParams(), 0)
    for module in (np, scipy, numba):
        with monkeypatch.context() as m:
            m.setattr(module, "__version__", module.__version__ + ".post1")
            assert cache_key("deeplinear", "e", SplitParams(), 0) != base


def test_round_trip_is_exact(tmp_path):
    store = Store(tmp_path)
    ds = _dataset()
    payload = key_payload("deeplinear", "e", SplitParams(), 0)
    key = payload_key(payload)
    assert store.load("deeplinear", key) is None
    store.save("deeplinear", key, ds, payload, seconds=0.5)
    xr.testing.assert_identical(store.load("deeplinear", key), ds)  # the cache's own attrs are not served


def test_a_served_entry_carries_no_file_encoding_so_a_combined_result_writes_whole(tmp_path):
    """A cached string variable read back would keep its on-disk width as an encoding; stacked
    with a longer fresh string and written out, every string would be cut to that width."""
    store = Store(tmp_path)
    short = xr.Dataset({"regime": ((), "pure")})
    served = store.load("deeplinear", _save(store, short))
    assert served.encoding == {} and all(v.encoding == {} for v in served.variables.values())
    combined = xr.concat([served, xr.Dataset({"regime": ((), "hierarchical")})], "task")
    combined.to_netcdf(tmp_path / "out.nc")
    with xr.open_dataset(tmp_path / "out.nc") as back:
        assert back.regime.values.tolist() == ["pure", "hierarchical"]


def test_checksum_is_stable_under_a_netcdf_round_trip_and_sees_every_value(tmp_path):
    ds = _dataset().assign(s=("k", np.array(["early", "late"])), n=("t", [0.0, np.nan, -np.nan, 1, 2]))
    ds.attrs["one"] = [1.5]
    path = tmp_path / "a.nc"
    ds.to_netcdf(path, engine="netcdf4")
    assert checksum(xr.load_dataset(path, engine="netcdf4")) == checksum(ds)
    changed = ds.copy(deep=True)
    changed.x.values[2] = np.nextafter(changed.x.values[2], 2)  # one ulp
    assert checksum(changed) != checksum(ds)
    assert checksum(ds.assign_attrs(seed=4)) != checksum(ds)


def _flip_data_byte(path, value):
    """Flip one bit inside the stored float ``value`` (found by its bytes in the file)."""
    raw = bytearray(path.read_bytes())
    at = raw.find(np.float64(value).tobytes())
    assert at >= 0
    raw[at + 3] ^= 0x10
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("damage", ["bit flip in a value", "truncated", "empty", "garbage",
                                    "bit flip anywhere"])
def test_damaged_entry_is_quarantined_with_one_warning_and_not_served(tmp_path, capsys, damage):
    store = Store(tmp_path)
    ds = _dataset().assign(y=("t", np.array([0.1234567, 2.5, 3.5, 4.5, 5.5])))
    key = _save(store, ds)
    path = store.path("deeplinear", key)
    raw = path.read_bytes()
    if damage == "bit flip in a value":
        _flip_data_byte(path, 0.1234567)
    elif damage == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "garbage":
        path.write_bytes(b"not a netcdf file" * 10)
    else:  # every 97th byte of the file flipped in turn: each copy is caught or still loads identical
        for at in range(0, len(raw), 97):
            bad = bytearray(raw)
            bad[at] ^= 0x01
            path.write_bytes(bytes(bad))
            got = Store(tmp_path).load("deeplinear", key)
            assert got is None or got.identical(ds), f"byte {at} flipped was served as a result"
        capsys.readouterr()
        return
    assert store.load("deeplinear", key) is None
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("theorylab: warning: cache entry") and "Traceback" not in err
    assert not path.exists()
    assert len(list((tmp_path / ".quarantine" / "deeplinear").iterdir())) == 1
    _save(store, ds)  # recomputed and stored again under the same key
    xr.testing.assert_identical(store.load("deeplinear", key), ds)


def test_entry_copied_over_another_key_is_not_served(tmp_path, capsys):
    store = Store(tmp_path)
    key0, key1 = _save(store, _dataset(), seed=0), _save(store, _dataset(7), seed=1)
    store.path("deeplinear", key0).write_bytes(store.path("deeplinear", key1).read_bytes())
    assert store.load("deeplinear", key0) is None
    assert "computed for another key" in capsys.readouterr().err
    assert store.load("deeplinear", key1) is not None


def test_entry_without_key_record_is_not_served(tmp_path, capsys):
    """A NetCDF file dropped into the cache by hand (or by an older version) carries no key record."""
    store = Store(tmp_path)
    key = cache_key("deeplinear", "e", SplitParams(), 0)
    store.path("deeplinear", key).parent.mkdir(parents=True)
    _dataset().to_netcdf(store.path("deeplinear", key))
    assert store.load("deeplinear", key) is None
    assert "no checksum or key record" in capsys.readouterr().err


def test_verify_and_clean(tmp_path, capsys):
    store = Store(tmp_path)
    good, bad = _save(store, _dataset(), seed=0), _save(store, _dataset(), seed=1)
    store.path("deeplinear", bad).write_bytes(b"")
    checked, damaged, stale = store.verify()
    assert checked == 2 and [p.stem for p, _ in damaged] == [bad] and stale == 0
    assert "theorylab: warning" in capsys.readouterr().err
    stale_payload = {**key_payload("deeplinear", "e", SplitParams(), 2), "code": "an-older-digest"}
    store.save("deeplinear", payload_key(stale_payload), _dataset(), stale_payload)
    _dataset().to_netcdf(tmp_path / "deeplinear" / f"{'0' * 32}.nc")  # an entry of an older format
    assert store.verify()[2] == 2
    removed = store.clean()
    assert removed["stale"] == 2 and removed["quarantined"] == 1
    assert [p.stem for p in store.entries()] == [good]
    assert store.clean(everything=True)["entries"] == 1 and store.entries() == []


def test_write_refused_by_a_full_disk_is_one_line_saying_so(tmp_path, monkeypatch):
    def full(self, path, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", full)
    with pytest.raises(CacheError, match="^no space left on the device holding the cache .*--no-cache"):
        _save(Store(tmp_path), _dataset())
    assert list((tmp_path / "deeplinear").iterdir()) == []


def test_netcdf_hdf_error_on_a_nearly_full_disk_is_reported_as_no_space(tmp_path, monkeypatch):
    """netCDF reports a full disk as 'NetCDF: HDF error' with no errno: the free space decides."""
    import shutil

    from theorylab.core import store as store_module

    def hdf_error(self, path, **kwargs):
        raise RuntimeError("NetCDF: HDF error")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", hdf_error)
    monkeypatch.setattr(store_module.shutil, "disk_usage",
                        lambda p: shutil._ntuple_diskusage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(CacheError, match="^no space left"):
        _save(Store(tmp_path), _dataset())


@pytest.mark.parametrize("case", ["file", "read-only", "no room"])
def test_preflight_names_the_path_and_the_fix(tmp_path, monkeypatch, case):
    root = tmp_path / "cache"
    if case == "file":
        root.write_text("x")
        message = "is a file, not a folder"
    elif case == "read-only":
        root.mkdir()

        def refuse(self, data):
            raise PermissionError(errno.EACCES, "Permission denied")

        monkeypatch.setattr(type(root), "write_bytes", refuse)
        message = "cannot write to the cache folder .*Permission denied"
    else:
        from theorylab.core import store as store_module
        monkeypatch.setattr(store_module, "_free_bytes", lambda path: 100 << 20)
        message = "not enough space for the cache .*about 200 MB needed"
    with pytest.raises(CacheError, match=message) as err:
        Store(root).preflight({"deeplinear": 200_000_000})
    assert str(root) in str(err.value) and "--cache" in str(err.value)


def test_preflight_on_a_really_read_only_folder(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes through permission bits; the mocked case above covers it")
    root = tmp_path / "ro"
    (root / "deeplinear").mkdir(parents=True)
    root.chmod(0o500)
    (root / "deeplinear").chmod(0o500)
    try:
        with pytest.raises(CacheError, match="cannot write"):
            Store(root).preflight({"deeplinear": 0})
    finally:
        (root / "deeplinear").chmod(0o700)
        root.chmod(0o700)


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
        key = _save(store, _dataset())
        xr.testing.assert_identical(store.load("deeplinear", key), _dataset())


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    store = Store(tmp_path)

    def broken(self, path, **kwargs):
        with open(path, "wb") as fh:
            fh.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", broken)
    with pytest.raises(CacheError, match="disk full"):
        _save(store, _dataset())
    assert store.entries() == []
    assert list((tmp_path / "deeplinear").iterdir()) == []


def test_killed_writer_leaves_no_corrupt_entry(tmp_path):
    """SIGKILL a process in the middle of writing a large entry: the entry is absent or complete."""
    script = textwrap.dedent(f"""
        import numpy as np, xarray as xr, sys
        from theorylab.core.store import Store, key_payload, payload_key
        from theorylab.deeplinear.model import SplitParams
        ds = xr.Dataset({{"x": (("i", "j"), np.random.default_rng(0).random((4000, 4000)))}})
        payload = key_payload("deeplinear", "big", SplitParams(), 0)
        print(payload_key(payload), flush=True)
        Store({str(tmp_path)!r}).save("deeplinear", payload_key(payload), ds, payload)
        print("done", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    key = proc.stdout.readline().strip()
    time.sleep(0.05)  # the 128 MB write takes longer than this
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    final = tmp_path / "deeplinear" / f"{key}.nc"
    if final.exists():  # the write won the race: then the file must be complete
        assert Store(tmp_path).load("deeplinear", key).x.shape == (4000, 4000)
    else:
        assert Store(tmp_path).load("deeplinear", key) is None


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
        store = Store(tmp_path)
        path = store.path("deeplinear", _save(store, xr.Dataset({"v": ("t", [1.0])})))
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
