"""What a careless or unlucky user meets: interrupts, concurrent runs, progress off a terminal,
estimates, and servers that listen on loopback only."""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest
import xarray as xr

from theorylab.core import interrupts
from theorylab.core import sweep as sweep_module
from theorylab.core.store import Store
from theorylab.core.sweep import Interrupted, dask_client, plan_sweep, run_sweep, run_sweeps
from theorylab.deeplinear.model import PhaseParams, simulate_phase

BASE = PhaseParams(regime="large", n_inits=5, lr=0.005, t_final=0.5, record_dt=0.1,
                   early_window=(0.0, 0.015), late_window=(0.1, 0.015))
GRID = {"depth": [2, 3], "deficit": ["early", "late"]}
KW = dict(study="deeplinear", experiment="toy", progress=False)


def _assert_bitwise_equal(a, b):
    xr.testing.assert_identical(a, b)
    for name in a.variables:
        x, y = a[name].values, b[name].values
        if x.dtype.kind in "OUS":
            assert x.tolist() == y.tolist(), name
        else:
            assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), name


def test_interrupt_then_resume_equals_an_uninterrupted_run_bit_for_bit(tmp_path):
    store = Store(tmp_path)
    calls = []

    def interrupted_at_third(params, seed):
        calls.append(seed)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return simulate_phase(params, seed)

    with pytest.raises(Interrupted) as err:
        run_sweep(interrupted_at_third, BASE, GRID, [0, 1], store=store, **KW)
    assert (err.value.done, err.value.total) == (2, 8)
    assert err.value.line() == "interrupted: 2 of 8 tasks cached; rerun to resume"
    assert not list(tmp_path.rglob("*.tmp"))
    calls.clear()
    resumed = run_sweep(lambda p, s: calls.append(s) or simulate_phase(p, s), BASE, GRID, [0, 1],
                        store=store, **KW)
    assert len(calls) == 6
    _assert_bitwise_equal(resumed, run_sweep(simulate_phase, BASE, GRID, [0, 1], **KW))


def test_a_signal_whose_exception_was_lost_still_stops_the_sweep_at_the_next_task(tmp_path):
    """A signal's exception raised inside a destructor is printed and dropped by Python; the
    recorded signal stops the sweep anyway, before the next task, and the count is the truth."""
    store = Store(tmp_path)
    calls = []

    def signalled_during_second(params, seed):
        calls.append(seed)
        if len(calls) == 2:
            interrupts.received.append(signal.SIGINT)  # what the handler records before raising
        return simulate_phase(params, seed)

    with interrupts.handled(), pytest.raises(Interrupted) as err:
        run_sweep(signalled_during_second, BASE, GRID, [0, 1], store=store, **KW)
    assert len(calls) == 2 and (err.value.done, err.value.total) == (2, 8)
    assert len(list(tmp_path.glob("deeplinear/*.nc"))) == 2
    assert interrupts.received == []  # emptied with the command: a later sweep runs
    assert len(run_sweep(simulate_phase, BASE, GRID, [0, 1], store=store, **KW).seed) == 2


def test_a_signal_during_file_io_is_raised_when_the_io_ends_and_handlers_are_restored(tmp_path):
    """Inside a deferred section (netCDF I/O) a signal only records; the section finishes its
    write and then raises, so no xarray lock is left held; the previous handlers come back."""
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    finished = []
    with interrupts.handled() as received:
        with pytest.raises(KeyboardInterrupt):
            with interrupts.deferred():
                with interrupts.deferred():  # nested sections raise once, at the outermost end
                    os.kill(os.getpid(), signal.SIGTERM)
                    time.sleep(0.05)  # the handler runs here, in the main thread
                    finished.append("inner")
                finished.append("outer")
        assert received == [signal.SIGTERM] and finished == ["inner", "outer"]
        with pytest.raises(KeyboardInterrupt):  # outside a section the exception is immediate
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_a_task_in_this_process_finishes_on_the_first_signal_and_stops_at_once_on_the_second(capfd):
    """Raised inside a compiled kernel's call back into Python, the exception would surface as a
    SystemError traceback; so the first signal lets the task finish (one line says so) and a
    second one stops at once."""
    with interrupts.handled() as received:
        with interrupts.held("stopping after the current task"):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            assert received == [signal.SIGINT]  # still running
            with pytest.raises(KeyboardInterrupt):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)
    assert capfd.readouterr().err == ("theorylab: stopping after the current task; "
                                      "interrupt again to stop at once\n")


