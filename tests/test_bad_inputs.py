"""The first hour's bad inputs (issue 9), rebuilt as a corpus: odd and broken files, sources.yaml,
pipeline and ontology YAML, URIs, output paths and workspaces, each given to the real `dataraum`
command in a process of its own, all at once.

Every case is judged the same way: no traceback, no hang (60 s), no crash, the exit code the CLI
promises (2 and exactly one `dataraum: error:` line naming the culprit for a user error; 1 only
for a failed step or an incomplete run; 0 for input that is odd but valid), no credential in any
output or workspace file in any encoding, no temporary file left behind, and where the source has
readable rows: every row typed or rejected, a few known values read back exactly, and a Markdown
context whose tables stay tables. A case is a few lines: a builder that writes its input into
the case's directory and returns the command and what to check.

`test_cli_errors.py` and `test_loaders.py` hold the targeted tests; this is the broad sweep.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import quote, quote_plus

import duckdb
import polars as pl
import pytest
import xlsxwriter

from dataraum_context import Workspace

pytestmark = pytest.mark.e2e

TESTS = Path(__file__).parent
SCRIPT = Path(sys.executable).with_name("dataraum")
TIMEOUT_S = 60
TRACEBACK = "Traceback (most recent call last)"
SECRET = "s3cr/t+k=y&Q"  # a credential with every character that encodings change
ORDERS = "id,name,amount\n1,Ann,12.50\n2,café,7\n3,Zoë,\n"  # three rows, a value to read back


@dataclass
class Run:
    """A command for one case and what to check beyond the exit code."""

    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows in its source
    values: dict[str, object] = field(default_factory=dict)  # SQL over the workspace -> its one value
    secret: str | None = None  # must appear nowhere, in no encoding
    prefix: tuple[str, ...] = ()  # e.g. `unshare --user`, where permission bits must bind
    after: Callable[[str], list[str]] | None = None  # further problems to look for in stderr and the files
    cleanup: Callable[[], None] | None = None


Builder = Callable[[Path], Run]


@dataclass(frozen=True)
class Case:
    category: str
    name: str
    exit: int
    build: Builder
    names: str = ""  # what the one error line names (exit 2); {d} is the case's directory

    @property
    def id(self) -> str:
        return f"{self.category}: {self.name}"


# --- writing inputs ------------------------------------------------------------------------

Content = str | bytes | Callable[[Path], object]


def put(path: Path, content: Content) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        content(path)
    return path


def source(name: str, content: Content, *, rows: int | None = None, values: dict[str, object] | None = None,
           pipeline: str = "quick_profile", table: str = "t", args: tuple[str, ...] = ()) -> Builder:
    """`dataraum run` on one file; `rows` in the source table, and values to read back."""
    def build(d: Path) -> Run:
        path = put(d / name, content)
        return Run(["run", str(path), "--pipeline", pipeline, *args],
                   rows={table: rows} if rows is not None else {}, values=values or {})
    return build


def files(contents: dict[str, Content], given: str = "data", *, rows: dict[str, int] | None = None,
          values: dict[str, object] | None = None) -> Builder:
    """`dataraum run` on a directory (or a glob in it) holding several files."""
    def build(d: Path) -> Run:
        for name, content in contents.items():
            put(d / "data" / name, content)
        return Run(["run", str(d / given), "--pipeline", "quick_profile"], rows=rows or {}, values=values or {})
    return build


def config(name: str, text: str, *command: str, env: dict[str, str] | None = None, secret: str | None = None,
           rows: dict[str, int] | None = None) -> Builder:
    """A YAML file (`{d}` is the case directory, where orders.csv lies) and a command naming
    it as `{file}`."""
    def build(d: Path) -> Run:
        put(d / "orders.csv", ORDERS)
        path = put(d / name, text.replace("{d}", str(d)))
        return Run([a.replace("{file}", str(path)).replace("{d}", str(d)) for a in command],
                   env=env or {}, secret=secret, rows=rows or {})
    return build


def sources_yaml(text: str, **kw) -> Builder:
    return config("sources.yaml", text, "run", "{file}", "--pipeline", "quick_profile", **kw)


def pipeline_yaml(text: str, *extra: str) -> Builder:
    return config("pipeline.yaml", text, "run", "{d}/orders.csv", "--pipeline", "{file}", *extra)


def ontology_yaml(text: str, *, name: str = "mine") -> Builder:
    return config(f"{name}.yaml", f"name: {name}\n{text}", "ontology", "validate", "{file}")


def command(*args: str, **kw) -> Builder:
    def build(d: Path) -> Run:
        put(d / "orders.csv", ORDERS)
        return Run([a.replace("{d}", str(d)) for a in args], **kw)
    return build


def not_utf8(name: str, text: str) -> Builder:
    """A YAML file in Latin-1, given where YAML is read: a sources.yaml or a pipeline."""
    def build(d: Path) -> Run:
        path = put(d / name, text.encode("latin-1"))
        given = [str(path)] if name == "sources.yaml" else [str(put(d / "orders.csv", ORDERS)), "--pipeline", str(path)]
        return Run(["run", *given])
    return build


def csv_lines(header: str, rows: list[str], end: str = "\n") -> str:
    return end.join([header, *rows]) + end


def parquet(frame: dict[str, list]) -> Callable[[Path], object]:
    return lambda path: pl.DataFrame(frame).write_parquet(path)


def truncated(content: Callable[[Path], object], keep: float) -> Callable[[Path], object]:
    """A file cut off as a copy or a download that stopped part way."""
    def write(path: Path) -> None:
        content(path)
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * keep)])
    return write


def workbook(sheets: dict[str, list[list[object]]]) -> Callable[[Path], object]:
    def write(path: Path) -> None:
        book = xlsxwriter.Workbook(path, {"strings_to_formulas": False})
        for name, rows in sheets.items():
            sheet = book.add_worksheet(name)
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    sheet.write(r, c, value)
        book.close()
    return write


def sqlite_db(script: str) -> Callable[[Path], object]:
    def write(path: Path) -> None:
        with sqlite3.connect(path) as con:
            con.executescript(script)
        con.close()
    return write


def duckdb_db(script: str) -> Callable[[Path], object]:
    def write(path: Path) -> None:
        with duckdb.connect(str(path)) as con:
            con.execute(script)
    return write


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buffer.getvalue()


def wide_csv(columns: int, rows: int) -> str:
    return csv_lines(",".join(f"c{i}" for i in range(columns)),
                     [",".join(str(r * columns + i) for i in range(columns)) for r in range(rows)])


def many_rows(n: int, last: str = "") -> str:
    return csv_lines("id,name", [f"{i},café" for i in range(1, n + 1)]) + last


def held_lock(ws: Path) -> tuple[Callable[[], None], str]:
    """The workspace's write lock held by another process (the library, as a notebook would)."""
    code = ("import sys; from dataraum_context.workspace import Workspace\n"
            f"with Workspace({str(ws)!r}).lock():\n    print('held', flush=True); sys.stdin.read()")
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"

    def release() -> None:
        proc.communicate(timeout=30)
    return release, str(proc.pid)


# --- the cases -------------------------------------------------------------------------------

NAME = "SELECT name FROM t WHERE id = 2"  # 'café' in ORDERS-like sources


