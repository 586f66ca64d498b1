"""CSV and TSV files (also gzip- and zstd-compressed), staged VARCHAR-first, read in place.

Staging reads the file once (counts, rejects and a sample) and the next steps read it again
with the same dialect instead of a copy; only a file converted to UTF-8 is copied.

DuckDB's sniffer finds the dialect (delimiter, quote, escape, header; each can be set as an
option) once, and the file is read with exactly that dialect: what is reported is what was read.
A quote left open at the end of a file makes the sniffer drop the quote altogether; when fields
of the first lines are plainly wrapped in double quotes, the dialect is sniffed again from those
lines, so the broken row is rejected instead of every value keeping its quotes.

The encoding is found here, by the evidence of the whole file: UTF-8 (with or without BOM),
UTF-16 by its BOM, and Latin-1 or Windows-1252 only for a file with fewer UTF-8 multi-byte
characters than bytes that are not UTF-8: a stray Latin-1 byte never turns the UTF-8 of a file into
mojibake; the rows holding such bytes are rejected with their exact bytes (written `\\xNN`).
DuckDB reads Latin-1 itself but refuses the bytes 0x80-0x9F, which in cp1252 are characters like
€ and –; a file with those is converted to a temporary UTF-8 copy first, so nothing is lost.

Malformed rows (too many or too few fields, a quote never closed, bytes not in the file's
encoding) are not dropped: DuckDB's rejects table records them and they go to the table's
quarantine with their line number and raw text.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import os
import re
from collections.abc import Iterator
from functools import cached_property
from typing import IO, NamedTuple

import duckdb

from dataraum_context.errors import SourceError
from dataraum_context.loaders.base import LoaderBase, _first_line, write_temporary
from dataraum_context.models import InPlace, StagedColumn, StagedTable, TypeSystemStrength
from dataraum_context.sql import WIDE_COLUMNS, quote_literal, session
from dataraum_context.workspace import STAGED, Workspace

_REJECTS = "dataraum_rejects"
_SCANS = "dataraum_reject_scans"
_HEAD = 65536
_LONGEST_LINE = 64 << 20  # read for a header: 10,000 names of 6,000 characters
_CHUNK = 1 << 20
# The longest line (row) read, in bytes. DuckDB's read buffers grow with it: with room for lines of
# 256 MiB, staging a 112 MiB file took 250 MiB more memory. So a file is read with DuckDB's default,
# and read again with room for lines up to 256 MiB only when one is longer (DuckDB rejects it).
_LINE = 2_000_000
_LONG_LINE = 1 << 28
# DuckDB's read buffer is 16 lines of the longest by default (32 MiB for _LINE, per thread); 8 MiB
# reads as fast and keeps 30 MiB less resident (benchmarks/README.md)
_BUFFER = 4 * _LINE
_LINE_TOO_LONG = "LINE SIZE OVER MAXIMUM"  # DuckDB's reject of a row longer than the limit
_ASCII = bytes(range(128))
_C1 = re.compile(rb"[\x80-\x9f]")  # control characters in Latin-1, letters and signs in cp1252
_CP1252_UNDEFINED = frozenset(b"\x81\x8d\x8f\x90\x9d")
_DATA_VALUE = re.compile(r"^[-+]?[0-9][0-9.,:/ T-]*$")  # a number, a date or a time
_NOT_UTF8 = "INVALID ENCODING: bytes that are not UTF-8 (written \\xNN), unlike the rest of the file"


class _Dialect(NamedTuple):
    """How the file is read, as DuckDB's sniffer found it (or the options set it)."""

    header: bool
    delimiter: str
    quote: str
    escape: str
    new_line: str
    comment: str
    skip: int
    columns: tuple[str, ...]

    def options(self) -> list[str]:
        """read_csv's arguments for exactly this dialect: nothing is sniffed again."""
        columns = ", ".join(f"{quote_literal(c)}: 'VARCHAR'" for c in self.columns)
        texts = {"delim": self.delimiter, "quote": self.quote, "escape": self.escape,
                 "new_line": self.new_line, "comment": self.comment}
        return ["auto_detect=false", f"header={str(self.header).lower()}", f"skip={self.skip}",
                *(f"{k}={quote_literal(v)}" for k, v in texts.items() if v or k != "new_line"),
                f"columns={{{columns}}}"]

    def fixed(self, header: bool | None = None, quote: str | None = None) -> dict[str, str]:
        """This dialect's delimiter, quote and header as sniffing options, header or quote changed."""
        return {"delim": quote_literal(self.delimiter),
                "quote": quote_literal(self.quote if quote is None else quote),
                "header": str(self.header if header is None else header).lower()}