def test_a_command_whose_signal_was_lost_after_its_last_task_still_exits_with_the_signal_code(
        monkeypatch, capsys):
    from theorylab import cli

    def finished_then_signalled(args):
        interrupts.received.append(signal.SIGTERM)  # recorded; its exception lost in a destructor
        return 0

    monkeypatch.setattr(cli, "cmd_list", finished_then_signalled)
    assert cli.main(["list"]) == 143
    assert capsys.readouterr().err == ("theorylab: interrupted after the command had finished; "
                                       "its outputs are complete\n")
    monkeypatch.setattr(cli, "cmd_list", lambda args: 0)
    assert cli.main(["list"]) == 0  # the next command starts unsignalled


def test_stop_callback_cancels_between_tasks():
    calls = []
    with pytest.raises(sweep_module.Cancelled):
        run_sweep(lambda p, s: calls.append(s) or simulate_phase(p, s), BASE, GRID, [0, 1],
                  stop=lambda: len(calls) >= 2, **KW)
    assert len(calls) == 2


def test_plain_progress_lines_off_a_terminal(monkeypatch, capsys):
    monkeypatch.setattr(sweep_module, "PROGRESS_EVERY", 0.0)
    run_sweep(simulate_phase, BASE, GRID, [0, 1], study="deeplinear", experiment="toy", progress=True)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("deeplinear/toy: 1 of 8 tasks done") and lines[-1].startswith(
        "deeplinear/toy: 8 of 8 tasks done")


def test_long_runs_announce_an_estimate_from_measured_task_times(tmp_path, capsys):
    store = Store(tmp_path)
    run_sweep(simulate_phase, BASE, {"depth": [2]}, [0], store=store, **KW)
    timings = store.timings("deeplinear")["toy"]
    assert timings["n"] == 1 and timings["seconds"] > 0 and timings["bytes"] > 1000
    assert 0 < timings["cpu_seconds"] <= timings["seconds"] * 1.05   # the task's own thread, at most its wall time
    timings["seconds"] = 100.0  # as if each task had taken 100 s
    (tmp_path / "deeplinear" / "timings.json").write_text(json.dumps({"toy": timings}))
    sweep = plan_sweep(simulate_phase, BASE, GRID, [0, 1], study="deeplinear", experiment="toy", store=store)
    assert sweep_module.estimate([sweep], store, workers=2) == (7 * 100.0 / 2, 0)
    stops = iter([False, True])
    with pytest.raises(sweep_module.Cancelled):
        run_sweeps([sweep], store=store, progress=True, stop=lambda: next(stops, True))
    assert "estimated 12 min for 7 task(s) on 1 worker(s)" in capsys.readouterr().err


def test_no_cache_runs_and_a_full_cache_disk_stops_before_compute(tmp_path, monkeypatch):
    from theorylab.core import store as store_module
    from theorylab.core.store import CacheError

    calls = []

    def spy(params, seed):
        calls.append(seed)
        return simulate_phase(params, seed)

    monkeypatch.setattr(store_module, "_free_bytes", lambda path: 10 << 20)
    with pytest.raises(CacheError, match="not enough space for the cache"):
        run_sweep(spy, BASE, GRID, [0, 1], store=Store(tmp_path), **KW)
    assert calls == []
    assert run_sweep(spy, BASE, GRID, [0, 1], store=None, **KW).sizes["seed"] == 2


def _tmpfs(path, size):
    """Mount a small tmpfs at ``path`` (root only); None if this machine does not allow it."""
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True)
    return path if done.returncode == 0 else None


