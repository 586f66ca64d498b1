"""The two step packages of plugins/, installed by pip into a fresh virtual environment beside
the core: their steps join the default pipeline, `dataraum steps` names their distributions,
their results are sections of the context, their own tests pass there; uninstalled, the
pipeline and its context are as before."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from support.venvs import PLUGINS, STEP_PACKAGES, Venv

pytestmark = pytest.mark.e2e

ADVANCED = ("distribution_fits", "multivariate_outliers", "seasonal_decomposition")
FINANCIAL = ("double_entry_balance", "period_close_completeness", "sign_conventions", "trial_balance")
SECTIONS = ("## Distributions of numeric columns", "## Multivariate outliers", "## Seasonal decomposition",
            "## Double-entry balance: not applicable", "## Period close completeness: not applicable",
            "## Sign conventions: not applicable", "## Trial balance: not applicable")


def _ours(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`dataraum` in the environment running the tests, where no step package is installed."""
    return subprocess.run([sys.executable, "-c", "import sys; from dataraum_context.cli import main; "
                           "sys.exit(main())", *args], cwd=cwd, capture_output=True, text=True, timeout=900)


def _steps(out: str) -> dict[str, str]:
    return {line.split()[0]: line for line in out.splitlines()[1:]}


def _without_header(markdown: str) -> str:
    """The context without its first line, which holds the time it was generated."""
    return markdown.split("\n", 1)[1]


def test_dataraum_steps_names_each_step_and_its_package(step_packages_venv: Venv):
    listed = step_packages_venv.dataraum("steps")
    assert listed.returncode == 0, listed.stderr
    steps = _steps(listed.stdout)
    for name in ADVANCED:
        assert "dataraum-steps-statistics-advanced" in steps[name]
    for name in FINANCIAL:
        assert "dataraum-steps-quality-financial" in steps[name] and "phase=quality" in steps[name]
    assert " built-in " in steps["staging"] and " built-in " in steps["context_document"]
    names = list(steps)  # in the order they run: the package steps before the context
    assert names.index("seasonal_decomposition") > names.index("temporal_enrichment")
    assert names[-1] == "context_document"


def test_the_default_pipeline_context_has_their_sections(step_packages_venv: Venv, tmp_path: Path):
    demo = step_packages_venv.dataraum("demo", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    positions = [demo.stdout.index(title) for title in SECTIONS]
    assert positions == sorted(positions) and positions[0] > demo.stdout.index("## products (")
    assert "| orders | amount | gamma |" in demo.stdout
    assert "- not applicable: the ontology base 1.0.0 has no concept journal_entry_id" in demo.stdout


@pytest.mark.parametrize("package", STEP_PACKAGES)
def test_the_packages_own_tests_pass_where_it_is_installed(step_packages_venv: Venv, package: str):
    tests = step_packages_venv.python_run("-m", "pytest", "-q", "-p", "no:cacheprovider", "tests",
                                          cwd=PLUGINS / package)
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
    assert " passed" in tests.stdout and "failed" not in tests.stdout


def test_uninstalled_nothing_changes(step_packages_venv: Venv, tmp_path: Path):
    """Runs last: it uninstalls the packages, and installs them again when done."""
    env = step_packages_venv
    (tmp_path / "ours").mkdir(), (tmp_path / "theirs").mkdir()
    try:
        env.pip("uninstall", "-y", *STEP_PACKAGES)
        listed, ours = env.dataraum("steps"), _ours("steps", cwd=tmp_path)
        assert listed.returncode == 0 and listed.stdout == ours.stdout
        demo, our_demo = env.dataraum("demo", cwd=tmp_path / "theirs"), _ours("demo", cwd=tmp_path / "ours")
        assert demo.returncode == 0, demo.stderr
        assert _without_header(demo.stdout) == _without_header(our_demo.stdout)
        assert not any(title in demo.stdout for title in SECTIONS)
    finally:
        env.pip("install", "--no-deps", *map(str, sorted((env.root / "wheels").glob("*.whl"))))
