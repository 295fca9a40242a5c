"""The reproduction report: assembled from files only, bibliographies merged, built to HTML by pandoc."""

import pytest

from theorylab.core import registry, report

STUDY = "deeplinear"
FIGURE = registry.experiments(STUDY)[0].figures[0]

BIB_A = """@article{saxe2014exact,
  title = {Exact solutions},
  author = {Saxe, Andrew},
  year = {2014}
}
"""
BIB_B = """@misc{saxe2014exact, title = {a duplicate key}, year = {1999}}

@inproceedings{other2020,
  title = {Other},
  author = {Other, Ann},
  year = {2020}
}
"""


@pytest.fixture
def root(tmp_path):
    (tmp_path / "paper" / "sections").mkdir(parents=True)
    (tmp_path / "paper" / "claims").mkdir()
    (tmp_path / "paper" / "intro.md").write_text("---\ntitle: Test report\n---\n\n## Introduction\n\nHello.\n")
    (tmp_path / "paper" / "sections" / f"{STUDY}.md").write_text(
        f"## The {STUDY} study\n\nA model $x = 1$ [@saxe2014exact; @other2020].\n")
    (tmp_path / "paper" / "sections" / f"{STUDY}.bib").write_text(BIB_A + "\n" + BIB_B)
    (tmp_path / "paper" / "claims" / f"{STUDY}.md").write_text(
        f"## {STUDY}\n\n| claim | verdict |\n|---|---|\n| `x` | PASS |\n")
    fig = tmp_path / "figures" / STUDY
    fig.mkdir(parents=True)
    (fig / f"{FIGURE}.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (fig / f"{FIGURE}.txt").write_text("A caption.\n")
    return tmp_path


def test_assemble_reads_sections_figures_and_claims(root):
    text, bib = report.assemble(root, root)
    assert text.startswith("---\ntitle: Test report")
    assert f"## The {STUDY} study" in text
    assert f"![**Figure {STUDY}.1** ({FIGURE}). A caption.](../figures/{STUDY}/{FIGURE}.png)" in text
    assert "| `x` | PASS |" in text and f"## {STUDY}\n" not in text  # table kept, its heading dropped
    assert "## What is derived or reconstructed rather than verified" in text
    # studies without a section are left out rather than padded with placeholders
    assert "## moe" not in text
    assert bib.count("@") == 2 and "a duplicate key" not in bib


def test_study_without_checks_says_so(root):
    (root / "paper" / "claims" / f"{STUDY}.md").unlink()
    text, _ = report.assemble(root, root)
    assert f"run `theorylab check --study {STUDY}`" in text


def test_build_writes_markdown_bib_and_html_with_resolved_citations(root):
    written = report.build(root, root)
    assert [p.name for p in written] == ["paper.md", "paper.bib", "paper.html"]
    html = (root / "paper" / "paper.html").read_text()
    assert "<math" in html  # MathML, no network needed to view
    assert "Saxe" in html and "[@saxe2014exact" not in html  # citeproc resolved the key
    assert not list((root / "paper").glob(".*.tmp"))


def test_pandoc_failure_is_reported_and_leaves_nothing(root):
    (root / "paper" / "sections" / f"{STUDY}.md").write_text("## Bad\n\nA citation of [@missing].\n")
    md = root / "paper" / "paper.md"
    md.write_text(report.assemble(root, root)[0])
    (root / "paper" / "paper.bib").write_text("@article{broken, title = {unclosed\n")
    with pytest.raises(RuntimeError, match="pandoc failed"):
        report.pandoc_html(md, root / "paper" / "paper.bib", root / "paper" / "paper.html")
    assert not (root / "paper" / "paper.html").exists()
    assert not list((root / "paper").glob(".*.tmp"))


def test_outputs_and_sources_may_live_apart(root, tmp_path_factory):
    """``--root`` elsewhere: figures and claims are read there, intro and sections from the checkout."""
    out = tmp_path_factory.mktemp("out")
    (out / "paper" / "claims").mkdir(parents=True)
    (out / "paper" / "claims" / f"{STUDY}.md").write_text("## x\n\n| `elsewhere` | PASS |\n")
    text, _ = report.assemble(out, root)
    assert "Hello." in text and "| `elsewhere` | PASS |" in text and "Figure" not in text


def test_studies_of_one_paper_share_its_heading(root, monkeypatch):
    """Two studies with the same PAPER: one heading with the paper's title, their sections one level down."""
    (root / "paper" / "sections" / "moe.md").write_text("## The moe study\n\n### Model\n\n```\n## not a heading\n```\n")
    monkeypatch.setattr(registry, "paper_key", lambda study: "saxe2014exact" if study in (STUDY, "moe") else study)
    text, _ = report.assemble(root, root)
    assert "## Exact solutions\n\nStudies of [@saxe2014exact]: `deeplinear`, `moe`." in text
    assert f"### The {STUDY} study" in text and "### The moe study" in text and "#### Model" in text
    assert "#### Figures" in text and "#### Checks" in text
    assert "\n## not a heading\n" in text  # code blocks are left alone
    assert text.index(f"### The {STUDY} study") < text.index("### The moe study")


def test_a_paper_with_one_study_keeps_the_study_heading(root):
    text, _ = report.assemble(root, root)
    assert f"\n## The {STUDY} study" in "\n" + text and "Studies of" not in text


def test_paper_key_falls_back_to_the_study_name(monkeypatch):
    import types

    monkeypatch.setattr(registry.importlib, "import_module", lambda name: types.SimpleNamespace())
    assert registry.paper_key("psr") == "psr"
