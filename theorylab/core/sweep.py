"""Parameter sweeps: a grid x seeds -> independent tasks -> one labelled Dataset.

Two executors sit behind one interface: serial (in this process, ``client=None``)
and ``dask.distributed`` (pass a ``Client``; :func:`dask_client` opens one on a
local cluster, or on an existing cluster given its scheduler address).  Tasks are pure functions of
``(params, seed)``, results are put back in grid order, so both executors give
identical Datasets.  With a :class:`~theorylab.core.store.Store`, every task is
cached as soon as it finishes: an interrupted sweep resumes where it stopped.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import itertools
import json
import logging
import os
import signal
import sys
import threading
import time
from typing import Any, Callable, Iterator, Sequence

import numba
import numpy as np
import xarray as xr
from threadpoolctl import threadpool_limits
from filelock import Timeout
from tqdm.auto import tqdm

from theorylab.core import interrupts
from theorylab.core.params import Params, attrs_value
from theorylab.core.store import DEFAULT_ENTRY_BYTES, Store, key_payload, payload_key

Simulator = Callable[[Params, int], xr.Dataset]


@dataclasses.dataclass(frozen=True)
class Task:
    """One simulation: a grid point (``coords``) and a seed."""

    index: int
    coords: tuple[tuple[str, Any], ...]
    params: Params
    seed: int


def make_tasks(base: Params, grid: dict[str, Sequence[Any]], seeds: Sequence[int]) -> list[Task]:
    """Expand the grid; every task's Params is built (hence validated) before anything runs."""
    if not seeds:
        raise ValueError("seeds must be a non-empty list of integers (got [])")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0:
            raise ValueError(f"seeds must be non-negative integers (got {s!r})")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct (got {list(seeds)})")
    for name, values in grid.items():
        if name == "seed":
            raise ValueError("grid must not contain 'seed'; list seeds separately")
        if not isinstance(values, (list, tuple)) or len(values) == 0:
            raise ValueError(f"grid[{name!r}] must be a non-empty list (got {values!r})")
        if len(set(values)) != len(values):
            raise ValueError(f"grid[{name!r}] must not repeat values (got {list(values)})")
    names = list(grid)
    tasks = []
    for index, (point, seed) in enumerate(itertools.product(
            itertools.product(*(grid[n] for n in names)), seeds)):
        coords = tuple(zip(names, point))
        tasks.append(Task(index, coords, base.replace(**dict(coords)), int(seed)))
    return tasks


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Run Numba and the BLAS/OpenMP libraries already loaded (numpy's, scipy's) single-threaded inside the block.

    A sweep's parallelism is across tasks: threads inside a task would oversubscribe
    the cores of a worker that already runs one task per core (also on external
    clusters, whose environment we do not set), and small matrix products gain
    nothing from threads anyway.  One Numba thread also fixes the order of any
    parallel reduction, so a task's result cannot depend on where it ran.
    """
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        numba.set_num_threads(previous)


def _run(simulate: Simulator, task: Task) -> xr.Dataset:
    with single_threaded():
        return simulate(task.params, task.seed)


LOCALHOST = "127.0.0.1"


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, n_workers: int | None = None,
                host: str = LOCALHOST) -> Iterator[Any]:
    """A ``distributed.Client``: connect to ``scheduler``, or start a local cluster.

    The local cluster has one single-threaded worker process per core; its scheduler,
    workers and dashboard listen on ``host`` (loopback unless asked otherwise), so
    nothing is served to the network.  No ``env`` for the workers: it takes effect
    after they have imported Numba, which then refuses to compile (a fresh
    checkout's first run); every task runs inside ``single_threaded`` instead.
    """
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler, timeout="10s") as client:
            yield client
        return
    n = n_workers or os.cpu_count() or 1
    if n < 1:
        raise ValueError(f"n_workers must be >= 1 (got {n})")
    with contextlib.ExitStack() as stack:
        stack.enter_context(_quiet_close())  # entered first, so left after the cluster has closed
        # SIGTERM while the cluster starts is held (raised inside, it left distributed half
        # started, with a traceback), then acted on once the cluster can be shut down.
        with interrupts.held(), _children_ignore_sigint():
            cluster = stack.enter_context(LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, host=host,
                dashboard_address=f"{host}:0"))
            client = stack.enter_context(Client(cluster))
        try:
            interrupts.stop_if_signalled()
            yield client
        except KeyboardInterrupt:
            quiet_dask()
            _kill_workers(cluster)  # a worker busy in a kernel would take seconds and log its cancelled task
            raise
        quiet_dask()  # for the close; _quiet_close restores the levels


def _kill_workers(cluster: Any) -> None:
    for nanny in list(getattr(cluster, "workers", {}).values()):
        with contextlib.suppress(Exception):
            os.kill(nanny.process.process.pid, signal.SIGKILL)


@contextlib.contextmanager
def _children_ignore_sigint() -> Iterator[None]:
    """Start worker processes with Ctrl-C ignored (an ignored signal stays ignored in a child,
    across exec, from its first instruction): the terminal sends SIGINT to the whole process
    group, and only the driver should handle it, by closing the cluster, rather than every
    worker printing its own traceback.  A Ctrl-C during the start (a second or two) is lost:
    blocking it in the driver's main thread instead would not keep it, since Linux hands a
    process's signal to any thread not blocking it (a BLAS thread), which then drops it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


DASK_LOGGERS = ("distributed", "tornado", "asyncio")


def quiet_dask() -> None:
    """Silence the cluster's shutdown logging (an interrupted run says what happened in one line)."""
    for name in DASK_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)


