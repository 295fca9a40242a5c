"""Parameter sweeps: a grid x seeds -> independent tasks -> one labelled Dataset.

Two executors sit behind one interface: serial (in this process, ``client=None``)
and ``dask.distributed`` (pass a ``Client``; :func:`dask_client` opens one on a
local cluster, or on an existing cluster given its scheduler address).  Tasks are pure functions of
``(params, seed)``, results are put back in grid order, so both executors give
identical Datasets.  With a :class:`~theorylab.core.store.Store`, every task is
cached as soon as it finishes: an interrupted sweep resumes where it stopped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import os
from typing import Any, Callable, Iterator, Sequence

import numba
import numpy as np
import xarray as xr
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from theorylab.core.params import Params, attrs_value
from theorylab.core.store import Store, cache_key

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


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, n_workers: int | None = None) -> Iterator[Any]:
    """A ``distributed.Client``: connect to ``scheduler``, or start a local cluster.

    The local cluster has one single-threaded worker process per core.  No ``env``
    for the workers: it takes effect after they have imported Numba, which then
    refuses to compile (a fresh checkout's first run); every task runs inside
    ``single_threaded`` instead.
    """
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    n = n_workers or os.cpu_count() or 1
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        yield client


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
    """Expand (and so validate) the grid, and read every task already in ``store`` unless ``force``."""
    grid = dict(grid or {})
    tasks = make_tasks(base, grid, seeds)
    keys = [cache_key(study, experiment, t.params, t.seed) for t in tasks]
    results = [store.load(study, k) if store is not None and not force else None for k in keys]
    return Sweep(simulate, grid, list(seeds), study, experiment, tasks, keys, results)


def _execute(work: list[tuple[Sweep, Task]], client: Any) -> Iterator[tuple[Sweep, Task, xr.Dataset]]:
    """Yield (sweep, task, result) as tasks finish, in any order."""
    if client is None:
        for sweep, task in work:
            yield sweep, task, _run(sweep.simulate, task)
        return
    from distributed import as_completed

    futures = {client.submit(_run, sweep.simulate, task, pure=False): (sweep, task) for sweep, task in work}
    for future in as_completed(futures):
        yield *futures[future], future.result()


def run_sweeps(sweeps: list[Sweep], *, store: Store | None = None, client: Any = None,
               progress: bool = True) -> list[xr.Dataset]:
    """Run every missing task of every sweep and return each sweep's Dataset.

    On a cluster all tasks are submitted at once, so no experiment waits for the
    last task of another and every worker stays busy.  Each result is cached as
    soon as it arrives.
    """
    work = [(sweep, task) for sweep in sweeps for task in sweep.todo()]
    total = sum(len(sweep.tasks) for sweep in sweeps)
    desc = (f"{sweeps[0].study}/{sweeps[0].experiment}" if len(sweeps) == 1
            else f"{len(sweeps)} experiments")
    with tqdm(total=total, initial=total - len(work), desc=desc, unit="task",
              disable=None if progress else True, leave=False) as bar:  # None: tty only
        for sweep, task, ds in _execute(work, client):
            ds.attrs["experiment"] = sweep.experiment
            if store is not None:
                store.save(sweep.study, sweep.keys[task.index], ds)
            sweep.results[task.index] = ds
            bar.update()
    return [sweep.dataset() for sweep in sweeps]


def run_sweep(
    simulate: Simulator,
    base: Params,
    grid: dict[str, Sequence[Any]] | None = None,
    seeds: Sequence[int] = (0,),
    *,
    study: str,
    experiment: str,
    store: Store | None = None,
    force: bool = False,
    client: Any = None,
    progress: bool = True,
) -> xr.Dataset:
    """Run ``simulate`` over ``grid`` x ``seeds`` and combine into one Dataset.

    Dims of the result: the grid's names (in order), then ``seed``, then the
    simulator's own dims.  Cached tasks are read from ``store`` unless ``force``.
    ``client`` is a ``distributed.Client`` to run tasks on, or None to run them here.
    """
    sweep = plan_sweep(simulate, base, grid, seeds, study=study, experiment=experiment, store=store, force=force)
    return run_sweeps([sweep], store=store, client=client, progress=progress)[0]


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
