"""The command line: listing, clear errors for bad input, and a full check writing the claims table."""

import contextlib
import os
import shutil
import subprocess

import pytest
import xarray as xr

from theorylab.cli import main


def test_list_shows_studies_parameters_and_claims(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "deeplinear/pathways_timing" in out and "deficit_onset" in out
    assert "claim deeplinear.gd-equals-mode-map (derived)" in out


@pytest.mark.parametrize("argv, message", [
    (["run", "deeplinear/nope"], "experiment must be one of"),
    (["run", "deeplinear/depth_split", "--set", "depth=0"], "depth must be >= 1"),
    (["run", "deeplinear/depth_split", "--set", "speed=1"], "unknown parameter"),
    (["run", "deeplinear/depth_split", "--set", "depth"], "--set must look like name=value"),
    (["reproduce", "--study", "nope"], "study must be one of"),
])
def test_bad_input_exits_2_with_message(capsys, argv, message):
    assert main(argv + ["--executor", "serial"]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--workers", "-1"], "argument --workers: must be between 1 and 512 (got -1)"),
    (["--workers", "0"], "argument --workers: must be between 1 and 512 (got 0)"),
    (["--workers", "two"], "argument --workers: must be a whole number"),
    (["--cache", "x", "--no-cache"], "not allowed with argument"),
])
def test_bad_options_are_usage_errors(capsys, argv, message):
    with pytest.raises(SystemExit) as err:
        main(["run", "deeplinear/depth_split", *argv])
    assert err.value.code == 2 and message in capsys.readouterr().err