def _files() -> list[Case]:
    c = "files"
    quoted_names = csv_lines("id,name", [f'{i},"Name, {i}"' for i in range(1, 101)]) + '101,"never closed\n'
    return [
        Case(c, "empty file", 2, source("t.csv", b""), "t.csv"),
        Case(c, "only whitespace", 2, source("t.csv", " \n\n \t\n"), "t.csv"),
        Case(c, "only a header", 0, source("t.csv", "id,name\n", rows=0)),
        Case(c, "only a header, no newline", 0, source("t.csv", "id,name", rows=0)),
        Case(c, "header and blank lines", 0, source("t.csv", "id,name\n\n\n\n", rows=0)),
        Case(c, "binary bytes as .csv", 2, source("t.csv", bytes(range(256)) * 64), "t.csv"),
        Case(c, "a PNG named .csv", 2, source("t.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 200),
             "t.csv"),
        Case(c, "truncated gzip", 2, source("t.csv.gz", gzip.compress(many_rows(20000).encode())[:3000]),
             "t.csv.gz"),
        Case(c, "not gzip at all as .csv.gz", 2, source("t.csv.gz", ORDERS), "t.csv.gz"),
        Case(c, "empty gzip", 2, source("t.csv.gz", gzip.compress(b"")), "t.csv.gz"),
        Case(c, "gzip CSV", 0, source("t.csv.gz", gzip.compress(ORDERS.encode()), rows=3, values={NAME: "café"})),
        Case(c, "truncated zstd", 2, source("t.csv.zst", __import__("zstandard").ZstdCompressor().compress(
            many_rows(20000).encode())[:2000]), "t.csv.zst"),
        Case(c, "CSV named .json", 2, source("t.json", ORDERS), "t.json"),
        Case(c, "Parquet named .csv", 2, source("t.csv", parquet({"id": list(range(100))})), "t.csv"),
        Case(c, "CSV named .parquet", 2, source("t.parquet", ORDERS), "t.parquet"),
        Case(c, "CSV named .xlsx", 2, source("t.xlsx", ORDERS), "t.xlsx"),
        Case(c, "unknown extension .dat", 2, source("t.dat", ORDERS), "t.dat"),
        Case(c, "no extension", 2, source("orders", ORDERS), "orders"),
        Case(c, "upper-case .CSV", 0, source("T.CSV", ORDERS, table="T", rows=3)),
        Case(c, "tab-separated .tsv", 0, source("t.tsv", ORDERS.replace(",", "\t"), rows=3, values={NAME: "café"})),
        Case(c, "semicolons in .txt", 0, source("t.txt", ORDERS.replace(",", ";"), rows=3, values={NAME: "café"})),
        Case(c, "pipes as delimiter", 0, source("t.csv", ORDERS.replace(",", "|"), rows=3, values={NAME: "café"})),
        Case(c, "directory with no data files", 2, files({"README.md": "# notes", ".hidden.csv": ORDERS}),
             "no data files"),
        Case(c, "a directory named .csv", 2, lambda d: Run(["run", str((d / "t.csv").mkdir() or d / "t.csv"),
                                                               "--pipeline", "quick_profile"]), "t.csv"),
        Case(c, "a glob matching nothing", 2, files({"a.csv": ORDERS}, "data/*.parquet"), "no files match"),
        Case(c, "a glob matching only directories", 2, files({"x.csv/keep": "", "a.txt/keep": ""}, "data/*.csv"),
             "no files match"),
        Case(c, "a missing path", 2, source("t.csv", ORDERS, args=("{d}/nope.csv",)), "nope.csv"),
        Case(c, "a dangling symlink", 2, lambda d: Run(["run", str(_symlink(d / "t.csv", d / "gone.csv")),
                                                        "--pipeline", "quick_profile"]), "t.csv"),
        Case(c, "two files making one table", 2, files({"t.csv": ORDERS, "t.csv.gz": gzip.compress(ORDERS.encode())}),
             "'t'"),
        Case(c, "a good and an empty file", 1, files({"t.csv": ORDERS, "empty.csv": ""}, rows={"t": 3})),
        Case(c, "file name with spaces and quotes", 0,
             source("it's my (2024) data.csv", ORDERS, table="it's my (2024) data", rows=3)),
        Case(c, "file name a SQL keyword", 0, source("select.csv", ORDERS, table="select", rows=3)),
        Case(c, "file name starting with a digit", 0, source("2024.csv", ORDERS, table="2024", rows=3)),
        # encodings
        Case(c, "UTF-8 rows then a Latin-1 byte after 64 KiB", 0,
             source("t.csv", many_rows(8000).encode() + "8001,Müller\n".encode("latin-1"),
                    rows=8001, values={NAME: "café", "SELECT count(*) FROM t WHERE name = 'café'": 8000})),
        Case(c, "Latin-1 file", 0, source("t.csv", ORDERS.replace("Zoë", "Müller").encode("latin-1"),
                                          rows=3, values={NAME: "café", "SELECT name FROM t WHERE id = 3": "Müller"})),
        Case(c, "cp1252 with euro signs", 0, source("t.csv", "id,name\n1,5 €\n2,café\n".encode("cp1252"), rows=2,
                                                    values={NAME: "café", "SELECT name FROM t WHERE id = 1": "5 €"})),
        Case(c, "UTF-8 BOM", 0, source("t.csv", b"\xef\xbb\xbf" + ORDERS.encode(), rows=3,
                                       values={"SELECT id FROM t WHERE name = 'café'": 2})),
        Case(c, "UTF-16 LE with BOM", 0, source("t.csv", ORDERS.encode("utf-16"), rows=3, values={NAME: "café"})),
        Case(c, "UTF-16 BE with BOM", 0, source("t.csv", b"\xfe\xff" + ORDERS.encode("utf-16-be"), rows=3,
                                                values={NAME: "café"})),
        Case(c, "UTF-16 without BOM", 2, source("t.csv", ORDERS.encode("utf-16-le")), "t.csv"),
        Case(c, "a BOM and nothing else", 2, source("t.csv", b"\xef\xbb\xbf"), "t.csv"),
        # shape
        Case(c, "ragged row: too many fields", 0,
             source("t.csv", csv_lines("order_no,cust_id,amount", ["1,2,3", "4,5,6,7", "8,9,10"]), rows=3)),
        Case(c, "ragged row: too few fields", 0,
             source("t.csv", csv_lines("order_no,cust_id,amount", ["1,2,3", "4,5", "8,9,10"]), rows=3)),
        Case(c, "unterminated quote at the end", 0,
             source("t.csv", quoted_names, rows=101, values={"SELECT name FROM t WHERE id = 7": "Name, 7"})),
        Case(c, "unterminated quote at the end, CRLF", 0,
             source("t.csv", quoted_names.replace("\n", "\r\n"), rows=101,
                    values={"SELECT name FROM t WHERE id = 100": "Name, 100"})),
        Case(c, "unterminated quote in the middle", 0,
             source("t.csv", csv_lines("id,name", ["1,a", '2,"b', "3,c", "4,d"]), rows=4)),
        Case(c, "duplicate header names", 0, source("t.csv", "id,id,name\n1,2,a\n3,4,b\n", rows=2)),
        Case(c, "empty header names", 0, source("t.csv", "id,,name,\n1,2,a,x\n3,4,b,y\n", rows=2)),
        Case(c, "header of only delimiters", 0, source("t.csv", ",,\n1,2,3\n4,5,6\n", rows=2)),
        Case(c, "1,200 columns", 0, source("t.csv", wide_csv(1200, 5), rows=5,
                                          values={"SELECT c1199 FROM t WHERE c0 = 0": 1199})),
        Case(c, "a 4 MB value", 0, source("t.csv", "id,blob\n1," + "x" * 4_000_000 + "\n2,y\n", rows=2,
                                         values={"SELECT length(blob) FROM t WHERE id = 1": 4_000_000})),
        Case(c, "a 20,000-character header name", 0, source("t.csv", "id," + "h" * 20_000 + "\n1,2\n", rows=1)),
        Case(c, "a NUL byte in a value", 2, source("t.csv", "id,name\n1,a\x00b\n2,c\n"), "t.csv"),
        Case(c, "CRLF line ends", 0, source("t.csv", ORDERS.replace("\n", "\r\n"), rows=3,
                                            values={NAME: "café", "SELECT max(length(name)) FROM t": 4})),
        Case(c, "CR line ends", 0, source("t.csv", ORDERS.replace("\n", "\r"), rows=3, values={NAME: "café"})),
        Case(c, "mixed line ends: refused, named", 2, source("t.csv", "id,name\r\n1,a\n2,café\r\n3,c\n"), "t.csv"),
        Case(c, "no newline at the end", 0, source("t.csv", ORDERS.rstrip("\n"), rows=3, values={NAME: "café"})),
        Case(c, "formula-looking values", 0, source("t.csv", csv_lines("id,name", [
            "1,=1+2", "2,+SUM(A1:A9)", "3,-2+3", "4,@cmd", '5,"=HYPERLINK(""http://x"")"']), rows=5,
            values={"SELECT name FROM t WHERE id = 1": "=1+2", "SELECT name FROM t WHERE id = 5":
                    '=HYPERLINK("http://x")'})),
        Case(c, "pipes in values", 0, source("t.csv", csv_lines("id,note", ['1,"a | b"', '2,"|"', "3,c"]), rows=3,
                                             values={"SELECT note FROM t WHERE id = 1": "a | b"})),
        Case(c, "newlines and headings in values", 0, source("t.csv", csv_lines("id,note", [
            '1,"line one\n# INJECTED heading"', '2,"two\nlines"', "3,c"]), rows=3,
            values={"SELECT note FROM t WHERE id = 1": "line one\n# INJECTED heading"})),
        Case(c, "pipes, hashes and newlines in header names", 0, source("t.csv", csv_lines(
            '"a|b","# INJECTED","multi\nline",id', ["1,2,3,4", "5,6,7,8"]), rows=2)),
        Case(c, "backslashes and backticks in values", 0, source("t.csv", csv_lines("id,note", [
            "1,C:\\path\\", "2,`code`", "3,<b>html</b>"]), rows=3,
            values={"SELECT note FROM t WHERE id = 1": "C:\\path\\"})),
        Case(c, "only one column and one row", 0, source("t.csv", "x\n1\n", rows=1)),
        Case(c, "thousands of rows of one value", 0, source("t.csv", csv_lines("v", ["7"] * 5000), rows=5000)),
    ]


def _symlink(link: Path, target: Path) -> Path:
    link.symlink_to(target)
    return link


def _json_and_binary() -> list[Case]:
    c = "files: json"
    records = [{"id": 1, "name": "Ann"}, {"id": 2, "name": "café"}, {"id": 3, "name": None}]
    out = [
        Case(c, "scalar number", 2, source("t.json", "42"), "t.json"),
        Case(c, "scalar string", 2, source("t.json", '"text"'), "t.json"),
        Case(c, "null", 2, source("t.json", "null"), "t.json"),
        Case(c, "true", 2, source("t.json", "true"), "t.json"),
        Case(c, "empty array", 2, source("t.json", "[]"), "t.json"),
        Case(c, "empty object", 2, source("t.json", "{}"), "t.json"),
        Case(c, "empty file", 2, source("t.json", ""), "t.json"),
        Case(c, "malformed", 2, source("t.json", '[{"id": 1, "name": '), "t.json"),
        Case(c, "trailing comma", 2, source("t.json", '[{"id": 1},]'), "t.json"),
        Case(c, "NDJSON with a bad line", 2, source("t.ndjson", '{"id": 1}\n{"id": 2,\n{"id": 3}\n'), "t.ndjson"),
        Case(c, "one object", 0, source("t.json", '{"id": 2, "name": "café"}', rows=1, values={NAME: "café"})),
        Case(c, "array of records", 0, source("t.json", json.dumps(records), rows=3, values={NAME: "café"})),
        Case(c, "NDJSON with blank lines", 0, source("t.jsonl", "\n".join(json.dumps(r) + "\n" for r in records),
                                                     rows=3, values={NAME: "café"})),
        Case(c, "JSON with a BOM", 0, source("t.json", b"\xef\xbb\xbf" + json.dumps(records).encode(), rows=3,
                                             values={NAME: "café"})),
        Case(c, "a 30-digit integer kept exactly", 0, source(
            "t.json", '[{"id": 1, "n": 123456789012345678901234567890}, {"id": 2, "n": 5}]', rows=2,
            values={"SELECT n::VARCHAR FROM t WHERE id = 1": "123456789012345678901234567890",
                    "SELECT n::VARCHAR FROM t WHERE id = 2": "5"})),
        Case(c, "nested 500 deep: a bound, said", 2,
             source("t.json", '[{"id": 1, "d": ' + "[" * 500 + "]" * 500 + "}]"), "maximum recursion depth"),
        Case(c, "pipes and newlines in keys", 0, source("t.json", json.dumps([{"a|b": 1, "# INJECTED\nkey": "x|y"}]),
                                                       rows=1)),
        Case(c, "truncated .json.gz", 2, source("t.json.gz", gzip.compress(json.dumps(records * 3000).encode())[:500]),
             "t.json.gz"),
    ]
    c = "files: parquet"
    good = parquet({"id": [1, 2, 3], "name": ["Ann", "café", None]})
    out += [
        Case(c, "random bytes", 2, source("t.parquet", os.urandom(4096)), "t.parquet"),
        Case(c, "empty file", 2, source("t.parquet", b""), "t.parquet"),
        Case(c, "only the magic bytes", 2, source("t.parquet", b"PAR1PAR1"), "t.parquet"),
        Case(c, "cut in half", 2, source("t.parquet", truncated(good, 0.5)), "t.parquet"),
        Case(c, "footer scrambled", 2, source("t.parquet", lambda p: (good(p), p.write_bytes(
            p.read_bytes()[:-12] + os.urandom(8) + b"PAR1"))), "t.parquet"),
        Case(c, "zero rows", 0, source("t.parquet", lambda p: pl.DataFrame(
            {"id": [], "name": []}, schema={"id": pl.Int64, "name": pl.String}).write_parquet(p), rows=0)),
        Case(c, "good", 0, source("t.parquet", good, rows=3, values={NAME: "café"})),
        Case(c, "nested and odd types", 0, source("t.parquet", parquet({
            "id": [1, 2], "tags": [["a"], []], "s": [{"x": 1}, {"x": 2}], "b": [b"\x00\xff", b""]}), rows=2)),
        Case(c, "a folder of parts, one corrupt", 2, files({"t/part-0.parquet": good, "t/part-1.parquet": b"PAR1junk"},
                                                           "data/t"), "t"),
    ]
    c = "files: excel"
    out += [
        Case(c, "random bytes as .xlsx", 2, source("t.xlsx", os.urandom(2048)), "t.xlsx"),
        Case(c, "empty .xlsx", 2, source("t.xlsx", b""), "t.xlsx"),
        Case(c, "a zip that is no workbook", 2, source("t.xlsx", zipped({"hello.txt": b"hi"})), "t.xlsx"),
        Case(c, "cut in half", 2, source("t.xlsx", truncated(workbook({"S": [["id"], [1]]}), 0.5)), "t.xlsx"),
        Case(c, "CSV text as .xls", 2, source("t.xls", ORDERS), "t.xls"),
        Case(c, "only empty sheets", 2, source("t.xlsx", workbook({"A": [], "B": []})), "t.xlsx"),
        Case(c, "formula-looking text", 0, source("t.xlsx", workbook({"S": [["id", "name"], [1, "=1+2"], [2, "café"]]}),
                                                  rows=2, values={"SELECT name FROM t WHERE id = 1": "=1+2"})),
    ]
    c = "files: databases"
    out += [
        Case(c, "text as .sqlite", 2, source("t.sqlite", ORDERS), "t.sqlite"),
        Case(c, "an empty .sqlite", 2, source("t.sqlite", b""), "t.sqlite"),
        Case(c, "a SQLite database without tables", 2, source("t.sqlite", sqlite_db("PRAGMA user_version = 1;")),
             "t.sqlite"),
        Case(c, "odd SQLite table names and mixed types", 0, source("t.sqlite", sqlite_db(
            'CREATE TABLE "my table" ("a b" INTEGER, "c""d" TEXT); '
            "INSERT INTO \"my table\" VALUES (1, 'x'), ('two', 'y'), (3, NULL);"), table="my table", rows=3)),
        Case(c, "a SQLite table named with a slash", 2, source("t.sqlite", sqlite_db(
            'CREATE TABLE "../../escaped" (a INTEGER); INSERT INTO "../../escaped" VALUES (1);')),
             "table name '../../escaped'"),
        Case(c, "text as .duckdb", 2, source("t.duckdb", ORDERS), "t.duckdb"),
        Case(c, "an empty .duckdb", 2, source("t.duckdb", b""), "t.duckdb"),
        Case(c, "a DuckDB database without tables", 2, source("t.duckdb", duckdb_db("CREATE SCHEMA s")), "t.duckdb"),
        Case(c, "a SQLite database named .duckdb", 2, source("t.duckdb", sqlite_db("CREATE TABLE x (a);")),
             "t.duckdb"),
        Case(c, "text as .db", 2, source("t.db", ORDERS), "t.db"),
    ]
    return out


def _sources_yaml() -> list[Case]:
    c = "sources.yaml"
    one = "sources:\n  - name: orders\n    source: orders.csv\n"
    pg = "sources:\n  - name: pg\n    source: postgresql://app@127.0.0.1:1/db\n"
    return [
        Case(c, "bad YAML: a tab", 2, sources_yaml("sources:\n\t- name: x\n"), "sources.yaml:2"),
        Case(c, "bad YAML: unclosed bracket", 2, sources_yaml("sources:\n  - name: [x\n    source: y\n"),
             "sources.yaml:"),
        Case(c, "empty file", 2, sources_yaml(""), "sources.yaml"),
        Case(c, "a list at the top", 2, sources_yaml("- orders.csv\n"), "sources.yaml"),
        Case(c, "`source:` instead of `sources:`", 2, sources_yaml("source:\n  - name: a\n"), "sources.yaml"),
        Case(c, "empty list", 2, sources_yaml("sources: []\n"), "sources.yaml"),
        Case(c, "an entry that is a string", 2, sources_yaml("sources:\n  - orders.csv\n"), "source 1"),
        Case(c, "unknown key", 2, sources_yaml(one + "    format: csv\n"), "'format'"),
        Case(c, "missing source", 2, sources_yaml("sources:\n  - name: a\n"), "`source` is required"),
        Case(c, "missing name", 2, sources_yaml("sources:\n  - source: orders.csv\n"), "`name` is required"),
        Case(c, "a name that is a number", 2, sources_yaml("sources:\n  - {name: 42, source: orders.csv}\n"),
             "name"),
        Case(c, "a name that climbs out of the workspace", 2,
             sources_yaml("sources:\n  - {name: ../../evil, source: orders.csv}\n"), "../../evil"),
        Case(c, "a name with a slash", 2, sources_yaml("sources:\n  - {name: a/b, source: orders.csv}\n"), "a/b"),
        Case(c, "unknown kind", 2, sources_yaml(one + "    kind: mongodb\n"), "'mongodb'"),
        Case(c, "duplicate names", 2, sources_yaml(one + "  - name: orders\n    source: orders.csv\n"),
             "'orders' is named twice"),
        Case(c, "a missing file relative to it", 2, sources_yaml("sources:\n  - {name: a, source: nope.csv}\n"),
             "nope.csv"),
        Case(c, "options that are not a mapping", 2, sources_yaml(one + "    options: ';'\n"), "options"),
        Case(c, "an unknown csv option", 2, sources_yaml(one + "    options: {sep: ';'}\n"), "'sep'"),
        Case(c, "a good one with a delimiter option", 0, sources_yaml(
            "sources:\n  - {name: semi, source: semi.csv, options: {delimiter: ';'}}\n".replace(
                "semi.csv", "orders.csv").replace("';'", "','"), rows={"semi": 3})),
        Case(c, "unset ${ENV}", 2, sources_yaml(pg + "    credentials:\n      password: ${DATARAUM_NOT_SET_X}\n"),
             "DATARAUM_NOT_SET_X"),
        Case(c, "a literal password", 2, sources_yaml(pg + f"    credentials:\n      password: '{SECRET}'\n",
                                                      secret=SECRET), "credentials.password"),
        Case(c, "a literal token", 2, sources_yaml(
            "sources:\n  - name: api\n    source: http://127.0.0.1:1/x\n"
            f"    credentials:\n      token: '{SECRET}'\n", secret=SECRET), "credentials.token"),
        Case(c, "a password in its URI", 2, sources_yaml(
            f"sources:\n  - name: pg\n    source: postgresql://app:{quote(SECRET, safe='')}@127.0.0.1:1/db\n",
            secret=SECRET), "password in the URI"),
        Case(c, "a secret from the environment, closed port", 2, sources_yaml(
            pg + "    credentials:\n      password: ${DATARAUM_TEST_SECRET}\n", env={"DATARAUM_TEST_SECRET": SECRET},
            secret=SECRET), "127.0.0.1"),
        Case(c, "a bearer token from the environment, closed port", 2, sources_yaml(
            "sources:\n  - name: api\n    source: http://127.0.0.1:1/items\n    options: {max_retries: 0}\n"
            "    credentials:\n      token: ${DATARAUM_TEST_SECRET}\n", env={"DATARAUM_TEST_SECRET": SECRET},
            secret=SECRET), "127.0.0.1"),
        Case(c, "a good source and a database that is down", 1, config(
            "sources.yaml", "sources:\n  - {name: orders, source: orders.csv}\n  - name: pg\n"
            "    source: postgresql://app@127.0.0.1:1/db\n    credentials:\n      password: ${DATARAUM_TEST_SECRET}\n",
            "run", "{file}", "--pipeline", "default", env={"DATARAUM_TEST_SECRET": SECRET}, secret=SECRET,
            rows={"orders": 3})),
        Case(c, "not UTF-8", 2, not_utf8("sources.yaml", "sources:\n  - name: caf\xe9\n    source: orders.csv\n"),
             "sources.yaml"),
        Case(c, "a directory named sources.yaml", 2, lambda d: Run(
            ["run", str((d / "sources.yaml").mkdir() or d / "sources.yaml"), "--pipeline", "quick_profile"]),
            "sources.yaml"),
        Case(c, "a billion laughs", 2, sources_yaml(
            "a: &a ['x','x','x','x','x','x','x','x','x']\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
            "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
            "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
            "sources:\n  - name: pg\n    source: postgresql://app@127.0.0.1:1/db\n    credentials: {password: *f}\n"),
            "credentials.password"),
    ]


def _pipelines() -> list[Case]:
    c = "pipeline YAML"
    base = "name: p\nmodules: [staging, schema_profiling, type_resolution, statistics, context]\n"
    return [
        Case(c, "bad YAML", 2, pipeline_yaml("name: p\nmodules: [staging\nsteps: all\n"), "pipeline.yaml:"),
        Case(c, "bad YAML: indentation", 2, pipeline_yaml("name: p\n  modules: [staging]\n"), "pipeline.yaml:2"),
        Case(c, "empty file", 2, pipeline_yaml(""), "pipeline.yaml"),
        Case(c, "a list", 2, pipeline_yaml("- staging\n"), "pipeline.yaml"),
        Case(c, "unknown key", 2, pipeline_yaml(base + "retry: 3\n"), "'retry'"),
        Case(c, "missing name", 2, pipeline_yaml("modules: [staging]\n"), "missing key 'name'"),
        Case(c, "a module of a step package that is not installed", 2,
             pipeline_yaml("name: p\nmodules: [staging, statistics_advanced]\n"), "'statistics_advanced'"),
        Case(c, "unknown step", 2, pipeline_yaml(base + "steps: [statistics_profilling]\n"),
             "'statistics_profilling'"),
        Case(c, "unknown step in skip_steps", 2, pipeline_yaml(base + "skip_steps: [nosuch]\n"), "'nosuch'"),
        Case(c, "unknown module", 2, pipeline_yaml("name: p\nmodules: [staging, statistcs]\n"), "'statistcs'"),
        Case(c, "a dotted module that does not exist", 2, pipeline_yaml("name: p\nmodules: [staging, my.flows]\n"),
             "'my.flows'"),
        Case(c, "a module that fails to import", 2, lambda d: replace(pipeline_yaml(
            "name: p\nmodules: [staging, schema_profiling, type_resolution, context, broken_flow.steps]\n")(d),
            env={"PYTHONPATH": str(put(d / "broken_flow" / "steps.py", "raise RuntimeError('boom')\n").parent.parent)}),
             "broken_flow.steps"),
        Case(c, "a step in steps and skip_steps", 2,
             pipeline_yaml(base + "steps: [statistics_profiling]\nskip_steps: [statistics_profiling]\n"),
             "'statistics_profiling' is in both"),
        Case(c, "a typo under config:", 2, pipeline_yaml(base + "config: {type_overides: {orders.amount: DOUBLE}}\n"),
             "'type_overides'"),
        Case(c, "a wrong-typed config value", 2, pipeline_yaml(base + "config: {null_tokens: 5}\n"), "null_tokens"),
        Case(c, "a wrong-typed item in a config list", 2, pipeline_yaml(base + "config: {null_tokens: [1, 2]}\n"),
             "null_tokens"),
        Case(c, "an unknown type in type_overrides", 2,
             pipeline_yaml(base + "config: {type_overrides: {orders.amount: MONEYS}}\n"), "MONEYS"),
        Case(c, "config that is a list", 2, pipeline_yaml(base + "config: [a, b]\n"), "config"),
        Case(c, "fail_fast: maybe", 2, pipeline_yaml(base + "fail_fast: maybe\n"), "fail_fast"),
        Case(c, "unknown LLM provider", 2, pipeline_yaml(base + "llm: {provider: gpt}\n"), "'gpt'"),
        Case(c, "unknown engine", 2, pipeline_yaml(base + "engine: spark\n"), "'spark'"),
        Case(c, "parallel and its seed name", 2, pipeline_yaml(base + "parallel: true\nparallel_enrichment: true\n"),
             "pipeline.yaml: parallel and parallel_enrichment are one setting"),
        Case(c, "extends a missing file", 2, pipeline_yaml(base + "extends: nope.yaml\n"), "nope.yaml"),
        Case(c, "extends itself", 2, pipeline_yaml(base + "extends: pipeline.yaml\n"), "pipeline.yaml:3: extends"),
        Case(c, "unknown ontology", 2, pipeline_yaml("name: p\nmodules: [staging, schema_profiling, type_resolution, "
                                                      "statistics, semantic, context]\nontology: nosuch\n"),
             "'nosuch'"),
        Case(c, "a table filter naming no table", 2, pipeline_yaml(base + "tables: [invoices]\n"), "invoices"),
        Case(c, "skipping a critical step", 2, pipeline_yaml(base + "skip_steps: [staging]\n"), "staging"),
        Case(c, "skipping the input of a critical step", 2, pipeline_yaml(
            "name: p\nmodules: [staging, schema_profiling, type_resolution, statistics, semantic, context]\n"
            "skip_steps: [statistics_profiling]\n"), "semantic_enrichment"),
        Case(c, "a missing hard dependency", 2, pipeline_yaml("name: p\nmodules: [staging, statistics, context]\n"),
             "type_resolution"),
        Case(c, "--skip-step of no step", 2, pipeline_yaml(base, "--skip-step", "nosuch"), "'nosuch'"),
        Case(c, "a missing pipeline file", 2, command("run", "{d}/orders.csv", "--pipeline", "{d}/nope.yaml"),
             "nope.yaml"),
        Case(c, "an unknown pipeline name", 2, command("run", "{d}/orders.csv", "--pipeline", "quik"), "'quik'"),
        Case(c, "not UTF-8", 2, not_utf8("pipeline.yaml", "name: caf\xe9\nmodules: [staging]\n"), "pipeline.yaml"),
        Case(c, "a directory as the pipeline", 2, lambda d: Run(
            ["run", str(put(d / "orders.csv", ORDERS)), "--pipeline", str((d / "p.yaml").mkdir() or d / "p.yaml")]),
            "p.yaml"),
        Case(c, "dag with a bad pipeline", 2, config("pipeline.yaml", "name: p\nmodules: [nosuch]\n", "dag",
                                                      "--pipeline", "{file}", "--out", "{d}/dag.dot"), "'nosuch'"),
    ]


def _ontologies() -> list[Case]:
    c = "ontology YAML"
    concept = "concepts:\n  - name: code\n    indicators: [code]\n"
    return [
        Case(c, "bad YAML", 2, ontology_yaml("concepts:\n  - name: [x\n"), "mine.yaml:"),
        Case(c, "a cycle in extends", 2, lambda d: (
            put(d / "other.yaml", "name: other\nextends: mine\n"),
            ontology_yaml("extends: other\n")(d))[1], "mine"),
        Case(c, "extends itself", 2, ontology_yaml("extends: mine\n"), "mine"),
        Case(c, "a dangling parent", 2, ontology_yaml("extends: nowhere\n"), "nowhere"),
        Case(c, "unknown top-level key", 2, ontology_yaml("concept:\n  - name: x\n"), "concept: unknown key"),
        Case(c, "unknown concept key", 2, ontology_yaml(concept + "    synonyms: [x]\n"), "synonyms"),
        Case(c, "a concept without a name", 2, ontology_yaml("concepts:\n  - indicators: [x]\n"), "name"),
        Case(c, "an invalid regex", 2, ontology_yaml(concept + "    value_pattern: '([a-z'\n"), "value_pattern"),
        Case(c, "indicators that are a number", 2, ontology_yaml("concepts:\n  - name: x\n    indicators: 5\n"),
             "indicators"),
        Case(c, "a metric over an unknown concept", 2, ontology_yaml(concept + "metrics:\n  - name: m\n"
                                                                       "    formula: sum(nosuch)\n"), "nosuch"),
        Case(c, "a list at the top", 2, config("mine.yaml", "- a\n", "ontology", "validate", "{file}"), "mine.yaml"),
        Case(c, "an empty file", 2, config("mine.yaml", "", "ontology", "validate", "{file}"), "mine.yaml"),
        Case(c, "unknown name for --ontology", 2, command("run", "{d}/orders.csv", "--ontology", "nosuch"),
             "'nosuch'"),
        Case(c, "a bad one given to run", 2, config("mine.yaml", "name: mine\nconcepts: {x: 1}\n", "run",
                                                     "{d}/orders.csv", "--ontology", "{file}"), "mine.yaml"),
        Case(c, "a catastrophic value_pattern", 0, lambda d: Run(
            ["run", str(put(d / "t.csv", csv_lines("id,code", [f"{i},{'a' * 40}!" for i in range(30)]))),
             "--ontology", str(put(d / "mine.yaml", "name: mine\nextends: base\n" + concept
                                   + "    value_pattern: '(a+)+$'\n"))], rows={"t": 30})),
    ]


def _uris() -> list[Case]:
    c = "URIs"
    return [
        Case(c, "postgresql with a password of URL characters", 2, command(
            "run", f"postgresql://app:{quote(SECRET, safe='')}@127.0.0.1:1/db", secret=SECRET), "password in the URI"),
        Case(c, "postgresql with a password in the query", 2, command(
            "run", f"postgresql://app@127.0.0.1:1/db?password={quote_plus(SECRET)}", secret=SECRET), "password"),
        Case(c, "postgresql with PGPASSWORD set, closed port", 2, command(
            "run", "postgresql://app@127.0.0.1:1/db", "--pipeline", "default", env={"PGPASSWORD": SECRET},
            secret=SECRET), "127.0.0.1:1"),
        Case(c, "postgresql with a password and a port out of range", 2, command(
            "run", f"postgresql://app:{quote(SECRET, safe='')}@127.0.0.1:99999/db", secret=SECRET), "99999"),
        Case(c, "postgresql without a host", 2, command("run", "postgresql:///db"), "postgresql:///db"),
        Case(c, "postgresql with a port out of range", 2, command("run", "postgresql://app@127.0.0.1:99999/db"),
             "99999"),
        Case(c, "postgresql with a broken IPv6 host", 2, command("run", "postgresql://app@[::1/db"), "[::1"),
        Case(c, "unknown scheme", 2, command("run", "ftp://example.org/x.csv"), "ftp://"),
        Case(c, "s3 without a loader", 2, command("run", "s3://bucket/orders.csv"), "s3://"),
        Case(c, "sqlite path missing", 2, command("run", "sqlite:///{d}/nope/x.db"), "x.db"),
        Case(c, "sqlite URI to a directory", 2, command("run", "sqlite:///{d}"), "{d}"),
        Case(c, "duckdb path missing", 2, command("run", "duckdb:///{d}/nope.duckdb"), "nope.duckdb"),
        Case(c, "https to a closed port", 2, command("run", "https://127.0.0.1:1/items.json"), "127.0.0.1:1"),
        Case(c, "http with a password, closed port", 2, command(
            "run", f"http://u:{quote(SECRET, safe='')}@127.0.0.1:1/items", secret=SECRET), "password in the URI"),
        Case(c, "http with a token in the query", 2, command(
            "run", f"http://127.0.0.1:1/items?token={quote_plus(SECRET)}", "--pipeline", "default", secret=SECRET),
            "a 'token' parameter in the URI"),
        Case(c, "https with an API key in the query of a sources.yaml", 2, sources_yaml(
            f"sources:\n  - {{name: api, source: 'https://127.0.0.1:1/items?page=1&api_key={quote_plus(SECRET)}'}}\n",
            secret=SECRET), "a 'api_key' parameter in the URI"),
        Case(c, "a good file and a closed port", 1, command(
            "run", "{d}/orders.csv", "postgresql://app@127.0.0.1:1/db", "--pipeline", "quick_profile",
            rows={"orders": 3}, values={"SELECT name FROM orders WHERE id = 2": "café"})),
    ]


def _outputs() -> list[Case]:
    c = "output paths"
    run = ("run", "{d}/orders.csv", "--pipeline", "quick_profile")
    return [
        Case(c, "--out in a missing directory", 2, command(*run, "--out", "{d}/a/b/ctx.md"), "no such directory"),
        Case(c, "--out under a file", 2, command(*run, "--out", "{d}/orders.csv/ctx.md"), "{d}/orders.csv"),
        Case(c, "--out onto a directory", 2, command(*run, "--out", "{d}"), "is a directory"),
        Case(c, "--out with an unknown extension", 2, command(*run, "--out", "{d}/ctx.xlsx"), "ctx.xlsx"),
        Case(c, "--out with no extension", 2, command(*run, "--out", "{d}/context"), "context"),
        Case(c, "--out with an upper-case extension", 0, command(*run, "--out", "{d}/CTX.MD", rows={"orders": 3})),
        Case(c, "--out with --format overriding", 0, command(*run, "--out", "{d}/ctx.txt", "--format", "json",
                                                             rows={"orders": 3})),
        Case(c, "--out to /dev/null", 2, command(*run, "--out", "/dev/null"), "/dev/null"),
        Case(c, "--out in a read-only directory", 2, _read_only("out"), "Permission denied"),
        Case(c, "dag --out with an unknown extension", 2, command("dag", "--out", "{d}/dag.pdf"), "dag.pdf"),
        Case(c, "dag --out onto a directory", 2, command("dag", "--out", "{d}/"), "{d}"),
        Case(c, "dag --out in a missing directory", 2, command("dag", "--out", "{d}/x/dag.dot"), "no such directory"),
    ]


def _read_only(what: str) -> Builder:
    """A read-only directory as --out's directory or as the workspace, the command run where
    permission bits bind (root ignores them; not root in a new user namespace)."""
    def build(d: Path) -> Run:
        put(d / "orders.csv", ORDERS)
        ro = d / "ro"
        ro.mkdir()
        args = ["run", str(d / "orders.csv"), "--pipeline", "quick_profile"]
        if what == "out":
            args += ["--out", str(ro / "ctx.md"), "--workspace", str(d / "ws")]
        elif what == "staged":  # the workspace is writable, the directory for staged tables not
            args += ["--workspace", str(d)]
            ro = ro.rename(d / "staged")
        else:
            (ro / "staged").mkdir()
            args += ["--workspace", str(ro)]
        ro.chmod(0o555)
        return Run(args, prefix=_unprivileged(), cleanup=lambda: ro.chmod(0o755))
    return build


def _unprivileged() -> tuple[str, ...]:
    if os.geteuid() != 0:
        return ()
    if subprocess.run(["unshare", "--user", "true"], check=False, capture_output=True).returncode != 0:
        pytest.skip("running as root and cannot unshare a user namespace")
    return ("unshare", "--user")


def _workspaces() -> list[Case]:
    c = "workspaces"
    run = ("run", "{d}/orders.csv", "--pipeline", "quick_profile")
    return [
        Case(c, "a file", 2, lambda d: (put(d / "ws", "x"), command(*run)(d))[1], "not a directory"),
        Case(c, "under a file", 2, lambda d: (put(d / "f", "x"), command(*run, "--workspace", "{d}/f/ws")(d))[1],
             "{d}/f/ws"),
        Case(c, "a corrupt cache database (text)", 0, _in_workspace({"cache/metadata_store.db": "not a database"},
                                                                     "default")),
        Case(c, "a corrupt cache database (zeroes)", 0, _in_workspace({"cache/metadata_store.db": b"\x00" * 8192},
                                                                       "default")),
        Case(c, "a cache that is a file", 2, _in_workspace({"cache": "x"}, "default"), "cache"),
        Case(c, "a cache database that is a directory", 2, _in_workspace({"cache/metadata_store.db/x": ""}, "default"),
             "metadata_store.db"),
        Case(c, "staged/ that is a file", 2, _in_workspace({"staged": "x"}), "staged"),
        Case(c, "a lock that is a directory", 2, _in_workspace({".lock/x": ""}), ".lock"),
        Case(c, "a corrupt table left in tables/", 0, _in_workspace({"tables/other.parquet": b"PAR1 junk"})),
        Case(c, "read-only", 2, _read_only("workspace"), "Permission denied"),
        Case(c, "a read-only staged/ in a writable workspace", 2, _read_only("staged"), "Permission denied"),
        Case(c, "a second run holding the lock", 2, _locked(), "is being written by pid"),
        Case(c, "leftover temporary files of a killed run", 0, _leftovers()),
        Case(c, "runs on a corrupt run record", 0, _in_workspace({"runs/20240101T000000-x.json": "{not json"},
                                                                 command_args=("runs",))),
        Case(c, "runs on a missing workspace", 0, command("runs", "--workspace", "{d}/nope")),
        Case(c, "annotate a table that is not there", 2, command("annotate", "nosuch.col", "--role", "key",
                                                                 "--workspace", "{d}/ws"), "has no typed tables"),
        Case(c, "a corrupt annotations.yaml", 2, _in_workspace({"annotations.yaml": "a: [\n"}, "default"),
             "annotations.yaml:"),
    ]


def _in_workspace(contents: dict[str, Content], pipeline: str = "quick_profile",
                  command_args: tuple[str, ...] | None = None) -> Builder:
    """A workspace already holding these files."""
    def build(d: Path) -> Run:
        put(d / "orders.csv", ORDERS)
        for name, content in contents.items():
            put(d / "ws" / name, content)
        if command_args is not None:  # a reader of the workspace warns of what it cannot read
            return Run([*command_args, "--workspace", str(d / "ws")],
                       after=lambda err: [] if all(f"{d / 'ws' / n}: " in err for n in contents)
                       else ["not warned of the unreadable file"])
        return Run(["run", str(d / "orders.csv"), "--pipeline", pipeline], rows={"orders": 3},
                   values={"SELECT name FROM orders WHERE id = 2": "café"})
    return build


def _locked() -> Builder:
    def build(d: Path) -> Run:
        release, _pid = held_lock(d / "ws")
        return Run(["run", str(put(d / "orders.csv", ORDERS)), "--pipeline", "quick_profile"], cleanup=release)
    return build


def _leftovers() -> Builder:
    """Temporary files as a run killed with -9 leaves them: of a process that is gone, and old."""
    def build(d: Path) -> Run:
        dead = _dead_pid()
        host = re.sub(r"[^A-Za-z0-9-]", "-", os.uname().nodename)
        left = [put(d / "ws" / "staged" / f".orders.parquet.{host}-{dead}-{'a' * 32}.tmp", b"PAR1" * 5_000_000),
                put(d / "ws" / "tables" / f".orders.parquet.{host}-{dead}-{'b' * 32}.tmp", b"PAR1 half")]
        old = put(d / "ws" / "quarantine" / f".orders.parquet.{'c' * 32}.tmp", b"PAR1 old")
        os.utime(old, (0, 0))
        left.append(old)

        def gone(_err: str) -> list[str]:
            return [f"leftover: {p} was not removed" for p in left if p.exists()]
        return Run(["run", str(put(d / "orders.csv", ORDERS)), "--pipeline", "quick_profile"], rows={"orders": 3},
                   after=gone)
    return build


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _commands() -> list[Case]:
    """The other commands and the command line itself: the same promise."""
    c = "commands"
    return [
        Case(c, "an unknown command", 2, command("frobnicate"), "frobnicate"),
        Case(c, "run without sources", 2, command("run"), "sources"),
        Case(c, "an unknown option", 2, command("run", "{d}/orders.csv", "--colour"), "--colour"),
        Case(c, "annotate with an unknown role", 2, command("annotate", "orders.id", "--role", "boss"), "boss"),
        Case(c, "annotate without what to say", 2, command("annotate", "orders.id", "--workspace", "{d}/ws"),
             "--role"),
        Case(c, "steps of a bad pipeline", 2, config("p.yaml", "name: p\nmodules: [staging, nosuch]\n", "steps",
                                                     "--pipeline", "{file}"), "'nosuch'"),
        Case(c, "ontology show of no ontology", 2, command("ontology", "show", "nosuch"), "nosuch"),
        Case(c, "ontology validate of a missing file", 2, command("ontology", "validate", "{d}/nope.yaml"),
             "nope.yaml"),
        Case(c, "sample into a file", 2, command("sample", "{d}/orders.csv"), "not a directory"),
        Case(c, "demo --out in a missing directory", 2, command("demo", "--out", "{d}/x/ctx.md"), "no such directory"),
        Case(c, "runs --last not a number", 2, command("runs", "--last", "ten"), "ten"),
    ]


CASES = [*_files(), *_json_and_binary(), *_sources_yaml(), *_pipelines(), *_ontologies(), *_uris(), *_outputs(),
         *_workspaces(), *_commands()]


# --- judging a case --------------------------------------------------------------------------


def _command(args: list[str]) -> list[str]:
    exe = [str(SCRIPT)] if SCRIPT.is_file() else [sys.executable, "-m", "dataraum_context.cli"]
    return [*exe, *args]


def _env(d: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATARAUM_", "PG"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH")) if p)
    env["TMPDIR"] = str(d / "tmp")
    for key, value in extra.items():
        value = value.replace("{d}", str(d))
        env[key] = f"{value}{os.pathsep}{env[key]}" if key == "PYTHONPATH" else value
    return env


