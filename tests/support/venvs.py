"""Plugins installed for real: into a directory on this interpreter's path (`on_path`), or into
a fresh virtual environment beside the one running the tests, where plugin packages are
really installed with pip (and uninstalled again) without touching this one.

The new environment sees this interpreter's packages (the core, installed as the README says,
and every dependency) through a `.pth` file that adds their directories as site directories,
so nothing is downloaded but the build backend of the packages pip builds; what pip installs
there comes first on its path. `python -m venv --system-site-packages` would not do: from
inside a venv it reaches the base interpreter's packages, not the venv's.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import venv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]
PLUGINS = REPO / "plugins"
STEP_PACKAGES = ("dataraum-steps-statistics-advanced", "dataraum-steps-quality-financial")


def on_path(plugin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """plugins/<plugin> installed by pip into a directory put on sys.path for the block, where
    importlib.metadata finds its entry points like any installed distribution's."""
    site = tmp_path_factory.mktemp("site-packages")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site),
                    str(PLUGINS / plugin)], check=True, capture_output=True)
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    yield site
    sys.path.remove(str(site))


@dataclass(frozen=True)
class Venv:
    root: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    def pip(self, *args: str) -> subprocess.CompletedProcess[str]:
        """This interpreter's pip, installing into the new environment."""
        return self.run_checked(sys.executable, "-m", "pip", "--python", str(self.python), "-q", *args)

    def python_run(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.python), *args], cwd=cwd, capture_output=True, text=True, timeout=900)

    def dataraum(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """The `dataraum` command as the new environment runs it."""
        return self.python_run("-c", "import sys; from dataraum_context.cli import main; sys.exit(main())",
                               *args, cwd=cwd)

    @staticmethod
    def run_checked(*argv: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr}"
        return proc


def fresh_venv(root: Path) -> Venv:
    venv.create(root, with_pip=False, symlinks=True)
    env = Venv(root)
    site = Venv.run_checked(str(env.python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))")
    ours = [p for p in sys.path if p.endswith(("site-packages", "dist-packages")) and Path(p).is_dir()]
    (Path(site.stdout.strip()) / "_tests_parent_packages.pth").write_text(
        "import site; " + "; ".join(f"site.addsitedir({p!r})" for p in ours) + "\n", encoding="utf-8")
    return env


def wheels(folders: list[Path], out: Path) -> list[Path]:
    """The packages in `folders` built into wheels by this interpreter's pip (the new
    environment's `.pth` would let this one's build backend shadow the one pip isolates)."""
    Venv.run_checked(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), *map(str, folders))
    return sorted(out.glob("*.whl"))


@pytest.fixture(scope="session")
def step_packages_venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """One fresh environment per session with both step packages installed by pip."""
    env = fresh_venv(tmp_path_factory.mktemp("venv"))
    env.pip("install", "--no-deps", *map(str, wheels([PLUGINS / n for n in STEP_PACKAGES], env.root / "wheels")))
    return env
