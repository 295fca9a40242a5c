"""The reproduction report: ``paper/paper.md`` (+ ``paper.bib``) assembled from files, built to HTML by pandoc.

Hand-written sources (see :func:`theorylab.core.registry.project_root`):

* ``paper/intro.md``: title block and introduction;
* ``paper/sections/<study>.md`` and ``<study>.bib``: each built-in study's model, what its
  paper states and how it is checked (a plugin study brings ``section.md`` and ``section.bib``
  in its package);

and outputs of the pipeline, under the output root (``--root``, the current directory by default):

* ``figures/<study>/<figure>.png`` with the caption in ``<figure>.txt`` (rendered by
  ``theorylab reproduce``), in the order the study's experiments list them;
* ``paper/claims/<study>.md``: the measured checks (written by ``theorylab check``).

Studies that share a paper (the same ``PAPER`` key) are grouped under one heading, the paper's
title from the bibliography; a paper with a single study keeps that study's own heading.
Like figures and claims, the report never simulates: it only reads what the pipeline wrote.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from theorylab.core import registry
from theorylab.core.claims import SOURCES
from theorylab.core.store import write_atomic

_BIB_ENTRY = re.compile(r"@\w+\s*\{\s*([^,\s]+)\s*,")


def rendered_figures(study: str, root: Path) -> list[tuple[Path, str]]:
    """(PNG, caption) of every rendered figure of ``study``, in experiment order, each once."""
    seen, out = set(), []
    for exp in registry.experiments(study):
        for name in exp.figures:
            png = root / "figures" / study / f"{name}.png"
            if name in seen or not png.exists():
                continue
            seen.add(name)
            txt = png.with_suffix(".txt")
            out.append((png, txt.read_text().strip() if txt.exists() else ""))
    return out


def _claims_rows(study: str, root: Path) -> str:
    """The study's generated claims table without its heading, or a note that it has not been run."""
    path = root / "paper" / "claims" / f"{study}.md"
    if not path.exists():
        return f"*No checks recorded yet: run `theorylab check --study {study}`.*\n"
    return "\n".join(line for line in path.read_text().splitlines() if not line.startswith("## ")).strip() + "\n"


def _derived_list(studies: list[str]) -> str:
    """Every claim whose source is not the paper itself, by study: the honest list."""
    lines = ["## What is derived or reconstructed rather than verified", "",
             "Claims marked `derived` follow from the model and are checked against an independent "
             "solution; `reconstructed` ones rest on our reading of material we could not verify in the "
             "paper. Neither kind is a statement of the paper.", ""]
    for study in studies:
        claims = {c.id: c for exp in registry.experiments(study) for c in exp.claim_objects()}
        rows = [c for c in claims.values() if c.source != "paper"]
        if rows:
            lines.append(f"**{study}**")
            lines.append("")
            lines += [f"- `{c.id}` ({c.source}): {c.statement}" for c in rows]
            lines.append("")
    return "\n".join(lines)


def merge_bibliographies(paths: list[Path]) -> str:
    """Concatenate BibTeX files, keeping the first entry of each key."""
    seen, out = set(), []
    for path in paths:
        text = path.read_text()
        starts = [m.start() for m in re.finditer(r"^@", text, flags=re.M)] + [len(text)]
        for a, b in zip(starts, starts[1:]):
            entry = text[a:b].strip()
            m = _BIB_ENTRY.match(entry)
            if m and m.group(1) not in seen:
                seen.add(m.group(1))
                out.append(entry)
    return "\n\n".join(out) + "\n"


def bib_title(key: str, paths: list[Path]) -> str | None:
    """The ``title`` of entry ``key`` in the first of ``paths`` that has it (braces dropped)."""
    for path in paths:
        if not path.exists():
            continue
        text = path.read_text()
        entry = re.search(r"@\w+\s*\{\s*" + re.escape(key) + r"\s*,(.*?)(?=^@|\Z)", text, flags=re.S | re.M)
        title = entry and re.search(r"\btitle\s*=\s*[{\"](.*?)[}\"]\s*,?\s*$", entry.group(1), flags=re.M | re.I)
        if title:
            return re.sub(r"[{}]", "", title.group(1)).strip()
    return None


