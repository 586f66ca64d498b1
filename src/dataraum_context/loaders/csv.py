"""CSV and TSV files (also gzip-compressed), staged VARCHAR-first.

Malformed rows (too many or too few fields) are not dropped: DuckDB's rejects table records
them and they go to the table's quarantine with their line number and raw text.
"""

from __future__ import annotations

import codecs
import csv
import gzip
from functools import cached_property

import duckdb

from dataraum_context.errors import SourceError
from dataraum_context.loaders.base import LoaderBase
from dataraum_context.models import StagedTable, TypeSystemStrength
from dataraum_context.sql import quote_literal
from dataraum_context.workspace import STAGED, Workspace

_REJECTS = "dataraum_rejects"
_SCANS = "dataraum_reject_scans"


class CSVLoader(LoaderBase):
    name = "csv"
    type_system = TypeSystemStrength.UNTYPED
    extensions = (".csv", ".tsv", ".tab", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz")

    _invalid_encoding: bool | None = False

    @cached_property
    def _head(self) -> bytes:
        """The first bytes of the (decompressed) file."""
        opener = gzip.open if self.source.lower().endswith(".gz") else open
        try:
            with opener(self.source, "rb") as f:
                return f.read(65536)
        except (OSError, EOFError) as exc:
            raise SourceError(f"{self.source}: cannot be read: {exc}") from None

    @cached_property
    def encoding(self) -> str:
        head = self._head
        if not head.strip():
            raise SourceError(f"{self.source}: file is empty")
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        if b"\x00" in head:
            raise SourceError(f"{self.source}: looks like a binary file, not {self.name.upper()} text")
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            # a multi-byte character cut at the end of the sample is still UTF-8
            if exc.start < len(head) - 3:
                return "latin-1"
        return "utf-8"

    def load(self, workspace: Workspace) -> StagedTable:
        staged = super().load(workspace)
        if self.encoding == "utf-8" and self._invalid_encoding:
            # UTF-8 in the first 64 KiB, but a Latin-1 byte further on: read it again as Latin-1
            self.encoding = "latin-1"
            staged = super().load(workspace)
        return staged

    def _read_csv(self, encoding: str) -> str:
        args = [quote_literal(self.source), "all_varchar=true", "header=true",
                f"encoding={quote_literal(encoding)}",
                "store_rejects=true", f"rejects_table={quote_literal(_REJECTS)}",
                f"rejects_scan={quote_literal(_SCANS)}"]
        return f"read_csv({', '.join(args)})"

    def _relation_sql(self, con: duckdb.DuckDBPyConnection) -> str:
        return self._read_csv(self.encoding)

    @cached_property
    def _header_line(self) -> list[str]:
        """The header as written, split by the delimiter Python's sniffer sees in the sample."""
        text = self._head.decode(self.encoding, errors="replace").lstrip("\ufeff")
        try:
            dialect = csv.Sniffer().sniff(text[:16384], delimiters=",;\t|")
        except csv.Error:
            dialect = csv.excel
        self._delimiter = dialect.delimiter
        return next(csv.reader(text.splitlines()[:1], dialect), [])

    def _detected_options(self) -> dict[str, str]:
        self._header_line
        return {"encoding": self.encoding, "delimiter": self._delimiter, "header": "true"}

    def _source_names(self, con: duckdb.DuckDBPyConnection) -> list[str] | None:
        return [name.strip() for name in self._header_line] or None

    def _rejects(self, con: duckdb.DuckDBPyConnection, workspace: Workspace) -> tuple[int, str | None]:
        try:
            count, self._invalid_encoding = con.execute(
                f"SELECT count(DISTINCT line), bool_or(error_type = 'INVALID ENCODING') FROM {_REJECTS}"
            ).fetchone()
        except duckdb.CatalogException:
            return 0, None
        relative = workspace.relative(STAGED, self.table, ".rejects.parquet")
        if not count:
            workspace.remove(relative)
            return 0, None
        workspace.write_parquet(
            con,
            f"SELECT line::BIGINT AS line, any_value(csv_line) AS raw_line, "
            f"string_agg(DISTINCT error_type::VARCHAR, '; ') || ': ' || any_value(error_message) AS reason "
            f"FROM {_REJECTS} GROUP BY line ORDER BY line",
            relative,
        )
        return count, relative
