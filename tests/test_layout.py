"""The suite's own layout: test helpers and fixtures live in `tests/support/`, so every module
at the top of `tests/` besides `conftest.py` is a test module."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).parent


def test_helpers_live_in_support():
    loose = sorted(p.name for p in TESTS.glob("*.py") if p.name != "conftest.py" and not p.name.startswith("test_"))
    assert not loose, f"move these helpers to tests/support/: {', '.join(loose)}"
