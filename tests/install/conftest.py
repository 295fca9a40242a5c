"""A fresh virtual environment with theorylab installed from its wheel, and the plugin study from tests/plugin.

Built once per session: both wheels are built from copies of the sources (the checkout stays
clean), the venv reuses the already-installed dependencies through a path file (the plain folder
paths of this interpreter's site-packages: their ``.pth`` files, among them an editable
theorylab's finder, are not run), and every command runs from a temporary folder without
``PYTHONPATH``, so the venv can only import the wheel's copy of theorylab (asserted).
"""

import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# what the wheel is built from: the package, the visible sources it carries, the build files
WHEEL_SOURCES = ["theorylab", "experiments", "paper/intro.md", "paper/sections",
                 "pyproject.toml", "setup.py", "MANIFEST.in", "README.md"]
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc", "build", "*.egg-info")


class Venv:
    def __init__(self, root: Path):
        self.root = root
        self.bin = root / "venv" / "bin"
        self.python = self.bin / "python"
        self.work = root / "work"  # the working directory of every command: no checkout around
        self.work.mkdir()
        self.env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "THEORYLAB_ROOT"}}
        self.env.update(PATH=f"{self.bin}{os.pathsep}{os.environ['PATH']}", THEORYLAB_CACHE=str(root / "cache"),
                        MPLBACKEND="Agg")

    def run(self, *argv: str, cwd: Path | None = None, check: bool = True, timeout: float = 600):
        done = subprocess.run([str(a) for a in argv], cwd=cwd or self.work, env=self.env, capture_output=True,
                              text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"{argv} exited {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return done

    def theorylab(self, *argv: str, **kwargs):
        return self.run(self.bin / "theorylab", *argv, **kwargs)

    def python_code(self, code: str, **kwargs):
        return self.run(self.python, "-c", code, **kwargs)


def _copy_sources(dest: Path) -> Path:
    for name in WHEEL_SOURCES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=IGNORE)
        else:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest / name)
    return dest


def _wheel(source: Path, out: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(out), str(source)], check=True, capture_output=True, text=True)
    [wheel] = out.glob("*.whl")
    return wheel


@pytest.fixture(scope="session")
def venv(tmp_path_factory) -> Venv:
    root = tmp_path_factory.mktemp("install")
    wheels = [_wheel(_copy_sources(root / "src"), root / "dist"),
              _wheel(shutil.copytree(REPO / "tests" / "plugin", root / "plugin", ignore=IGNORE), root / "dist-plugin")]
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True)
    env = Venv(root)
    purelib = env.python_code("import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip()
    deps = [p for p in site.getsitepackages() + [site.getusersitepackages()] if Path(p).is_dir()]
    Path(purelib, "_dependencies.pth").write_text("\n".join(deps) + "\n")
    # without PYTHONPATH: a checkout on it (with its egg-info) would count as theorylab already installed
    subprocess.run([sys.executable, "-m", "pip", "--python", str(env.python), "install", "--quiet", "--no-deps",
                    "--no-index", *map(str, wheels)], check=True, capture_output=True, text=True, env=env.env)
    where = env.python_code("import theorylab; print(theorylab.__file__)").stdout.strip()
    assert Path(where).is_relative_to(purelib), f"the venv imports theorylab from {where}, not the wheel"
    return env


@pytest.fixture(scope="session")
def listing(venv) -> str:
    """``theorylab list`` in the venv (run once: every command pays the package's import time)."""
    return venv.theorylab("list").stdout


EXPLORER = """
import json
from concurrent.futures import ThreadPoolExecutor
import panel as pn
from theorylab.explore.app import StudyPage, landing_page
text = ' '.join(o.object for o in landing_page().objects if isinstance(o, pn.pane.Markdown))
pn.panel(StudyPage('psr', experiment='bracketing')).get_root()  # a built-in page lays out
with ThreadPoolExecutor(1) as pool:  # the plugin's page runs a changed experiment in this process
    page = StudyPage('coin', experiment='flips', cache='explore-cache', executor=pool)
    page.widgets['flips'].value = 2000
    print(json.dumps({'landing': text, 'claims': page.claims.object,
                      'png': page.figures.objects[0].objects[0].object[:4] == b'\\x89PNG'}))
"""


@pytest.fixture(scope="session")
def explorer(venv) -> dict:
    """What the explorer's page builders show in the venv: the landing page, the coin page after a change."""
    pytest.importorskip("panel")
    import json

    return json.loads(venv.python_code(EXPLORER).stdout.strip().splitlines()[-1])