def _with_defaults(args: list[str], d: Path) -> list[str]:
    """`run` writes into the case's workspace and a Markdown file; the others name the workspace."""
    args = list(args)
    if args[0] == "run":
        if "--workspace" not in args:
            args += ["--workspace", str(d / "ws")]
        if "--out" not in args:
            args += ["--out", str(d / "ctx.md")]
    return args


@dataclass
class Outcome:
    args: list[str]
    code: int | None
    out: str
    err: str
    problems: list[str]


def judge(case: Case, d: Path) -> Outcome:
    d.mkdir(parents=True)
    (d / "tmp").mkdir()
    try:
        run = case.build(d)
    except pytest.skip.Exception as exc:
        return Outcome([], None, "", "", [f"skip: {exc}"])
    args = _with_defaults(run.args, d)
    (d / "tmp").mkdir(exist_ok=True)
    proc = subprocess.Popen([*run.prefix, *_command(args)], cwd=d, env=_env(d, run.env), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return Outcome(args, None, out, err, [f"hang: no answer in {TIMEOUT_S} s"])
    finally:
        if run.cleanup:
            run.cleanup()
    problems = _problems(case, run, args, d, proc.returncode, out, err)
    return Outcome(args, proc.returncode, out, err, problems)


def _problems(case: Case, run: Run, args: list[str], d: Path, code: int, out: str, err: str) -> list[str]:
    problems = []
    if code < 0 or code in (134, 139):
        problems.append(f"crash: exit {code}")
    if TRACEBACK in err:
        problems.append("traceback on stderr")
    errors = [line for line in err.splitlines() if line.startswith("dataraum: error:")]
    if code != case.exit:
        problems.append(f"wrong exit: {code}, expected {case.exit}")
    elif code == 2:
        named = case.names.replace("{d}", str(d))
        if len(errors) != 1 or errors[0] != err.splitlines()[-1] or named not in errors[0]:
            problems.append(f"wrong exit: expected one last error line naming {named!r}")
    elif code == 0 and errors:
        problems.append("wrong exit: 0 with an error line")
    elif code == 1 and not errors:
        problems.append("wrong exit: 1 without an error line")
    if run.secret:
        problems += _leaks(run.secret, d, args, out, err)
    leftovers = list((d / "tmp").rglob("*"))
    if leftovers:
        problems.append(f"leftover in TMPDIR: {leftovers[0].name}")
    if code in (0, 1):
        problems += _lost_values(run, d / "ws")
        out_file = Path(args[args.index("--out") + 1]) if "--out" in args else None
        if out_file and out_file.suffix.lower() == ".md" and out_file.is_file():
            problems += _broken_markdown(out_file.read_text(encoding="utf-8"))
    if run.after:
        problems += run.after(err)
    return problems


def _encodings(secret: str) -> set[bytes]:
    return {form.encode() for form in (secret, quote(secret), quote(secret, safe=""), quote_plus(secret),
                                       base64.b64encode(secret.encode()).decode())}


def _leaks(secret: str, d: Path, args: list[str], out: str, err: str) -> list[str]:
    forms = _encodings(secret)
    places = {"stdout": out.encode(), "stderr": err.encode()}
    written = [*(Path(args[args.index("--out") + 1]),) * ("--out" in args), *(d / "ws").rglob("*"),
               *(d / "tmp").rglob("*")]
    places |= {str(p): p.read_bytes() for p in written if p.is_file()}
    return [f"leak: the secret ({form.decode()}) in {where}" for where, data in places.items()
            for form in forms if form in data]


def _lost_values(run: Run, ws: Path) -> list[str]:
    problems = []
    if not (run.rows or run.values):
        return problems
    try:
        workspace = Workspace(ws)
        for table, expected in run.rows.items():
            [(typed,)] = workspace.sql(f'SELECT count(*) FROM "{table}"').fetchall()
            quarantine = f"quarantine_{table}"
            rejected = 0
            if (ws / "quarantine" / f"{table}.parquet").is_file():
                [(rejected,)] = workspace.sql(
                    f'SELECT count(DISTINCT row_number) FROM "{quarantine}" WHERE "column" IS NULL').fetchall()
            if typed + rejected != expected:
                problems.append(f"lost values: {table} has {typed} typed + {rejected} rejected rows, "
                                f"the source {expected}")
        for query, expected in run.values.items():
            got = workspace.sql(query).fetchall()
            if got != [(expected,)]:
                problems.append(f"lost values: {query} gave {str(got)[:80]}, expected {expected!r}")
    except duckdb.Error as exc:
        problems.append(f"lost values: {str(exc).splitlines()[0]}")
    return problems


_CELL_SEPARATOR = re.compile(r"(?<!\\)\|")


def _broken_markdown(text: str) -> list[str]:
    """Tables whose rows do not all have the header's cells, a row broken over lines, and
    headings made of data."""
    problems = []
    lines = text.splitlines()
    width = None
    for i, line in enumerate(lines):
        if line.startswith("|"):
            cells = len(_CELL_SEPARATOR.split(line))
            width = width or cells
            if cells != width or not line.endswith("|"):
                problems.append(f"markdown: line {i + 1} has {cells - 2} cells, the table {width - 2}: {line[:60]}")
        else:
            if width is not None and line.strip():
                problems.append(f"markdown: line {i + 1} breaks a table: {line[:60]}")
            width = None
        if line.startswith("#") and "INJECTED" in line:
            problems.append(f"markdown: a heading made of data on line {i + 1}")
    return problems


# --- the tests -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def outcomes(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Every selected case judged, several at once."""
    wanted = {item.callspec.id for item in request.session.items
              if getattr(item, "originalname", None) == "test_bad_input" and hasattr(item, "callspec")}
    root = tmp_path_factory.mktemp("bad_inputs")
    chosen = [(i, case) for i, case in enumerate(CASES) if case.id in wanted]
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        done = pool.map(lambda ic: (ic[1].id, judge(ic[1], root / f"case{ic[0]:03d}")), chosen)
        return dict(done)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, outcomes: dict[str, Outcome]):
    outcome = outcomes[case.id]
    if outcome.problems and outcome.problems[0].startswith("skip: "):
        pytest.skip(outcome.problems[0][6:])
    assert not outcome.problems, (f"{case.id}: {'; '.join(outcome.problems)}\n  $ dataraum {' '.join(outcome.args)}"
                                  f"\n  exit {outcome.code}\n  stderr: {outcome.err[-3000:]}")


def test_the_corpus_is_broad():
    """At least the 108 cases of the issue, over every kind of input it names."""
    per_category: dict[str, int] = {}
    for case in CASES:
        per_category[case.category] = per_category.get(case.category, 0) + 1
    assert len(CASES) >= 120 and len({c.id for c in CASES}) == len(CASES)
    assert set(per_category) == {"files", "files: json", "files: parquet", "files: excel", "files: databases",
                                 "sources.yaml", "pipeline YAML", "ontology YAML", "URIs", "output paths",
                                 "workspaces", "commands"}
