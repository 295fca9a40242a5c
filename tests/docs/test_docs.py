"""The documentation site builds with Sphinx, warnings as errors (the README's docs command)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

if not os.environ.get("CI"):  # in CI the [docs] extra is installed: a missing Sphinx must fail there
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_parser")


def test_docs_build_without_warnings(tmp_path):
    done = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                           "-d", str(tmp_path / "doctrees"), str(REPO / "docs"), str(tmp_path / "html")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-5000:]
    html = tmp_path / "html"
    for page in ("getting-started", "write-your-own-study", "study-contract", "cli", "scaling-out", "api",
                 "studies/index"):
        assert (html / f"{page}.html").exists(), page
    studies = (html / "studies" / "index.html").read_text()
    from theorylab.core import registry

    for study in registry.studies():  # generated: every study with a report section has a page
        if registry.section_files(study)[0].exists():
            assert f'href="{study}.html"' in studies, study
    assert "theorylab reproduce" in (html / "cli.html").read_text()
    assert "loglog_slope" in (html / "api.html").read_text()
