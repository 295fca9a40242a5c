"""Build step: the wheel carries the built-in studies' experiments and report sources.

``experiments/`` and ``paper/`` (intro and sections) stay the visible sources at the top of
the repository; building copies them into ``theorylab/_sources`` inside the wheel, where
``theorylab.core.registry.project_root`` finds them when no source checkout is around.
An editable install reads them from the checkout and copies nothing.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
SOURCES = {  # folder in the repository -> file patterns the CLI reads from it
    "experiments": ["*/*.toml"],
    "paper": ["intro.md", "intro.bib", "sections/*.md", "sections/*.bib"],
}


class build_py_with_sources(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "theorylab" / "_sources"
        shutil.rmtree(target, ignore_errors=True)
        for folder, patterns in SOURCES.items():
            for pattern in patterns:
                for path in sorted((HERE / folder).glob(pattern)):
                    out = target / path.relative_to(HERE)
                    out.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, out)


setup(cmdclass={"build_py": build_py_with_sources})
