"""docs/EXTENDING.md run as written: its files created, each package pip-installed into one
fresh virtual environment beside the core, its commands run there, and what they say checked."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from support.pages import Block, code_blocks, commands
from support.venvs import REPO, Venv, fresh_venv, wheels

pytestmark = pytest.mark.e2e

PAGE = REPO / "docs" / "EXTENDING.md"
DATA = (".csv", ".psv")  # files whose `# <path>` line is not part of them


def _write(blocks: list[Block], folder: Path) -> None:
    for block in blocks:
        named = re.match(r"# (\S+)\n", block.text)
        if named:
            path = folder / named.group(1)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(block.text[named.end():] if path.suffix in DATA else block.text, encoding="utf-8")


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Block], Path, Venv]:
    blocks, folder = code_blocks(PAGE), tmp_path_factory.mktemp("extending")
    _write(blocks, folder)
    return blocks, folder, fresh_venv(tmp_path_factory.mktemp("venv"))


def _run(page: tuple[list[Block], Path, Venv], heading: str) -> dict[str, subprocess.CompletedProcess[str]]:
    """The section's commands, run in the fresh environment: `pip install ./x` installs x's
    wheel there, `dataraum ...` runs its command line. Their results by command line."""
    blocks, folder, env = page
    ran = {}
    for block in (b for b in blocks if b.heading == heading and b.kind == "bash"):
        for command in commands(block):
            argv = shlex.split(command)
            if argv[:2] == ["pip", "install"]:
                ran[command] = env.pip("install", "--no-deps", *map(str, wheels(
                    [folder / argv[2]], folder / "wheels" / Path(argv[2]).name)))
                continue
            assert argv[0] == "dataraum", f"{heading}: a command the test cannot run: {command}"
            ran[command] = proc = env.dataraum(*argv[1:], cwd=folder)
            assert proc.returncode == 0, f"{heading}: `{command}` exited {proc.returncode}:\n{proc.stderr}"
    assert ran, f"{heading}: no commands"
    return ran


def test_every_section_has_a_test():
    headings = {b.heading for b in code_blocks(PAGE)} - {""}
    tested = {name[len("test_"):].replace("_", " ") for name in globals() if name.startswith("test_")}
    assert {h.lower() for h in headings} <= tested


def test_a_loader(page):
    ran = _run(page, "A loader")
    assert re.search(r"^\s*psv\b.*untyped", ran["dataraum loaders"].stdout, re.M)
    context = (page[1] / "returns.md").read_text()
    assert "## returns (2 rows)" in context and "| reason |" in context


def test_an_ontology(page):
    ran = _run(page, "An ontology")
    assert re.search(r"^\s*shipping\b.*plugin shipping", ran["dataraum ontology list"].stdout, re.M)
    context = (page[1] / "shipping.md").read_text()
    assert "ontology shipping 1.0.0" in context and "measure: parcel_weight" in context


def test_a_step_package(page):
    ran = _run(page, "A step package")
    assert re.search(r"^\s*sparse_columns\s.*dataraum-steps-sparse", ran["dataraum steps"].stdout, re.M)
    context = (page[1] / "sparse.md").read_text()
    assert "## Sparse columns\n\nColumns with more than 30% of their values missing." in context
    assert "| shipments.notes | 100% |" in context and "shipments.delivered_on" in context


def test_an_llm_provider(page):
    _run(page, "An LLM provider")
    context = (page[1] / "glossary.md").read_text()
    assert "semantics by glossary" in context and "\n\nOne row per parcel handed to a carrier.\n" in context
    (shipments,) = json.loads((page[1] / "glossary.json").read_text())["tables"]
    described = {c["name"]: c["description"] for c in shipments["columns"]}
    assert described["shipment_id"] == "The waybill number printed on the parcel label."


def test_an_engine(page):
    ran = _run(page, "An engine")
    (timed,) = [proc for command, proc in ran.items() if "--engine timed" in command]
    assert len(re.findall(r"^timed: \w+ \d+\.\d\d s$", timed.stderr, re.M)) == 3
    assert "## shipments (5 rows)" in (page[1] / "timed.md").read_text()


def test_an_output_format(page):
    ran = _run(page, "An output format")
    assert re.search(r"^\s*tsv\b.*\.tsv.*tab-separated", ran["dataraum formats"].stdout, re.M)
    lines = (page[1] / "columns.tsv").read_text().splitlines()
    assert lines[0] == "table\tcolumn\ttype\trole\tbusiness_term"
    assert "shipments\tweight_kg\tDOUBLE\tmeasure" in "\n".join(lines)
