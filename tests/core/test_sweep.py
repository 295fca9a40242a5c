"""Sweeps: grid layout, validation before compute, caching and resume, serial == dask."""

import numpy as np
import pytest
import xarray as xr

from theorylab.core.store import Store
from theorylab.core.sweep import dask_client, make_tasks, run_sweep
from theorylab.deeplinear.model import PhaseParams, simulate_phase

# a small random simulator: the seed changes the initial conditions
BASE = PhaseParams(regime="large", n_inits=5, lr=0.005, t_final=0.5, record_dt=0.1,
                   early_window=(0.0, 0.015), late_window=(0.1, 0.015))
GRID = {"depth": [2, 3], "deficit": ["early", "late"]}


def _sweep(**kwargs):
    return run_sweep(simulate_phase, BASE, GRID, [0, 1], study="deeplinear", experiment="toy",
                     progress=False, **kwargs)


def test_layout_grid_then_seed_then_own_dims():
    ds = _sweep()
    assert ds.K.dims == ("depth", "deficit", "seed", "time", "pathway", "init")
    assert list(ds.depth.values) == [2, 3] and list(ds.seed.values) == [0, 1]
    # each cell equals the single run with those parameters
    single = simulate_phase(BASE.replace(depth=3, deficit="late"), 1)
    np.testing.assert_array_equal(ds.K.sel(depth=3, deficit="late", seed=1).values, single.K.values)
    assert not np.array_equal(ds.K.isel(seed=0).values, ds.K.isel(seed=1).values)
    assert ds.attrs["experiment"] == "toy" and ds.attrs["seeds"] == [0, 1]
    assert "depth" not in ds.attrs and "seed" not in ds.attrs and ds.attrs["n_inits"] == 5


@pytest.mark.parametrize("grid, seeds, message", [
    ({"depth": [2, 99]}, [0], "^depth must be"),
    ({"depth": []}, [0], "non-empty list"),
    ({"depth": [2, 2]}, [0], "must not repeat"),
    ({"speed": [1]}, [0], "unknown parameter"),
    ({"seed": [1]}, [0], "must not contain 'seed'"),
    ({}, [], "seeds must be a non-empty"),
    ({}, [-1], "seeds must be non-negative"),
])
def test_bad_sweeps_fail_before_any_compute(grid, seeds, message):
    calls = []

    def spy(params, seed):
        calls.append(seed)
        return simulate_phase(params, seed)

    with pytest.raises(ValueError, match=message):
        run_sweep(spy, BASE, grid, seeds, study="deeplinear", experiment="toy", progress=False)
    assert calls == []


def test_cache_hit_resume_and_force(tmp_path):
    store = Store(tmp_path)
    calls = []

    def counting(params, seed):
        calls.append((params.depth, params.deficit, seed))
        if len(calls) == 3 and fail[0]:
            raise RuntimeError("interrupted")
        return simulate_phase(params, seed)

    fail = [True]
    kwargs = dict(study="deeplinear", experiment="toy", store=store, progress=False)
    with pytest.raises(RuntimeError, match="interrupted"):
        run_sweep(counting, BASE, GRID, [0, 1], **kwargs)
    assert len(list((tmp_path / "deeplinear").glob("*.nc"))) == 2  # finished tasks were kept
    fail[0] = False
    calls.clear()
    resumed = run_sweep(counting, BASE, GRID, [0, 1], **kwargs)
    assert len(calls) == 6  # 8 tasks, 2 from the cache
    calls.clear()
    cached = run_sweep(counting, BASE, GRID, [0, 1], **kwargs)
    assert calls == []
    xr.testing.assert_identical(cached, resumed)
    run_sweep(counting, BASE, GRID, [0, 1], force=True, **kwargs)
    assert len(calls) == 8


