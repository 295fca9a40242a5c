"""Scale-out on a real dask.distributed cluster: a `dask scheduler` and two `dask worker` processes on
127.0.0.1, started here exactly as the README tells a user to start them on a cluster.

Checks: the sweep gives the serial result bit for bit; a worker killed mid-sweep (SIGKILL, no nanny to
restart it) loses nothing: the scheduler reruns its tasks on the survivor and every task lands in the cache.
"""

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from theorylab.core.store import Store
from theorylab.core.sweep import dask_client, run_sweep
from theorylab.deeplinear.model import PhaseParams, simulate_phase

# ~0.3 s per task (many small gradient steps), 18 tasks: long enough to kill a worker mid-sweep
BASE = PhaseParams(regime="large", n_inits=100, lr=2e-5, t_final=2.0, record_dt=0.1,
                   early_window=(0.0, 0.015), late_window=(0.1, 0.015))
GRID = {"depth": [2, 3, 4], "deficit": ["early", "late"]}
SEEDS = [0, 1, 2]
N_TASKS = 18


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], log: Path) -> subprocess.Popen:
    # the workers' environment is not set: every task limits its own threads
    with open(log, "wb") as fh:
        return subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT)


@pytest.fixture
def cluster(tmp_path):
    """(scheduler address, worker processes) of a fresh local cluster started from the command line."""
    address = f"tcp://127.0.0.1:{_free_port()}"
    procs = [_start(["dask", "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
                     "--no-dashboard"], tmp_path / "scheduler.log")]
    workers = [_start(["dask", "worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                       "--name", f"w{i}", "--memory-limit", "2GiB"], tmp_path / f"worker{i}.log")
               for i in range(2)]
    procs += workers
    try:
        yield address, workers
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def _wait_for_workers(client, n: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while len(client.scheduler_info()["workers"]) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{n} dask workers did not connect within {timeout:.0f} s")
        time.sleep(0.2)


def _sweep(**kwargs) -> xr.Dataset:
    return run_sweep(simulate_phase, BASE, GRID, SEEDS, study="deeplinear", experiment="scaleout",
                     progress=False, **kwargs)


def test_external_cluster_equals_serial_and_survives_a_killed_worker(cluster, tmp_path):
    address, workers = cluster
    serial = _sweep()
    store = Store(tmp_path / "cache")
    cached = lambda: len(list((store.root / "deeplinear").glob("*.nc")))  # noqa: E731

    with dask_client(address) as client:
        _wait_for_workers(client, 2)
        result: dict = {}
        thread = threading.Thread(target=lambda: result.update(ds=_sweep(client=client, store=store)))
        thread.start()
        deadline = time.monotonic() + 120
        while cached() < 2 and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        done_at_kill = cached()
        os.kill(workers[0].pid, signal.SIGKILL)
        thread.join(timeout=300)
        assert not thread.is_alive(), "the sweep did not finish after a worker was killed"
        survivors = len(client.scheduler_info()["workers"])

    assert 0 < done_at_kill < N_TASKS, f"the worker was not killed mid-sweep ({done_at_kill} tasks done)"
    assert workers[0].wait(timeout=10) == -signal.SIGKILL and survivors == 1
    assert cached() == N_TASKS  # nothing lost: every task's result reached the cache
    parallel = result["ds"]
    xr.testing.assert_identical(serial, parallel)
    for name in serial.data_vars:
        np.testing.assert_array_equal(serial[name].values, parallel[name].values)
    # a rerun is served from the cache alone, with no cluster at all
    xr.testing.assert_identical(_sweep(store=store), parallel)