@contextlib.contextmanager
def _quiet_close() -> Iterator[None]:
    """On leaving, silence the cluster's logging while it shuts down and restore it afterwards: on a
    loaded machine a normal close logs workers that were slow to stop and then killed."""
    levels = {name: logging.getLogger(name).level for name in DASK_LOGGERS}
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


@dataclasses.dataclass
class Sweep:
    """One experiment's tasks, their cache keys, and the results found so far (None: still to run)."""

    simulate: Simulator
    grid: dict[str, Sequence[Any]]
    seeds: Sequence[int]
    study: str
    experiment: str
    tasks: list[Task]
    keys: list[str]
    results: list[xr.Dataset | None]
    payloads: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    force: bool = False                       # recompute even what the cache holds

    def todo(self) -> list[Task]:
        return [t for t in self.tasks if self.results[t.index] is None]

    def dataset(self) -> xr.Dataset:
        return combine(self.tasks, self.results, self.grid, self.seeds, self.experiment)


def plan_sweep(
    simulate: Simulator,
    base: Params,
    grid: dict[str, Sequence[Any]] | None = None,
    seeds: Sequence[int] = (0,),
    *,
    study: str,
    experiment: str,
    store: Store | None = None,
    force: bool = False,
) -> Sweep:
    """Expand (and so validate) the grid, and read every task already in ``store`` unless ``force``.

    Every entry read is verified; a damaged one is set aside and its task left to run.
    """
    grid = dict(grid or {})
    tasks = make_tasks(base, grid, seeds)
    payloads = [key_payload(study, experiment, t.params, t.seed) for t in tasks]
    keys = [payload_key(p) for p in payloads]
    results = [store.load(study, k) if store is not None and not force else None for k in keys]
    return Sweep(simulate, grid, list(seeds), study, experiment, tasks, keys, results, payloads, force)


class Interrupted(KeyboardInterrupt):
    """A sweep stopped by Ctrl-C or SIGTERM; every finished task is already cached."""

    def __init__(self, done: int, total: int, cached: bool):
        super().__init__(done, total, cached)
        self.done, self.total, self.cached = done, total, cached

    def line(self) -> str:
        if self.cached:
            return f"interrupted: {self.done} of {self.total} tasks cached; rerun to resume"
        return f"interrupted: {self.done} of {self.total} tasks done, none kept (no cache)"


class Cancelled(Exception):
    """A sweep stopped because its ``stop`` callback said so (a newer request replaces it)."""


# --- executing tasks ---------------------------------------------------------------------------

