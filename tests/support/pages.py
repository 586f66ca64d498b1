"""A documentation page run as written: its code blocks, the files it tells the reader to
create, and its commands.

A block whose first line is a `# <path>` comment naming a `.yaml`/`.yml`/`.py` file is a file
the reader creates there; `write_files` writes them all before anything runs. Commands run
with this interpreter's `dataraum` script and the shell's globbing.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DATARAUM = str(Path(sys.executable).with_name("dataraum"))


@dataclass(frozen=True)
class Block:
    kind: str  # the fence's language: python, bash, yaml
    text: str
    heading: str  # the `##` section it is in ("" before the first)

    @property
    def file(self) -> str | None:
        """The path this block is the content of, when it names one."""
        named = re.match(r"# (\S+\.(?:ya?ml|py))\n", self.text)
        return named.group(1) if named else None


def code_blocks(page: Path) -> list[Block]:
    blocks, heading = [], ""
    for section, kind, text in re.findall(r"^## (.*?)$|^```(\w+)\n(.*?)^```",
                                          page.read_text(encoding="utf-8"), re.M | re.S):
        if section:
            heading = section
        else:
            blocks.append(Block(kind, text, heading))
    return blocks


def write_files(blocks: list[Block], directory: Path) -> list[Path]:
    written = []
    for block in blocks:
        if block.file:
            path = directory / block.file
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(block.text, encoding="utf-8")
            written.append(path)
    return written


def commands(block: Block, not_run: tuple[str, ...] = ()) -> list[str]:
    """The block's command lines, without comments and the lines starting with `not_run`."""
    lines = [line.split("  #")[0].strip() for line in block.text.splitlines()]
    return [line for line in lines if line and not line.startswith("#") and not line.startswith(not_run)]


def run_commands(block: Block, cwd: Path, env: Mapping[str, str], not_run: tuple[str, ...] = ()) -> None:
    """Run each command of a bash block; one that fails fails the test with its stderr."""
    for command in commands(block, not_run):
        argv = shlex.split(command)
        argv = [DATARAUM if argv[0] == "dataraum" else argv[0], *_globbed(argv[1:], cwd)]
        proc = subprocess.run(argv, cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"`{command}` exited {proc.returncode}:\n{proc.stderr}"


def run_python(block: Block, page: str, namespace: dict | None = None) -> dict:
    """Execute a Python block in `namespace` (the earlier blocks'), or on its own as a reader
    pasting only it would; the namespace."""
    namespace = {} if namespace is None else namespace
    exec(compile(block.text, f"{page} python block {block.text.splitlines()[0]!r}", "exec"), namespace)
    return namespace


def _globbed(args: list[str], cwd: Path) -> list[str]:
    """What a shell makes of the arguments' globs."""
    out = []
    for arg in args:
        matches = sorted(str(p.relative_to(cwd)) for p in cwd.glob(arg)) if "*" in arg else []
        out.extend(matches or [arg])
    return out
