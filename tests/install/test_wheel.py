"""Installed from its wheel, theorylab works from any folder: list, run, reproduce, explore.

The built-in studies' experiments and report sources come from the wheel's own copy
(``theorylab/_sources``); outputs go to the working folder or ``--root``.
"""

import json

BUILTIN = ("attention", "bandits", "deeplinear", "hebbian", "moe", "psr")


def test_the_wheel_carries_the_sources_and_imports_its_own_copy(venv):
    out = venv.python_code(
        "import json, theorylab; from theorylab.core import registry; "
        "print(json.dumps([theorylab.__file__, str(registry.project_root()), "
        "[e.full_name for e in registry.experiments()]]))").stdout
    module, sources, experiments = json.loads(out)
    assert module.startswith(str(venv.root / "venv")) and sources.endswith("theorylab/_sources")
    for study in BUILTIN:
        assert any(e.startswith(f"{study}/") for e in experiments), study


def test_list_shows_every_study_with_experiments(listing):
    assert "psr/bracketing" in listing and "deeplinear/depth_split" in listing


def test_run_a_builtin_experiment_from_the_packaged_toml(venv):
    bad = venv.theorylab("run", "psr/nope", check=False)
    assert bad.returncode == 2 and "experiment must be one of" in bad.stderr
    assert "<xarray.Dataset>" in venv.theorylab("run", "psr/bracketing", "--executor", "serial").stdout


def test_reproduce_writes_in_the_working_folder_with_the_packaged_report_sources(venv):
    """Quick scale, the plugin study (no compilation): figures, claims table and the report, whose
    introduction and built-in sections come from the wheel."""
    folder = venv.work / "here"
    folder.mkdir()
    venv.theorylab("reproduce", "--study", "coin", "--scale", "quick", "--executor", "serial", cwd=folder)
    assert (folder / "figures" / "coin" / "fig_frequency.png").exists()
    assert "**FAIL**" not in (folder / "paper" / "claims" / "coin.md").read_text()
    html = " ".join((folder / "paper" / "paper.html").read_text().split())
    assert "Reproduction report" in html and "UMT-PSR" in html and "A coin, flipped" in html


def test_explorer_pages_build(explorer):
    assert all(f"[{s}](/{s})" in explorer["landing"] for s in BUILTIN)