def test_tasks_are_in_grid_order():
    tasks = make_tasks(BASE, GRID, [5, 7])
    assert [(dict(t.coords)["depth"], dict(t.coords)["deficit"], t.seed) for t in tasks[:3]] == [
        (2, "early", 5), (2, "early", 7), (2, "late", 5)]


def test_dask_local_cluster_equals_serial():
    serial = _sweep()
    with dask_client(n_workers=2) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        parallel = _sweep(client=client)
    xr.testing.assert_identical(serial, parallel)
    for name in serial.data_vars:
        np.testing.assert_array_equal(serial[name].values, parallel[name].values)


def test_single_threaded_limits_blas_and_numba_and_restores():
    import numba
    from threadpoolctl import threadpool_info

    from theorylab.core.sweep import single_threaded

    before = [p["num_threads"] for p in threadpool_info()]
    numba_before = numba.get_num_threads()
    with single_threaded():
        assert all(p["num_threads"] == 1 for p in threadpool_info())
        assert numba.get_num_threads() == 1
    assert [p["num_threads"] for p in threadpool_info()] == before
    assert numba.get_num_threads() == numba_before


def test_several_sweeps_run_together_equal_each_run_alone(tmp_path):
    """run_sweeps: two experiments' tasks submitted at once give the same Datasets as separate sweeps."""
    from theorylab.core.sweep import plan_sweep, run_sweeps

    store = Store(tmp_path)
    other = {"depth": [4], "deficit": ["late"]}
    sweeps = [plan_sweep(simulate_phase, BASE, GRID, [0, 1], study="deeplinear", experiment="toy", store=store),
              plan_sweep(simulate_phase, BASE, other, [3], study="deeplinear", experiment="toy2", store=store)]
    with dask_client(n_workers=2) as client:
        together = run_sweeps(sweeps, store=store, client=client, progress=False)
    xr.testing.assert_identical(together[0], _sweep())
    alone = run_sweep(simulate_phase, BASE, other, [3], study="deeplinear", experiment="toy2", progress=False)
    xr.testing.assert_identical(together[1], alone)
    assert len(list((tmp_path / "deeplinear").glob("*.nc"))) == 9  # every task cached under its own key


def test_longest_experiments_start_first_and_results_keep_grid_order(tmp_path):
    """With measured task times in the cache, the slowest experiment's tasks are queued first
    (never-timed ones before all), grid order holds within an experiment, and the returned
    Datasets are the same as in submission order."""
    from theorylab.core.sweep import longest_first, plan_sweep, run_sweeps

    store = Store(tmp_path)
    sweeps = [plan_sweep(simulate_phase, BASE, GRID, [0], study="deeplinear", experiment=name, store=store)
              for name in ("fast", "slow", "new")]
    store.record_timings("deeplinear", "fast", [0.1], [100])
    store.record_timings("deeplinear", "slow", [5.0], [100])
    order = [(sweep.experiment, task.index) for sweep, task in
             longest_first([(s, t) for s in sweeps for t in s.todo()], store)]
    assert order == [("new", i) for i in range(4)] + [("slow", i) for i in range(4)] + [("fast", i) for i in range(4)]
    # without a store nothing is known: submission order
    plain = longest_first([(s, t) for s in sweeps for t in s.todo()], None)
    assert [(s.experiment, t.index) for s, t in plain][:4] == [("fast", i) for i in range(4)]
    expected = _sweep().sel(seed=[0])
    for ds in run_sweeps(sweeps, store=store, progress=False):
        xr.testing.assert_equal(ds, expected)      # values and coordinates; attrs name the experiment


def test_busy_line_reports_the_idle_share():
    from theorylab.core.sweep import busy_line

    assert busy_line(190.0, 150.0, 100.0, 2) == ("workers busy 95% of the wall time (190 task-seconds, 150 CPU-s, "
                                                 "in 100 s on 2 worker(s); idle 5%)")
    assert "busy 0%" in busy_line(0.0, 0.0, 0.0, 2)
