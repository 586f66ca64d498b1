"""The README runs as written: every command and Python block, in order, in one directory.

Blocks of YAML that open with a `# <path>` comment are the files the commands name, written
there before anything runs (`support/pages.py`). Skipped lines: the install command and the checks (what CI
runs before this), the test commands (this suite), the benchmark (minutes at full size;
`test_benchmark.py` runs it small) and the MCP server (`test_mcp_e2e.py` runs it).
Claude is the real SDK against a local Messages API server.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support.messages_api import good_answer, tool_use
from support.pages import code_blocks, run_commands, run_python, write_files

README = Path(__file__).resolve().parents[1] / "README.md"
# `dataraum mcp` is a server that runs until its client leaves: test_mcp_e2e.py runs it
NOT_RUN = ("pip install", "pytest", "python -m pytest", "ruff", "mypy", "python benchmarks/", "dataraum mcp")


def test_the_readme_has_what_this_test_runs():
    kinds = [block.kind for block in code_blocks(README)]
    assert kinds.count("bash") >= 3 and kinds.count("python") >= 2
    assert "claude.yaml" in {block.file for block in code_blocks(README)}


@pytest.mark.e2e
def test_every_readme_block_runs_as_written(tmp_path: Path, messages_api, monkeypatch):
    api = messages_api(lambda body: tool_use(good_answer(body["messages"][0]["content"])))
    env = {**os.environ, "ANTHROPIC_API_KEY": "sk-test", "ANTHROPIC_BASE_URL": api.url}
    monkeypatch.chdir(tmp_path)
    blocks = code_blocks(README)
    write_files(blocks, tmp_path)
    namespace: dict = {}
    for block in blocks:
        if block.kind == "bash":
            run_commands(block, tmp_path, env, NOT_RUN)
        elif block.kind == "python":
            run_python(block, "README.md", namespace)
    assert api.requests, "the claude.yaml pipeline never asked the Messages API"
    assert (tmp_path / "context.json").is_file() and (tmp_path / "dag.dot").is_file()
