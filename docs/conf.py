"""Sphinx configuration: MyST Markdown pages, autodoc (NumPy-style docstrings via napoleon) of
theorylab.core, and pages generated at build time so that new studies and CLI options appear
without editing the docs: ``studies/`` (from each study's report section, grouped by paper)
and ``cli.md`` (from the argument parser).  Build: ``python -m sphinx -W -b html docs docs/_build/html``.
"""

import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))  # document this checkout's theorylab

from theorylab import __version__  # noqa: E402
from theorylab.cli import build_parser  # noqa: E402
from theorylab.core import registry, report  # noqa: E402

project = "theorylab"
copyright = "theorylab contributors"
version = release = __version__
extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax",
              "sphinx.ext.viewcode"]
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "description"
napoleon_numpy_docstring = True
napoleon_google_docstring = False
html_theme = "alabaster"
html_title = f"theorylab {version}"
nitpicky = False

# --- generated pages ------------------------------------------------------------------------------

_CITATION = re.compile(r"\[((?:-?@[\w:.-]+(?:,[^;\]]*)?;?\s*)+)\]")
_FIELD = r"\b{}\s*=\s*[{{\"](.*?)[}}\"]\s*,?\s*$"


def _bib_entries(path: Path) -> dict[str, dict[str, str]]:
    """key -> {author, title, year, venue} of each entry of a BibTeX file (enough for a reference list)."""
    out = {}
    if not path.exists():
        return out
    for entry in re.split(r"^(?=@)", path.read_text(), flags=re.M):
        head = re.match(r"@\w+\s*\{\s*([^,\s]+)\s*,", entry)
        if not head:
            continue
        fields = {}
        for name in ("author", "title", "year", "journal", "booktitle"):
            m = re.search(_FIELD.format(name), entry, flags=re.M | re.I)
            if m:
                fields[name] = re.sub(r"[{}]", "", m.group(1)).strip()
        out[head.group(1)] = fields
    return out


def _cite(markdown: str, known: set[str]) -> str:
    """Pandoc citations ``[@a; @b, p. 3]`` -> links to the page's reference list."""
    def link(m: re.Match) -> str:
        parts = []
        for item in m.group(1).split(";"):
            key = item.strip().lstrip("-@").split(",")[0].strip()
            parts.append(f"[{key}](#ref-{key.lower()})" if key in known else key)
        return "[" + "; ".join(parts) + "]"
    return _CITATION.sub(link, markdown)


def _promote(markdown: str) -> str:
    """A section written for the report (title at level 2) as a page (title at level 1); code kept."""
    lines, fenced = [], False
    for line in markdown.split("\n"):
        if line.startswith(("```", "~~~")):
            fenced = not fenced
        lines.append(line[1:] if not fenced and re.match(r"#{2,6} ", line) else line)
    return "\n".join(lines)


def _study_page(study: str) -> str:
    section, bib = registry.section_files(study)
    entries = _bib_entries(bib)
    text = _cite(_promote(section.read_text().strip()), set(entries))
    parts = [text, ""]
    figures = report.rendered_figures(study, DOCS.parent)
    if figures:
        parts += ["## Figures", ""]
        for png, caption in figures:
            parts += [f"```{{figure}} /../{png.relative_to(DOCS.parent).as_posix()}", ":width: 90%", "",
                      f"**{png.stem}**. {caption}", "```", ""]
    if entries:
        parts += ["## References", ""]
        for key, f in entries.items():
            venue = f.get("journal") or f.get("booktitle") or ""
            parts += [f"({'ref-' + key.lower()})=", f"- {f.get('author', '')}. *{f.get('title', key)}*. "
                      f"{venue + '. ' if venue else ''}{f.get('year', '')}.", ""]
    return "\n".join(parts)


def _write(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:  # unchanged files keep Sphinx's incremental build
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def generate() -> None:
    folder = DOCS / "studies"
    studies = [s for s in registry.studies() if registry.section_files(s)[0].exists()]
    index = ["# The studies", "",
             "One page per study, generated from its report section (`paper/sections/<study>.md` of a "
             "built-in study, `section.md` of a plugin) with its committed figures. Studies that check "
             "the same paper are listed under it.", ""]
    for key, group in report.papers(studies).items():
        bibs = [registry.section_files(s)[1] for s in group]
        index += [f"## {report.bib_title(key, bibs) or key}", "",
                  "```{toctree}", ":maxdepth: 1", "", *group, "```", ""]
    for study in studies:
        _write(folder / f"{study}.md", _study_page(study))
    _write(folder / "index.md", "\n".join(index))
    for stale in set(folder.glob("*.md")) - {folder / "index.md", *(folder / f"{s}.md" for s in studies)}:
        stale.unlink()

    os.environ["COLUMNS"] = "100"  # argparse wraps help to the terminal: fix it for a reproducible page
    parser = build_parser()
    cli = ["# Command line reference", "",
           "Generated from the argument parser of `theorylab` (`theorylab COMMAND --help` prints the same).",
           "", "```text", parser.format_help().rstrip(), "```", ""]
    commands = parser._subparsers._group_actions[0].choices  # argparse keeps subcommands here
    for name, sub in commands.items():
        cli += [f"## `theorylab {name}`", "", "```text", sub.format_help().rstrip(), "```", ""]
    _write(DOCS / "cli.md", "\n".join(cli))


generate()