def _timed_run(simulate: Simulator, task: Task) -> tuple[xr.Dataset, float, float]:
    """(result, wall seconds, CPU seconds of the running thread: the task's own work, without
    the time it waited for a core on a shared machine)."""
    start, cpu = time.perf_counter(), time.thread_time()
    ds = _run(simulate, task)
    return ds, time.perf_counter() - start, time.thread_time() - cpu


class _Claims:
    """Per-key file locks held by this process: a task whose lock another run holds is left to it,
    and read from the cache once that run has written it."""

    def __init__(self, store: Store | None):
        self.store, self.held = store, {}

    def take(self, sweep: Sweep, task: Task, wait: bool) -> bool:
        if self.store is None:
            return True
        lock = self.store.lock(sweep.study, sweep.keys[task.index])
        try:
            lock.acquire(timeout=-1 if wait else 0)
        except Timeout:
            return False
        self.held[(id(sweep), task.index)] = lock
        return True

    def cached(self, sweep: Sweep, task: Task) -> xr.Dataset | None:
        """The entry, if another run wrote it since this sweep was planned."""
        return None if self.store is None else self.store.load(sweep.study, sweep.keys[task.index])

    def release(self, sweep: Sweep, task: Task) -> None:
        lock = self.held.pop((id(sweep), task.index), None)
        if lock is not None:
            lock.release()

    def release_all(self) -> None:
        for lock in self.held.values():
            lock.release()
        self.held.clear()


# wall and CPU seconds are None for a result another run cached
Done = tuple[Sweep, Task, xr.Dataset, "float | None", "float | None"]


def _execute(work: list[tuple[Sweep, Task]], client: Any, claims: _Claims,
             stop: Callable[[], bool] | None) -> Iterator[Done]:
    """Yield (sweep, task, result, wall seconds, CPU seconds) as tasks finish, in any order.

    A task is run only while this process holds its key's lock.  On a cluster at most
    a few tasks per worker are in flight, so a run holds few locks and a second run of
    the same sweep takes the rest; tasks locked elsewhere are waited for at the end.
    """
    pending, deferred = collections.deque(work), []
    window = 1 if client is None else 2 * max(len(client.scheduler_info()["workers"]), 1) + 2
    inflight: dict[Any, tuple[Sweep, Task]] = {}
    if client is not None:
        from distributed import as_completed
        finished = as_completed()
    wait = False
    try:
        while pending or inflight or deferred:
            if not pending and not inflight:
                pending, deferred, wait = collections.deque(deferred), [], True
            while pending and len(inflight) < window:
                if stop is not None and stop():
                    raise Cancelled()
                interrupts.stop_if_signalled()
                sweep, task = pending.popleft()
                if not claims.take(sweep, task, wait):
                    deferred.append((sweep, task))
                    continue
                ds = None if sweep.force else claims.cached(sweep, task)
                if ds is not None:
                    yield sweep, task, ds, None, None
                    claims.release(sweep, task)
                elif client is None:
                    with interrupts.held("stopping after the current task"):
                        outcome = _timed_run(sweep.simulate, task)
                    yield sweep, task, *outcome
                    claims.release(sweep, task)
                else:
                    future = client.submit(_timed_run, sweep.simulate, task, pure=False)
                    inflight[future] = (sweep, task)
                    finished.add(future)
            if inflight:
                future = next(finished)
                sweep, task = inflight.pop(future)
                yield sweep, task, *future.result()
                claims.release(sweep, task)
    finally:  # futures still in flight are released with the client (cancelling them only adds log noise)
        claims.release_all()


# --- estimates and progress --------------------------------------------------------------------

ESTIMATE_THRESHOLD = 60.0   # seconds: longer runs announce their estimated duration first
PROGRESS_EVERY = 5.0        # seconds between plain progress lines when stderr is not a terminal


def estimate(sweeps: list[Sweep], store: Store | None, workers: int) -> tuple[float, int]:
    """(estimated seconds for the missing tasks, number of them without a measured time), from the
    mean per-task times the cache keeps per experiment."""
    seconds, unknown = 0.0, 0
    for sweep in sweeps:
        n = len(sweep.todo())
        per_task = (store.timings(sweep.study).get(sweep.experiment, {}) if store else {}).get("seconds")
        if per_task is None:
            unknown += n
        else:
            seconds += n * float(per_task)
    return seconds / max(workers, 1), unknown


