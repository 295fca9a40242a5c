"""The command line: listing, clear errors for bad input, and a full check writing the claims table."""

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
