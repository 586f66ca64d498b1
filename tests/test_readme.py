"""The README runs as written: every command and Python block, in order, in one directory.

Blocks of YAML that open with a `# <path>` comment are the files the commands name, written
there before anything runs. Skipped lines: the install command and the checks (what CI runs
before this), the test commands (this suite) and the benchmark (minutes at full size;
`test_benchmark.py` runs it small).
Claude is the real SDK against a local Messages API server.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from support.messages_api import good_answer, tool_use

README = Path(__file__).resolve().parents[1] / "README.md"
NOT_RUN = ("pip install", "pytest", "python -m pytest", "ruff", "python benchmarks/")
DATARAUM = str(Path(sys.executable).with_name("dataraum"))


def _blocks() -> list[tuple[str, str]]:
    return re.findall(r"^```(\w+)\n(.*?)^```", README.read_text(encoding="utf-8"), re.M | re.S)


def _commands(block: str) -> list[str]:
    lines = [line.split("  #")[0].strip() for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#") and not line.startswith(NOT_RUN)]


def test_the_readme_has_what_this_test_runs():
    kinds = [kind for kind, _ in _blocks()]
    assert kinds.count("bash") >= 3 and kinds.count("python") >= 2
    assert any(block.startswith("# claude.yaml") for _, block in _blocks())


@pytest.mark.e2e
def test_every_readme_block_runs_as_written(tmp_path: Path, messages_api, monkeypatch):
    api = messages_api(lambda body: tool_use(good_answer(body["messages"][0]["content"])))
    env = {**os.environ, "ANTHROPIC_API_KEY": "sk-test", "ANTHROPIC_BASE_URL": api.url}
    monkeypatch.chdir(tmp_path)
    for kind, block in _blocks():
        path = re.match(r"# (\S+\.ya?ml)\n", block)
        if kind == "yaml" and path:
            (tmp_path / path.group(1)).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / path.group(1)).write_text(block, encoding="utf-8")
    namespace: dict = {}
    for kind, block in _blocks():
        if kind == "bash":
            for command in _commands(block):
                argv = shlex.split(command)
                argv = [DATARAUM if argv[0] == "dataraum" else argv[0], *_globbed(argv[1:], tmp_path)]
                proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
                assert proc.returncode == 0, f"`{command}` exited {proc.returncode}:\n{proc.stderr}"
        elif kind == "python":
            exec(compile(block, f"README.md python block {block.splitlines()[0]!r}", "exec"), namespace)
    assert api.requests, "the claude.yaml pipeline never asked the Messages API"
    assert (tmp_path / "context.json").is_file() and (tmp_path / "dag.dot").is_file()


def _globbed(args: list[str], cwd: Path) -> list[str]:
    """What a shell makes of the arguments' globs."""
    out = []
    for arg in args:
        matches = sorted(str(p.relative_to(cwd)) for p in cwd.glob(arg)) if "*" in arg else []
        out.extend(matches or [arg])
    return out