def papers(studies: list[str]) -> dict[str, list[str]]:
    """Paper key -> its studies, in the order of ``studies`` (a study without ``PAPER`` is its own paper)."""
    out: dict[str, list[str]] = {}
    for study in studies:
        out.setdefault(registry.paper_key(study), []).append(study)
    return out


def _demote(markdown: str) -> str:
    """Every ATX heading one level deeper (a study's section under its paper's heading); code blocks kept."""
    lines, fenced = [], False
    for line in markdown.split("\n"):
        if line.startswith(("```", "~~~")):
            fenced = not fenced
        lines.append("#" + line if not fenced and re.match(r"#{1,5} ", line) else line)
    return "\n".join(lines)


def _study_part(study: str, section: Path, root: Path) -> str:
    parts = [section.read_text().strip(), ""]
    figures = rendered_figures(study, root)
    if figures:
        parts += ["### Figures", ""]
        for i, (png, caption) in enumerate(figures, 1):
            rel = png.relative_to(root).as_posix()
            parts += [f"![**Figure {study}.{i}** ({png.stem}). {caption}](../{rel})", ""]
    parts += ["### Checks", "", f"Measured by `theorylab check --study {study}`; sources as in "
              f"[the claims table](claims.md): {', '.join(f'`{s}`' for s in SOURCES)}.", "",
              _claims_rows(study, root)]
    return "\n".join(parts)


def assemble(root: Path, sources: Path | None = None) -> tuple[str, str]:
    """(paper.md, paper.bib) text from the outputs under ``root`` and the sources under ``sources``.

    ``sources`` replaces :func:`~theorylab.core.registry.project_root` for the intro and the
    built-in studies' sections; plugin studies' sections come from their packages.
    """
    paper = (sources or registry.project_root()) / "paper"
    files = {s: registry.section_files(s, sources) for s in registry.studies()}
    studies = [s for s, (md, _) in files.items() if md.exists()]
    bibs = [p for p in [paper / "intro.bib", *(files[s][1] for s in studies)] if p.exists()]
    parts = [(paper / "intro.md").read_text().strip(), ""]
    for key, group in papers(studies).items():
        if len(group) == 1:
            parts += [_study_part(group[0], files[group[0]][0], root)]
            continue
        title = bib_title(key, bibs) or key
        parts += [f"## {title}", "", f"Studies of [@{key}]: {', '.join(f'`{s}`' for s in group)}.", ""]
        parts += [_demote(_study_part(s, files[s][0], root)) for s in group]
    parts += [_derived_list(studies), "", "## References", ""]
    return "\n".join(parts), merge_bibliographies(bibs)


def pandoc_html(markdown: Path, bibliography: Path, out: Path) -> Path:
    """Build ``out`` (standalone HTML, MathML, citations resolved) with the pandoc bundled by pypandoc_binary."""
    import pypandoc

    tmp = out.with_name(f".{out.name}.tmp")  # written next to ``out``, then renamed: readers never see half
    try:
        done = subprocess.run([pypandoc.get_pandoc_path(), markdown.name, "--from", "markdown", "--to", "html5",
                               "--standalone", "--mathml", "--citeproc", "--bibliography", bibliography.name,
                               "--metadata", "link-citations=true", "--output", str(tmp.resolve())],
                              cwd=markdown.parent, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"pandoc failed on {markdown}: {done.stderr.strip()}")
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def build(root: Path, sources: Path | None = None) -> list[Path]:
    """Write ``paper/paper.md``, ``paper/paper.bib`` and ``paper/paper.html`` under ``root``."""
    text, bib = assemble(root, sources)
    md, bibfile = root / "paper" / "paper.md", root / "paper" / "paper.bib"
    write_atomic(md, text.encode())
    write_atomic(bibfile, bib.encode())
    return [md, bibfile, pandoc_html(md, bibfile, root / "paper" / "paper.html")]
