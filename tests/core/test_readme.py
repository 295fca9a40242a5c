"""The README's commands are the ones that run: CI's script is exactly its test command."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_ci_runs_exactly_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    ci = [line for line in (REPO / ".ci" / "run").read_text().splitlines() if line and not line.startswith(("#", "set ", "cd "))]
    assert len(ci) == 1 and f"```bash\n{ci[0]}\n```" in readme


def test_the_test_command_installs_every_extra_the_tests_need():
    ci = (REPO / ".ci" / "run").read_text()
    extras = set(re.search(r'pip install -e "\.\[([\w,]+)\]"', ci).group(1).split(","))
    assert {"test", "explore", "docs"} <= extras
