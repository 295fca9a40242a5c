"""Experiment TOMLs: one schema, one-line errors naming the file and the key, and a broken file
stops only its own experiment.  Property tests feed random documents and random edits of the real
files: the answer is a valid experiment or one ValueError line naming the file, never a traceback."""

import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from theorylab.cli import main
from theorylab.core import pipeline, registry, schema

EXPERIMENT_FILES = sorted((Path(__file__).parents[2] / "experiments").glob("*/*.toml"))
GOOD = textwrap.dedent("""
    study = "deeplinear"
    description = "a toy"
    simulate = "simulate_split"
    seeds = [0]
    figures = ["fig_depth_split"]
    claims = ["deeplinear.invariant-final-split"]
    [params]
    t_final = 5.0
    [grid]
    depth = [1, 2]
""")


def test_every_experiment_file_passes_the_schema():
    assert len(EXPERIMENT_FILES) >= 30
    for path in EXPERIMENT_FILES:
        schema.load(path)


@pytest.mark.parametrize("edit, message", [
    ('seeds = [0,', "TOML syntax error"),
    ('params = "x"', r"params must be a table \(got a string 'x'\)"),
    ('seeds = 3', r"seeds must be a non-empty list of integers .* \(got an integer 3\)"),
    ('seeds = [1, 1]', "seeds must be a list of distinct integers"),
    ('seeds = [-1]', "seeds must be a non-empty list of integers"),
    ('figures = "fig_x"', r"figures must be a list of strings.* \(got a string 'fig_x'\)"),
    ('claims = "id"', r"claims must be a list of strings"),
    ('simulate = 3', "simulate must be a non-empty string"),
    ('colour = "red"', r"unknown key\(s\) \['colour'\]"),
    ('[scales]\nquick = 5', r"scales.quick must be a table \(got an integer 5\)"),
    ('[scales.huge]\nseeds = [0]', "scales must be among"),
    ('[scales.quick]\nsteps = 3', r"unknown key\(s\) \['steps'\] in \[scales.quick\]"),
    ('[scales.paper.grid]\ndepth = 3', "scales.paper.grid.depth must be a non-empty list"),
    ('[scales.paper.grid]\ndepth = []', "scales.paper.grid.depth must be a non-empty list"),
    ('[scales.paper.grid]\ndepth = [1, 1]', "scales.paper.grid.depth must be a list without repeats"),
    ('[scales.paper.params]\nt_final = {a = 1}', "scales.paper.params.t_final must be a number"),
    ('[scales.paper.params]\nt_final = 1979-05-27', "scales.paper.params.t_final must be a number"),
])
def test_malformed_file_gives_one_line_naming_file_and_key(tmp_path, edit, message):
    path = tmp_path / "e.toml"
    head, _, tail = GOOD.partition("[params]")
    key = edit.split("=")[0].strip()
    kept = "\n".join(line for line in head.splitlines() if line.split("=")[0].strip() != key)
    if edit.startswith("["):
        text = GOOD + edit + "\n"
    elif key == "params":  # the [params] table would redefine the key
        text = kept + "\n" + edit + "\n"
    else:
        text = kept + "\n" + edit + "\n[params]" + tail
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as err:
        schema.load(path)
    assert str(err.value).startswith(f"{path}: ") and "\n" not in str(err.value)


def test_missing_keys_and_unreadable_files(tmp_path):
    path = tmp_path / "e.toml"
    path.write_text('simulate = "simulate_split"\n')
    with pytest.raises(ValueError, match=r"e.toml: missing key 'study'"):
        schema.load(path)
    path.write_bytes(b"study = '\xff'\n")
    with pytest.raises(ValueError, match="e.toml: not UTF-8"):
        schema.load(path)
    with pytest.raises(ValueError, match="nope.toml: cannot read"):
        schema.load(tmp_path / "nope.toml")


@pytest.fixture
def experiments_dir(tmp_path, monkeypatch):
    """A private experiments folder: one good experiment and one broken file beside it."""
    (tmp_path / "deeplinear").mkdir()
    (tmp_path / "deeplinear" / "good.toml").write_text(GOOD)
    (tmp_path / "deeplinear" / "broken.toml").write_text(GOOD.replace("seeds = [0]", "seeds = [0,"))
    monkeypatch.setenv(registry.EXPERIMENTS_ENV, str(tmp_path))
    return tmp_path


