"""The project's layout: test helpers and fixtures live in `tests/support/`, so every module
at the top of `tests/` besides `conftest.py` is a test module; every package is in the wheel."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).parent


def test_helpers_live_in_support():
    loose = sorted(p.name for p in TESTS.glob("*.py") if p.name != "conftest.py" and not p.name.startswith("test_"))
    assert not loose, f"move these helpers to tests/support/: {', '.join(loose)}"


def test_every_package_is_in_the_wheel():
    """pyproject.toml lists the packages the wheel holds: a new package left out of it works in
    an editable install and is missing from the wheel."""
    import tomllib

    root = TESTS.parent
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    source = root / "src"
    found = {".".join(p.parent.relative_to(source).parts) for p in source.rglob("__init__.py")}
    assert found <= listed, f"add to [tool.setuptools] packages: {', '.join(sorted(found - listed))}"
