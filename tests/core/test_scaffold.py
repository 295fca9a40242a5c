"""``theorylab new``: the project's files, and names it refuses before writing anything.
(The generated study's tests are run on a fresh install by tests/install/test_scaffold.py.)"""

import pytest

from theorylab.cli import main

MODULES = ("__init__", "kernels", "reference", "model", "theory", "claims", "figures")


def test_writes_a_plugin_project(tmp_path, capsys):
    assert main(["new", "mcstudy", "--path", str(tmp_path)]) == 0
    project = tmp_path / "mcstudy"
    for name in MODULES:
        text = (project / "mcstudy" / f"{name}.py").read_text()
        assert "__study__" not in text
    assert (project / "mcstudy" / "experiments" / "clt.toml").read_text().startswith('study = "mcstudy"')
    assert (project / "mcstudy" / "section.md").exists() and (project / "tests" / "golden.toml").exists()
    assert '[project.entry-points."theorylab.studies"]\nmcstudy = "mcstudy"' in (project / "pyproject.toml").read_text()
    assert not list(project.rglob("__pycache__"))


@pytest.mark.parametrize("name, message", [
    ("Demo", "lower-case Python identifier"), ("my-study", "lower-case Python identifier"),
    ("_x", "lower-case Python identifier"), ("class", "lower-case Python identifier"),
    ("psr", "existing study"), ("json", "shadow an importable module"),
])
def test_bad_names_are_refused_in_one_line(tmp_path, capsys, name, message):
    assert main(["new", name, "--path", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err and not list(tmp_path.iterdir())


def test_an_existing_folder_is_not_overwritten(tmp_path, capsys):
    (tmp_path / "again").mkdir()
    assert main(["new", "again", "--path", str(tmp_path)]) == 2
    assert "already hold" in capsys.readouterr().err