def space_needed(sweeps: list[Sweep], store: Store) -> dict[str, int]:
    """study -> bytes the missing tasks will take in the cache (measured mean entry size, else 1 MB)."""
    needed: dict[str, int] = {}
    for sweep in sweeps:
        size = store.timings(sweep.study).get(sweep.experiment, {}).get("bytes") or DEFAULT_ENTRY_BYTES
        needed[sweep.study] = needed.get(sweep.study, 0) + int(len(sweep.todo()) * float(size))
    return needed


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class _Progress:
    """A tqdm bar on a terminal; otherwise one plain line every PROGRESS_EVERY seconds."""

    def __init__(self, desc: str, total: int, initial: int, enabled: bool):
        self.desc, self.total, self.done = desc, total, initial
        self.start = self.last = time.monotonic()
        self.initial = initial
        self.bar = None
        self.plain = enabled and not sys.stderr.isatty()
        if enabled and not self.plain:
            self.bar = tqdm(total=total, initial=initial, desc=desc, unit="task", leave=False)

    def update(self) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update()
        elif self.plain and time.monotonic() - self.last >= PROGRESS_EVERY:
            self.last = time.monotonic()
            elapsed = self.last - self.start
            rate = (self.done - self.initial) / elapsed if elapsed > 0 else 0
            left = f", about {_duration((self.total - self.done) / rate)} left" if rate > 0 else ""
            print(f"{self.desc}: {self.done} of {self.total} tasks done, {_duration(elapsed)} elapsed{left}",
                  file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_sweeps(sweeps: list[Sweep], *, store: Store | None = None, client: Any = None,
               progress: bool = True, stop: Callable[[], bool] | None = None) -> list[xr.Dataset]:
    """Run every missing task of every sweep and return each sweep's Dataset.

    On a cluster tasks of all sweeps are queued together, so no experiment waits for
    the last task of another and every worker stays busy.  Each result is cached as
    soon as it arrives, under a per-key lock shared with any other run of the same
    sweep.  Before computing, the cache is checked for room and writability; a run
    estimated to take longer than ESTIMATE_THRESHOLD says so first.  Ctrl-C (or
    SIGTERM turned into KeyboardInterrupt) raises :class:`Interrupted`, which counts
    what is cached; ``stop()`` returning True between tasks raises :class:`Cancelled`.
    """
    work = longest_first([(sweep, task) for sweep in sweeps for task in sweep.todo()], store)
    total = sum(len(sweep.tasks) for sweep in sweeps)
    if work and store is not None:
        store.preflight(space_needed(sweeps, store))
    workers = 1 if client is None else max(len(client.scheduler_info()["workers"]), 1)
    if work and progress:
        seconds, unknown = estimate(sweeps, store, workers)
        if seconds > ESTIMATE_THRESHOLD:
            more = f" (plus {unknown} task(s) never timed)" if unknown else ""
            print(f"estimated {_duration(seconds)}{more} for {len(work)} task(s) on {workers} worker(s), "
                  f"from the per-task times measured in earlier runs", file=sys.stderr, flush=True)
    desc = (f"{sweeps[0].study}/{sweeps[0].experiment}" if len(sweeps) == 1
            else f"{len(sweeps)} experiments")
    bar = _Progress(desc, total, total - len(work), progress and bool(work))
    times: dict[int, tuple[list[float], list[int], list[float]]] = {id(s): ([], [], []) for s in sweeps}
    busy, cpu_total, start = 0.0, 0.0, time.monotonic()
    try:
        for sweep, task, ds, seconds, cpu in _execute(work, client, _Claims(store), stop):
            ds.attrs["experiment"] = sweep.experiment
            busy += seconds or 0.0
            cpu_total += cpu or 0.0
            with interrupts.deferred():  # a signal waits until the result is cached and counted
                if store is not None and seconds is not None:
                    path = store.save(sweep.study, sweep.keys[task.index], ds, sweep.payloads[task.index],
                                      seconds)
                    times[id(sweep)][0].append(seconds)
                    times[id(sweep)][1].append(path.stat().st_size)
                    times[id(sweep)][2].append(cpu)
                sweep.results[task.index] = ds
            bar.update()
            interrupts.stop_if_signalled()
    except KeyboardInterrupt:
        done = sum(r is not None for sweep in sweeps for r in sweep.results)
        raise Interrupted(done, total, store is not None) from None
    finally:
        bar.close()
        if store is not None:
            for sweep in sweeps:
                store.record_timings(sweep.study, sweep.experiment, *times[id(sweep)])
    if work and progress and client is not None:
        print(busy_line(busy, cpu_total, time.monotonic() - start, workers), file=sys.stderr, flush=True)
    return [sweep.dataset() for sweep in sweeps]


def longest_first(work: list[tuple[Sweep, Task]], store: Store | None) -> list[tuple[Sweep, Task]]:
    """Tasks in decreasing order of their experiment's measured mean task time, never-timed
    experiments first (they may be the longest); stable, so grid order holds within an experiment.

    Starting the long tasks first keeps every worker busy to the end instead of leaving one
    worker on a long last task while the others idle.
    """
    if store is None:
        return work
    means: dict[tuple[str, str], float] = {}
    for sweep, _ in work:
        key = (sweep.study, sweep.experiment)
        if key not in means:
            seconds = store.timings(sweep.study).get(sweep.experiment, {}).get("seconds")
            means[key] = float("inf") if seconds is None else float(seconds)
    return sorted(work, key=lambda item: -means[(item[0].study, item[0].experiment)])


def busy_line(busy: float, cpu: float, wall: float, workers: int) -> str:
    """How much of the run's wall time the workers spent in tasks (the rest is idle or overhead),
    and the CPU seconds the tasks used (below the task-seconds when the machine is shared)."""
    share = busy / (wall * workers) if wall > 0 else 0.0
    return (f"workers busy {share:.0%} of the wall time ({busy:.0f} task-seconds, {cpu:.0f} CPU-s, "
            f"in {wall:.0f} s on {workers} worker(s); idle {1 - share:.0%})")


def run_sweep(
    simulate: Simulator,
    base: Params,
    grid: dict[str, Sequence[Any]] | None = None,
    seeds: Sequence[int] = (0,),
    *,
    client: Any = None,
    progress: bool = True,
    stop: Callable[[], bool] | None = None,
    **plan: Any,
) -> xr.Dataset:
    """Run ``simulate`` over ``grid`` x ``seeds`` and combine into one Dataset.

    ``plan`` holds the keywords of :func:`plan_sweep` (``study``, ``experiment``, ``store``, ``force``).
    Dims of the result: the grid's names (in order), then ``seed``, then the
    simulator's own dims.  Cached tasks are read from ``store`` unless ``force``.
    ``client`` is a ``distributed.Client`` to run tasks on, or None to run them here.
    """
    sweep = plan_sweep(simulate, base, grid, seeds, **plan)
    return run_sweeps([sweep], store=plan.get("store"), client=client, progress=progress, stop=stop)[0]


def combine(tasks: list[Task], results: list[xr.Dataset], grid: dict[str, Sequence[Any]],
            seeds: Sequence[int], experiment: str) -> xr.Dataset:
    """Stack per-task Datasets into the grid's hypercube (grid dims first, then seed)."""
    dims = [*grid, "seed"]
    labelled = []
    for task, ds in zip(tasks, results):
        point = dict(task.coords, seed=task.seed)
        labelled.append(ds.expand_dims({d: [point[d]] for d in dims}))
    shape = [len(grid[n]) for n in grid] + [len(seeds)]
    nested = np.empty(shape, dtype=object)
    for i, ds in enumerate(labelled):
        nested[np.unravel_index(i, shape)] = ds
    combined = xr.combine_nested(nested.tolist(), concat_dim=dims, combine_attrs="drop_conflicts",
                                coords="different", compat="equals", join="exact")
    for name in grid:
        combined.attrs.pop(name, None)
    combined.attrs.pop("seed", None)
    combined.attrs.update({
        "experiment": experiment,
        "grid": json.dumps({k: [attrs_value(v) for v in vals] for k, vals in grid.items()}),
        "seeds": [int(s) for s in seeds],
    })
    return combined