def test_bad_paths_and_addresses_fail_before_any_compute(tmp_path, monkeypatch, capsys):
    """Each case is one line naming the path or address and the fix, and nothing is computed."""
    from theorylab.core import pipeline

    monkeypatch.setattr(pipeline, "run_experiments", lambda *a, **k: pytest.fail("computed"))
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    run = ["run", "deeplinear/depth_split", "--executor", "serial"]
    cases = [
        ([*run, "--out", str(tmp_path)], f"--out {tmp_path} is a folder; give a file name"),
        ([*run, "--out", str(tmp_path / "missing" / "x.nc")], "the folder"),
        ([*run, "--cache", str(a_file)], f"the cache path {a_file} is a file, not a folder"),
        ([*run, "--scheduler", "not an address"], "--scheduler must look like tcp://HOST:PORT"),
        ([*run, "--scheduler", "tcp://127.0.0.1:9", "--workers", "2"], "--workers sizes the local cluster"),
        (["reproduce", "--study", "deeplinear", "--executor", "serial", "--root", str(a_file)],
         "the output folder"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err, err
    monkeypatch.setenv("THEORYLAB_CACHE", "")
    assert main(run) == 2
    assert "THEORYLAB_CACHE is set but empty" in capsys.readouterr().err


def test_an_unreachable_scheduler_is_one_line(monkeypatch, capsys):
    from theorylab.core import sweep

    @contextlib.contextmanager
    def unreachable(*args, **kwargs):
        raise OSError("Timed out trying to connect to tcp://127.0.0.1:9 after 10 s")
        yield

    monkeypatch.setattr(sweep, "dask_client", unreachable)
    monkeypatch.setattr("theorylab.cli.dask_client", unreachable)
    assert main(["run", "deeplinear/depth_split", "--scheduler", "tcp://127.0.0.1:9", "--no-cache"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("theorylab: error: cannot reach the dask scheduler at tcp://127.0.0.1:9")
    assert err.count("\n") == 1


def test_no_cache_writes_nothing_and_cache_commands(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("THEORYLAB_CACHE", str(tmp_path / "cache"))
    argv = ["run", "deeplinear/depth_split", "--set", "depth=2", "--executor", "serial"]
    assert main([*argv, "--no-cache"]) == 0
    assert not (tmp_path / "cache").exists() and not (tmp_path / ".cache").exists()
    assert main(argv) == 0
    [entry] = (tmp_path / "cache" / "deeplinear").glob("*.nc")
    capsys.readouterr()
    assert main(["cache", "verify"]) == 0
    assert "1 entries checked" in capsys.readouterr().out
    entry.write_bytes(entry.read_bytes()[:100])
    assert main(["cache", "verify", "--study", "deeplinear"]) == 1
    captured = capsys.readouterr()
    assert "1 damaged" in captured.out and "theorylab: warning: cache entry" in captured.err
    assert main(["cache", "clean"]) == 0
    assert "1 quarantined" in capsys.readouterr().out
    assert not (tmp_path / "cache" / ".quarantine" / "deeplinear").exists()


def test_run_prints_dataset_and_writes_netcdf(tmp_path, capsys):
    out = tmp_path / "split.nc"
    argv = ["run", "deeplinear/depth_split", "--set", "depth=3", "--executor", "serial",
            "--cache", str(tmp_path / "cache"), "--out", str(out)]
    assert main(argv) == 0
    assert out.exists() and "K_deficit_end" in capsys.readouterr().out


def test_check_writes_claims_table(tmp_path, quick_store, capsys):
    argv = ["check", "--study", "deeplinear", "--scale", "quick", "--executor", "serial",
            "--cache", str(quick_store.root), "--root", str(tmp_path)]
    assert main(argv) == 0
    table = (tmp_path / "paper" / "claims.md").read_text()
    assert "deeplinear.depth-amplifies-early-deficit" in table and "**FAIL**" not in table


def test_a_bad_grid_point_fails_before_any_compute(tmp_path, monkeypatch, capsys):
    """A scale whose grid holds an invalid point is rejected before the first experiment runs."""
    from theorylab.core import registry

    exp = registry.experiment("deeplinear/depth_split")
    bad = {**exp.scales, "quick": {"grid": {"depth": [1, 2, 99]}}}
    patched = registry.Experiment(**{**exp.__dict__, "scales": bad})
    monkeypatch.setattr(registry, "experiments", lambda study=None: [patched])
    argv = ["reproduce", "--study", "deeplinear", "--scale", "quick", "--executor", "serial",
            "--cache", str(tmp_path / "cache"), "--root", str(tmp_path)]
    assert main(argv) == 2
    assert "depth must be" in capsys.readouterr().err
    assert not (tmp_path / "cache").exists() and not (tmp_path / "figures").exists()


def test_reproduce_writes_figures_claims_and_the_paper(tmp_path, quick_store, capsys):
    """The main job end to end at quick scale (datasets from the session cache): figures, tables, report."""
    argv = ["reproduce", "--study", "deeplinear", "--scale", "quick", "--executor", "serial",
            "--cache", str(quick_store.root), "--root", str(tmp_path)]
    assert main(argv) == 0
    assert (tmp_path / "figures" / "deeplinear" / "fig2_deficit_timing.png").exists()
    assert "**FAIL**" not in (tmp_path / "paper" / "claims" / "deeplinear.md").read_text()
    html = " ".join((tmp_path / "paper" / "paper.html").read_text().split())  # pandoc wraps lines
    assert "Critical learning periods" in html and "fig2_deficit_timing.png" in html
    (tmp_path / "paper" / "paper.html").unlink()
    assert main(["paper", "--root", str(tmp_path)]) == 0  # the report alone, from the files just written
    assert (tmp_path / "paper" / "paper.html").exists()


def test_first_run_on_a_fresh_checkout_compiles_in_the_dask_workers(tmp_path):
    """No compiled kernels yet (empty NUMBA_CACHE_DIR): the local cluster's workers compile them in a task.

    Run as the command a user types, because what broke it once happens at process start: the
    CLI imports Numba before a worker environment that set NUMBA_NUM_THREADS took effect, and
    every compilation then raised.
    """
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    out = tmp_path / "split.nc"
    done = subprocess.run([shutil.which("theorylab"), "run", "deeplinear/depth_split", "--workers", "2",
                           "--cache", str(tmp_path / "cache"), "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert any((tmp_path / "numba").rglob("*.nbi"))  # compiled here, not loaded from an earlier run
    with xr.open_dataset(out) as ds:
        assert ds.sizes["depth"] > 1 and bool(ds.K.notnull().all())