class CSVLoader(LoaderBase):
    name = "csv"
    type_system = TypeSystemStrength.UNTYPED
    extensions = tuple(f"{ext}{comp}" for ext in (".csv", ".tsv", ".tab", ".txt")
                       for comp in ("", ".gz", ".zst"))
    option_names = ("delimiter", "quote", "header", "encoding")

    _undecodable: tuple[int, ...] = ()  # the lines DuckDB rejected as not UTF-8
    _max_line = _LINE  # _LONG_LINE once a line was found longer than _LINE
    _too_long = False  # whether the last read rejected a line longer than _max_line

    def _open(self) -> io.BufferedIOBase:
        """The file's bytes, decompressed."""
        lower = self.source.lower()
        if lower.endswith(".gz"):
            return gzip.open(self.source, "rb")
        if lower.endswith(".zst"):
            try:
                import zstandard
            except ImportError:
                raise SourceError(f"{self.source}: reading .zst needs the zstandard package: "
                                  "pip install 'dataraum-context[zstd]'") from None
            return zstandard.open(self.source, "rb")
        return open(self.source, "rb")

    def _chunks(self) -> Iterator[bytes]:
        """The file's bytes, decompressed, a MiB at a time."""
        try:
            with self._open() as f:
                while chunk := f.read(_CHUNK):
                    yield chunk
        except (OSError, EOFError) as exc:
            raise SourceError(f"{self.source}: cannot be read: {exc}") from None

    @cached_property
    def _head(self) -> bytes:
        """The first bytes of the (decompressed) file, to the end of the first line at least (the
        header of a table of thousands of columns outgrows them)."""
        try:
            with self._open() as f:
                head = f.read(_HEAD)
                return head + f.readline(_LONGEST_LINE) if len(head) == _HEAD and b"\n" not in head else head
        except (OSError, EOFError) as exc:
            raise SourceError(f"{self.source}: cannot be read: {exc}") from None

    @cached_property
    def encoding(self) -> str:
        if "encoding" in self.options:
            return str(self.options["encoding"]).lower()
        head = self._head
        if not head.strip():
            raise SourceError(f"{self.source}: file is empty")
        if head.startswith(codecs.BOM_UTF16_LE):
            return "utf-16"
        if head.startswith(codecs.BOM_UTF16_BE):
            return "utf-16-be"  # DuckDB reads UTF-16 little-endian only: read from a UTF-8 copy
        if b"\x00" in head:
            raise SourceError(f"{self.source}: looks like a binary file, not {self.name.upper()} text")
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            # a multi-byte character cut at the end of the sample is still UTF-8
            if len(head) < _HEAD or exc.start < len(head) - 3:
                return self._file_encoding
        return "utf-8"

    @cached_property
    def _evidence(self) -> tuple[int, int, set[int]]:
        """(UTF-8 multi-byte characters, bytes that are not UTF-8, bytes in 0x80-0x9F) in the
        whole file: one pass, made only for a file that is not UTF-8 all through."""
        utf8 = codecs.getincrementaldecoder("utf-8")("replace")
        characters = not_utf8 = 0
        c1: set[int] = set()
        for chunk in self._chunks():
            text = utf8.decode(chunk)
            bad = text.count("\ufffd")
            ascii_bytes = len(chunk) - len(chunk.translate(None, _ASCII))
            characters += len(text) - ascii_bytes - bad
            not_utf8 += bad
            c1.update(m[0] for m in _C1.findall(chunk))
        return characters, not_utf8, c1

    @property
    def _file_encoding(self) -> str:
        """The encoding by the evidence of the whole file: UTF-8 when its UTF-8 characters
        outnumber its bytes that are not (the rows holding those are rejected), so a stray
        Latin-1 byte never turns a UTF-8 file into mojibake, nor does a pair of Latin-1 letters
        that happens to be UTF-8 make a Latin-1 file UTF-8. Else cp1252 when the file uses its
        characters in 0x80-0x9F, else Latin-1."""
        characters, not_utf8, c1 = self._evidence
        if characters > not_utf8:
            return "utf-8"
        return "cp1252" if c1 and not c1 & _CP1252_UNDEFINED else "latin-1"

    @property
    def _converted(self) -> bool:
        """Whether DuckDB cannot read the encoding itself and reads a UTF-8 copy."""
        return self.encoding not in ("utf-8", "utf-16", "latin-1")

    @property
    def _duckdb_encoding(self) -> str:
        return "utf-8" if self._converted else self.encoding

    @cached_property
    def _readable(self) -> str:
        """The file DuckDB reads: the source, or its UTF-8 copy (removed after the load)."""
        if not self._converted:
            return self.source
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise SourceError(f"{self.source}: unknown encoding {self.encoding!r}") from None
        return write_temporary(".csv", self._write_utf8)

    def _write_utf8(self, out: IO[bytes]) -> None:
        decoder = codecs.getincrementaldecoder(self.encoding)("strict")
        try:
            for chunk in self._chunks():
                out.write(decoder.decode(chunk).encode("utf-8"))
            out.write(decoder.decode(b"", final=True).encode("utf-8"))
        except UnicodeDecodeError as exc:
            raise SourceError(f"{self.source}: not {self.encoding} text: {exc.reason}") from None

    def _discard_copy(self) -> None:
        if self._converted and "_readable" in self.__dict__:
            os.unlink(self.__dict__.pop("_readable"))

    def get_schema(self) -> list[StagedColumn]:
        try:
            return super().get_schema()
        finally:
            self._discard_copy()

    def load(self, workspace: Workspace) -> StagedTable:
        try:
            while True:  # read at most three times: each reason to read again holds once
                staged = super().load(workspace)
                if self._too_long:
                    self._max_line = _LONG_LINE
                elif self._rereads:
                    # UTF-8 in the first 64 KiB, not further on, and mostly not UTF-8 as a whole:
                    # read it again as what it is
                    self.encoding = self._file_encoding
                    for cached in ("_readable", "_dialect", "_head_text"):
                        self.__dict__.pop(cached, None)
                else:
                    return staged
        finally:
            self._discard_copy()

    @property
    def _rereads(self) -> bool:
        """Whether the rows DuckDB found not UTF-8 show a file in a single-byte encoding."""
        return (bool(self._undecodable) and self.encoding == "utf-8"
                and "encoding" not in self.options and self._file_encoding != "utf-8")

    def _relation_sql(self, con: duckdb.DuckDBPyConnection) -> str:
        return self._read_sql("store_rejects=true", f"rejects_table={quote_literal(_REJECTS)}",
                              f"rejects_scan={quote_literal(_SCANS)}")

    def _expected_rows(self) -> int | None:
        # the file's size over the mean length of its first lines (a compressed file's size says little)
        row = self._row_bytes()
        if self._converted or self.source.lower().endswith((".gz", ".zst")) or not row:
            return None
        return int(os.path.getsize(self.source) / row)

    def _row_bytes(self) -> float | None:
        # the mean length of the first lines, decompressed
        lines = self._head.count(b"\n")
        return len(self._head) / lines if lines else None

    def _read_in_place(self) -> InPlace | None:
        # a file DuckDB reads itself is not copied (a text copy of a CSV costs more than reading it
        # twice); one converted to UTF-8 is read from its temporary copy, so that copy is staged.
        # So is a wide one: its sample of whole rows costs more to draw than the copy (1,000 columns x
        # 20,000 rows: staging 18.8 s instead of 7.4), and every later read binds all its columns
        if self._converted or len(self._dialect.columns) >= WIDE_COLUMNS:
            return None
        path = os.path.abspath(self.source)  # the next steps may run elsewhere (a worker, the MCP server)
        return InPlace(read=self._read_sql("ignore_errors=true", path=path), file=path, version=self.version)

    def _read_sql(self, *errors: str, path: str | None = None) -> str:
        """read_csv of the file (`path`, else the one read now) with its dialect; `errors` say
        what becomes of malformed rows."""
        args = [quote_literal(path or self._readable), f"encoding={quote_literal(self._duckdb_encoding)}",
                *self._dialect.options(), *self._line_room(), *errors]
        return f"read_csv({', '.join(args)})"

    @cached_property
    def _dialect(self) -> _Dialect:
        """The dialect the file is read with. DuckDB's sniffer finds it; its verdict of "no
        header" is taken only when the first line holds a number or a date, which a header does
        not: with every value text (or a ragged row) the sniffer can miss a real header."""
        dialect = self._sniff(self._readable, self._duckdb_encoding)
        if not dialect.header and "header" not in self.options and not any(
                _DATA_VALUE.match(v.strip()) for v in self._first_line(dialect.delimiter, dialect.quote)):
            dialect = self._sniff(self._readable, self._duckdb_encoding, **dialect.fixed(header=True))
        if "quote" not in self.options and self._quotes_dropped(dialect):
            dialect = self._sniff_quoted_head(dialect) or dialect
        return dialect

    def _sniff(self, path: str, encoding: str, **fixed: str) -> _Dialect:
        """DuckDB's sniffer, with the options set and those `fixed`, tolerating malformed rows
        as the read does (it rejects them)."""
        options = {"encoding": quote_literal(encoding), **self._set_options(), **fixed}
        args = ", ".join([quote_literal(path), *(f"{k}={v}" for k, v in options.items()), *self._line_room(),
                          "ignore_errors=true"])
        try:
            with session() as con:  # a cursor of the process's instance: opening one costs ~15 ms
                [(header, skip, columns, *texts)] = con.execute(
                    "SELECT HasHeader, SkipRows, Columns, Delimiter, Quote, Escape, NewLineDelimiter, "
                    f"Comment FROM sniff_csv({args})").fetchall()
        except duckdb.Error as exc:
            if self._max_line < _LONG_LINE and "Maximum line size" in str(exc):
                self._max_line = _LONG_LINE  # a line of the sample is longer: the read needs the room too
                return self._sniff(path, encoding, **fixed)
            raise SourceError(f"{self.source}: cannot be read as {self.name}: {_first_line(exc)}") from None
        delimiter, quote, escape, new_line, comment = ("" if t == "(empty)" else t for t in texts)
        if "header" in self.options:
            header = _truthy(self.options["header"])
        return _Dialect(header, delimiter, quote, escape, new_line, comment, skip,
                        tuple(c["name"] for c in columns))

    def _line_room(self) -> list[str]:
        """The longest line read, and a smaller read buffer than DuckDB's for lines of the default."""
        room = [f"max_line_size={self._max_line}"]
        return [*room, f"buffer_size={_BUFFER}"] if self._max_line == _LINE else room

    def _set_options(self) -> dict[str, str]:
        """The dialect options the user set, as DuckDB's arguments."""
        names = {"delimiter": "delim", "quote": "quote"}
        options = {names[k]: quote_literal(str(v)) for k, v in self.options.items() if k in names}
        if "header" in self.options:
            options["header"] = str(_truthy(self.options["header"])).lower()
        return options

    def _quotes_dropped(self, dialect: _Dialect) -> bool:
        """Whether the sniffer settled for no quote (or one that never occurs) while fields of
        the first lines are wrapped in double quotes: the sign of a quote never closed. A
        wrapped field may hold the delimiter (the reason to quote it)."""
        text = self._head_text
        if dialect.quote == '"' or (dialect.quote and dialect.quote in text) or not dialect.delimiter:
            return False
        d = re.escape(dialect.delimiter)
        return re.search(rf'(?:^|{d})[ \t]*"[^"\r\n]*"[ \t]*(?:{d}|\r?$)', text, re.M) is not None

    def _sniff_quoted_head(self, dialect: _Dialect) -> _Dialect | None:
        """The dialect of the first lines read with double quotes, up to the row whose quote is
        never closed; None when they do not read so either."""
        lines = self._head_text.splitlines(keepends=True)
        if len(self._head) == _HEAD:
            lines.pop()  # whole lines only
        if sum(line.count('"') for line in lines) % 2:  # leave out the row where the unclosed quote opens
            lines = lines[: max(i for i, line in enumerate(lines) if '"' in line)]
        sample = write_temporary(".csv", lambda out: out.write("".join(lines).encode("utf-8")))
        try:
            quoted = self._sniff(sample, "utf-8", **dialect.fixed(quote='"'))
        except SourceError:
            return None
        finally:
            os.unlink(sample)
        return quoted if quoted.quote == '"' else None

    @cached_property
    def _head_text(self) -> str:
        return self._head.decode(self.encoding, errors="replace").lstrip("\ufeff")

    def _first_line(self, delimiter: str, quote: str) -> list[str]:
        """The fields of the first line; none when Python's csv cannot read them (a field over its
        limit of 128 KiB, which DuckDB reads): DuckDB's reading of the line stands then."""
        try:
            return next(csv.reader(self._head_text.splitlines()[:1], delimiter=delimiter or ",",
                                   quotechar=quote or '"', quoting=csv.QUOTE_MINIMAL if quote else csv.QUOTE_NONE), [])
        except csv.Error:
            return []

    def _detected_options(self) -> dict[str, str]:
        d = self._dialect
        return {"encoding": self.encoding, "delimiter": d.delimiter, "quote": d.quote,
                "header": "true" if d.header else "false"}

    def _source_names(self, con: duckdb.DuckDBPyConnection) -> list[str] | None:
        """The header as written (DuckDB renames empty and repeated names)."""
        d = self._dialect
        if not d.header:
            return None
        return [name.strip() for name in self._first_line(d.delimiter, d.quote)] or None

    def _warnings(self, columns: list[StagedColumn]) -> list[str]:
        warnings = super()._warnings(columns)
        if self._undecodable:
            shown = ", ".join(map(str, self._undecodable[:5])) + (", ..." if len(self._undecodable) > 5 else "")
            warnings.append(f"{self.source}: {len(self._undecodable)} row(s) not UTF-8, unlike the rest "
                            f"of the file, moved to quarantine (line{'s' if len(self._undecodable) > 1 else ''} "
                            f"{shown}); if the file has another encoding, set the `encoding` option")
        return warnings

    def _rejects(self, con: duckdb.DuckDBPyConnection, workspace: Workspace) -> tuple[int, str | None]:
        self._undecodable, self._too_long = (), False
        try:
            [(count, undecodable, too_long)] = con.execute(
                f"SELECT count(DISTINCT line), list(DISTINCT line ORDER BY line) "
                f"FILTER (WHERE error_type = 'INVALID ENCODING'), "
                f"count(*) FILTER (WHERE error_type = '{_LINE_TOO_LONG}') FROM {_REJECTS}").fetchall()
        except duckdb.CatalogException:
            return 0, None
        if too_long and self._max_line < _LONG_LINE:
            self._too_long = True  # read again (load), with room for the line
            return count, None
        self._undecodable = tuple(undecodable or ())
        relative = workspace.relative(STAGED, self.table, ".rejects.parquet")
        if not count:
            workspace.remove(relative)
            return 0, None
        # DuckDB writes `?` for the bytes that are not UTF-8: the rows kept get their own bytes
        exact = self._lines_not_utf8() if self._undecodable and not self._rereads else []
        paired = len(exact) == len(self._undecodable)  # one line each (no quoted line breaks)
        workspace.write_parquet(
            con,
            "WITH exact AS (SELECT unnest(?::BIGINT[]) AS line, unnest(?::VARCHAR[]) AS raw_line) "
            "SELECT r.line::BIGINT AS line, coalesce(any_value(exact.raw_line), any_value(r.csv_line)) AS raw_line, "
            f"CASE WHEN bool_or(r.error_type = 'INVALID ENCODING') THEN {quote_literal(_NOT_UTF8)} "
            "ELSE string_agg(DISTINCT r.error_type::VARCHAR, '; ') || ': ' || any_value(r.error_message) END AS reason "
            f"FROM {_REJECTS} r LEFT JOIN exact ON r.line = exact.line GROUP BY r.line ORDER BY r.line",
            relative,
            [list(self._undecodable) if paired else [], exact if paired else []],
        )
        return count, relative

    def _lines_not_utf8(self) -> list[str]:
        """The lines that are not UTF-8, in order, those bytes written `\\xNN`: one pass over
        the file in blocks of whole lines, with a step per such line and none per row."""
        found: list[str] = []
        rest = b""
        for chunk in [*self._chunks(), b""]:
            block = rest + chunk
            end = block.rfind(b"\n") + 1 if chunk else len(block)
            found.extend(_not_utf8(block[:end]))
            rest = block[end:]
        return found


def _not_utf8(block: bytes) -> Iterator[str]:
    """The lines of a block of whole lines that are not UTF-8."""
    view, start = memoryview(block), 0
    while True:
        try:
            codecs.utf_8_decode(view[start:], "strict", True)
            return
        except UnicodeDecodeError as exc:
            bad = start + exc.start
            first = block.rfind(b"\n", 0, bad) + 1
            start = block.find(b"\n", bad) + 1 or len(block)
            yield block[first:start].rstrip(b"\r\n").decode("utf-8", "backslashreplace")


def _truthy(value: object) -> bool:
    return value is True or str(value).lower() in ("true", "yes", "1")