@pytest.fixture
def small_disk(tmp_path):
    disk = _tmpfs(tmp_path / "disk", "3m") if os.geteuid() == 0 else None
    if disk is None:
        pytest.skip("cannot mount a tmpfs here (not root); the mocked OSError(ENOSPC) tests cover it")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_really_full_disk_gives_one_line_and_leaves_no_partial_file(small_disk):
    """A 3 MB tmpfs: the up-front check refuses a sweep that cannot fit; if the disk fills up
    anyway (someone else writes), the write error names the disk and the fix."""
    from theorylab.core.store import CacheError

    store = Store(small_disk)
    with pytest.raises(CacheError, match="not enough space for the cache"):
        run_sweep(simulate_phase, BASE, GRID, [0, 1], store=store, **KW)
    (small_disk / "filler").write_bytes(b"x" * (3 * 2**20 - 8192))  # leave less than one entry
    store.preflight = lambda needed: None  # as if the disk filled up after the check
    with pytest.raises(CacheError, match=f"^no space left on the device holding the cache {small_disk}"):
        run_sweep(simulate_phase, BASE, {"depth": [2]}, [0], store=store, **KW)
    assert not list((small_disk / "deeplinear").glob("*.nc")) and not list(small_disk.rglob("*.tmp"))


def test_a_read_only_cache_still_serves_what_it_holds_and_refuses_new_work_up_front(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a read-only tmpfs")
    from theorylab.core.store import CacheError

    disk = _tmpfs(tmp_path / "ro", "8m")
    if disk is None:
        pytest.skip("cannot mount a tmpfs here")
    try:
        first = run_sweep(simulate_phase, BASE, {"depth": [2]}, [0], store=Store(disk), **KW)
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        again = run_sweep(lambda p, s: pytest.fail("recomputed a cached task"), BASE, {"depth": [2]}, [0],
                          store=Store(disk), **KW)
        _assert_bitwise_equal(first, again)
        with pytest.raises(CacheError, match=f"cannot write to the cache folder {disk}/deeplinear .*--no-cache"):
            run_sweep(simulate_phase, BASE, {"depth": [3]}, [0], store=Store(disk), **KW)
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


SLOW_SWEEP = textwrap.dedent("""
    import sys, time
    from theorylab.core.store import Store
    from theorylab.core.sweep import run_sweep
    from theorylab.deeplinear.model import PhaseParams, simulate_phase

    def slow(params, seed):
        with open(sys.argv[2], "a") as log:
            log.write(f"{params.depth},{seed}\\n")
        time.sleep(0.4)
        return simulate_phase(params, seed)

    base = PhaseParams(regime="large", n_inits=5, lr=0.005, t_final=0.5, record_dt=0.1,
                       early_window=(0.0, 0.015), late_window=(0.1, 0.015))
    print("start", flush=True)
    ds = run_sweep(slow, base, {"depth": [2, 3, 4, 5]}, [0, 1], study="deeplinear", experiment="toy",
                   store=Store(sys.argv[1]), progress=False)
    ds.to_netcdf(sys.argv[3])
""")


def test_two_runs_of_one_sweep_share_its_tasks(tmp_path):
    """Per-key locks: two processes started together compute each task once between them."""
    script = tmp_path / "sweep.py"
    script.write_text(SLOW_SWEEP)
    procs = [subprocess.Popen([sys.executable, str(script), str(tmp_path / "cache"), str(tmp_path / f"log{i}"),
                               str(tmp_path / f"out{i}.nc")], stdout=subprocess.PIPE, text=True)
             for i in range(2)]
    for p in procs:
        assert p.wait(timeout=300) == 0
    logs = [set((tmp_path / f"log{i}").read_text().split()) if (tmp_path / f"log{i}").exists() else set()
            for i in range(2)]
    computed = [line for i in range(2) if (tmp_path / f"log{i}").exists()
                for line in (tmp_path / f"log{i}").read_text().split()]
    assert len(computed) == 8 and len(set(computed)) == 8, logs  # every task once, none twice
    with xr.open_dataset(tmp_path / "out0.nc") as a, xr.open_dataset(tmp_path / "out1.nc") as b:
        _assert_bitwise_equal(a.load(), b.load())


def _listening(pids):
    out = []
    for pid in pids:
        try:
            out += [c.laddr for c in psutil.Process(pid).net_connections(kind="inet")
                    if c.status == psutil.CONN_LISTEN]
        except psutil.NoSuchProcess:
            pass
    return out


def test_local_cluster_scheduler_workers_and_dashboard_listen_on_loopback_only():
    me = psutil.Process()
    with dask_client(n_workers=2) as client:
        info = client.scheduler_info()
        assert client.scheduler.address.startswith("tcp://127.0.0.1:")
        assert all(w.startswith("tcp://127.0.0.1:") for w in info["workers"])
        assert "dashboard" in info["services"]
        pids = [me.pid, *(c.pid for c in me.children(recursive=True))]
        sockets = _listening(pids)
        ports = {a.port for a in sockets}
        assert info["services"]["dashboard"] in ports  # the dashboard is among the sockets checked
        assert len(sockets) >= 4 and all(a.ip == "127.0.0.1" for a in sockets), sockets


def _cli(*args):
    return [shutil.which("theorylab"), *args]


@pytest.mark.parametrize("sig, code, executor", [(signal.SIGTERM, 143, "serial"),
                                                 (signal.SIGINT, 130, "dask")])
def test_interrupted_command_says_one_line_exits_with_the_signal_code_and_resumes(tmp_path, sig, code, executor):
    """The command a user types, stopped after its first cached task: one line, no traceback, no
    temporary file, no worker left running; the rerun finishes bit-identical to an uninterrupted run
    (checked once, for the serial executor; a cluster gives the same tasks, see test_sweep)."""
    from theorylab.core import pipeline, registry

    cache = tmp_path / "cache"
    argv = _cli("run", "hebbian/thresholds", "--executor", executor, "--cache", str(cache),
                "--out", str(tmp_path / "a.nc"))
    if executor == "dask":
        argv += ["--workers", "2"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(cache.glob("hebbian/*.nc")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "the command ended before the signal could be sent"
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    lines = err.strip().splitlines()
    assert "Traceback" not in err and lines[-1].startswith("theorylab: interrupted: ")
    cached = len(list(cache.glob("hebbian/*.nc")))
    assert lines[-1].endswith(f": {cached} of 120 tasks cached; rerun to resume")
    assert not list(tmp_path.rglob("*.tmp")) and not (tmp_path / "a.nc").exists()
    psutil.wait_procs(children, timeout=10)
    assert not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children)
    if executor == "dask":
        return
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    fresh = pipeline.run_experiment(registry.experiment("hebbian/thresholds"), "quick", progress=False)
    fresh.to_netcdf(tmp_path / "b.nc")  # compared as files: NetCDF turns a one-element list attr into a scalar
    with xr.open_dataset(tmp_path / "a.nc") as resumed, xr.open_dataset(tmp_path / "b.nc") as uninterrupted:
        _assert_bitwise_equal(resumed.load(), uninterrupted.load())


def test_an_immutable_cache_folder_is_refused_up_front(tmp_path):
    """chattr +i: even root cannot write there; refused before the first task, naming the folder."""
    from theorylab.core.store import CacheError

    folder = tmp_path / "cache" / "deeplinear"
    folder.mkdir(parents=True)
    if os.geteuid() != 0 or subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode:
        pytest.skip("chattr +i needs root and a file system that supports it")
    try:
        calls = []
        with pytest.raises(CacheError, match=f"cannot write to the cache folder {folder} "
                                             r"\(Operation not permitted\).*--no-cache"):
            run_sweep(lambda p, s: calls.append(s) or simulate_phase(p, s), BASE, GRID, [0, 1],
                      store=Store(tmp_path / "cache"), **KW)
        assert calls == []
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=False)


def test_a_signal_while_the_command_loads_is_one_line_and_its_exit_code(monkeypatch, capsys):
    """Loading the libraries takes seconds; a SIGTERM meanwhile must not print an import traceback."""
    import importlib.abc

    from theorylab import __main__ as entry

    class SignalOnImport(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name == "theorylab.cli":
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)  # the handler runs here, as it would during a real import
            return None  # the normal finders load the module

    import theorylab

    # restored afterwards, module and package attribute, so other tests keep the module they imported
    monkeypatch.delitem(sys.modules, "theorylab.cli", raising=False)
    monkeypatch.delattr(theorylab, "cli", raising=False)
    monkeypatch.setattr(sys, "meta_path", [SignalOnImport(), *sys.meta_path])
    before = signal.getsignal(signal.SIGTERM)
    assert entry.main() == 143
    assert capsys.readouterr().err == "theorylab: interrupted while starting; nothing was run\n"
    assert signal.getsignal(signal.SIGTERM) == before