def test_a_broken_file_stops_only_its_own_experiment(experiments_dir, capsys):
    assert [e.full_name for e in registry.experiments()] == ["deeplinear/good"]
    assert "broken.toml: TOML syntax error" in registry.broken_experiments()["deeplinear/broken"]
    with pytest.raises(ValueError, match="broken.toml: TOML syntax error"):
        registry.experiment("deeplinear/broken")
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "deeplinear/broken" in out and "BROKEN:" in out and "deeplinear/good" in out
    assert main(["run", "deeplinear/broken", "--executor", "serial", "--no-cache"]) == 2
    assert "broken.toml: TOML syntax error" in capsys.readouterr().err


def test_experiments_option_and_wrong_folders(experiments_dir, tmp_path_factory, monkeypatch, capsys):
    monkeypatch.delenv(registry.EXPERIMENTS_ENV)
    assert main(["--experiments", str(experiments_dir), "list"]) == 0
    assert "deeplinear/good" in capsys.readouterr().out
    missing = tmp_path_factory.mktemp("x") / "missing"
    assert main(["--experiments", str(missing), "list"]) == 2
    assert "is not a folder" in capsys.readouterr().err
    empty = tmp_path_factory.mktemp("empty")
    assert main(["--experiments", str(empty), "run", "deeplinear/good", "--executor", "serial"]) == 2
    assert f"no experiment TOMLs under {empty}" in capsys.readouterr().err
    assert "THEORYLAB_EXPERIMENTS" in capsys.readouterr().out + _help()


def _help():
    from theorylab.cli import build_parser
    return build_parser().format_help()


# --- property tests ----------------------------------------------------------------------------

SCALAR = st.one_of(st.booleans(), st.integers(-10**20, 10**20), st.floats(), st.text(max_size=6))
VALUE = st.recursive(SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                     st.dictionaries(st.text(max_size=5), inner, max_size=3)),
                     max_leaves=8)
KEYS = st.sampled_from([*schema.TOP_KEYS, "quick", "paper", "other"])
DOCUMENT = st.dictionaries(KEYS, st.one_of(VALUE, st.dictionaries(
    st.sampled_from(["quick", "paper", "params", "grid", "seeds", "depth", "x"]), VALUE, max_size=3)),
    max_size=9)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(DOCUMENT)
def test_random_documents_validate_or_raise_one_line(doc):
    try:
        out = schema.validate(doc, "random.toml")
    except ValueError as err:
        assert str(err).startswith("random.toml: ") and "\n" not in str(err)
        return
    assert isinstance(out["seeds"], list) and isinstance(out["figures"], list)


EDITS = st.lists(st.tuples(st.sampled_from(["delete", "duplicate", "replace", "insert"]),
                           st.integers(0, 10**6), st.sampled_from(list("=[]{}\"',.0123 -x\n#"))),
                 min_size=1, max_size=4)


@settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(file=st.sampled_from(EXPERIMENT_FILES), edits=EDITS)
def test_random_edits_of_real_files_give_an_experiment_or_one_line(tmp_path_factory, file, edits):
    """Typos a careless user makes in a real file: then loading and resolving it either works or
    says what is wrong in one line naming the file (loading) or the parameter (resolving)."""
    text = file.read_text()
    for kind, at, char in edits:
        at %= max(len(text), 1)
        if kind == "delete":
            text = text[:at] + text[at + 1:]
        elif kind == "duplicate":
            line_start = text.rfind("\n", 0, at) + 1
            line_end = text.find("\n", at) + 1 or len(text)
            text = text[:line_end] + text[line_start:line_end] + text[line_end:]
        elif kind == "replace":
            text = text[:at] + char + text[at + 1:]
        else:
            text = text[:at] + char + text[at:]
    path = tmp_path_factory.mktemp("edit") / file.parent.name / file.name
    path.parent.mkdir()
    path.write_text(text)
    try:
        exp = registry.load_experiment(path)
    except ValueError as err:
        assert str(err).startswith(f"{path}: ") and "\n" not in str(err)
        return
    for scale in schema.SCALES:
        try:
            pipeline.validate(exp, scale)
        except ValueError as err:
            assert str(err) and "\n" not in str(err)


def test_a_wrong_project_root_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("THEORYLAB_ROOT", str(tmp_path / "nowhere"))
    assert main(["list"]) == 2
    assert "has no experiments/ folder" in capsys.readouterr().err
