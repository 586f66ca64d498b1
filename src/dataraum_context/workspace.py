"""The on-disk workspace: Parquet per table, quarantine, Hamilton's cache.

    <root>/staged/<table>.parquet        rows as read from the source (VARCHAR for untyped sources)
    <root>/staged/<table>.rejects.parquet malformed source rows (line number, raw line, reason)
    <root>/tables/<table>.parquet        typed rows
    <root>/quarantine/<table>.parquet    values that failed their cast, and rejected rows
    <root>/frames/<name>.parquet         in-memory frames handed to `driver()`/`run()`, as sources
    <root>/cache/                        Hamilton's cache
    <root>/runs/<run id>.json            one record per run: steps, status, timings, tables computed

Files are written under a temporary name and renamed, so a crash never leaves half a table.
No connection is held open: readers and steps open their own short-lived DuckDB connections.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import duckdb

from dataraum_context.models import PipelineRun
from dataraum_context.sql import connect, quote_ident, quote_literal

STAGED = "staged"
TABLES = "tables"
QUARANTINE = "quarantine"
FRAMES = "frames"
CACHE = "cache"
RUNS = "runs"


class Workspace:
    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root).expanduser().resolve()

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    def path(self, relative: str) -> Path:
        return self.root / relative

    def relative(self, kind: str, table: str, suffix: str = ".parquet") -> str:
        return f"{kind}/{table}{suffix}"

    @property
    def cache_dir(self) -> Path:
        return self.root / CACHE

    def write_parquet(self, con: duckdb.DuckDBPyConnection, query: str, relative: str,
                      params: list | None = None, metadata: dict[str, str] | None = None) -> Path:
        """COPY a query's result to `relative` atomically (temporary name, then rename), with
        `metadata` as the file's key-value metadata.
        Snappy without dictionary pages: a fifth faster to write than DuckDB's default, and the
        files are scanned whole by the next step, where dictionaries buy nothing."""
        target = self.path(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        options = "FORMAT parquet, COMPRESSION snappy, DICTIONARY_SIZE_LIMIT 1"
        if metadata:
            pairs = ", ".join(f"{quote_literal(k)}: {quote_literal(v)}" for k, v in metadata.items())
            options += f", KV_METADATA {{{pairs}}}"
        try:
            con.execute(f"COPY ({query}) TO {quote_literal(str(tmp))} ({options})", params or [])
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        return target

    def versions(self, relatives: list[str | None]) -> dict[str, str]:
        """The version (size and modification time) of each file: what a step's result records
        of the files it wrote, so a cached result can be checked against the workspace."""
        out = {}
        for relative in relatives:
            if relative is not None:
                st = self.path(relative).stat()
                out[relative] = f"{st.st_size}-{st.st_mtime_ns}"
        return out

    def changed(self, versions: dict[str, str]) -> list[str]:
        """The files that are gone or no longer the version a result recorded."""
        changed = []
        for relative, version in versions.items():
            try:
                current = self.versions([relative])[relative]
            except FileNotFoundError:
                current = None
            if current != version:
                changed.append(relative)
        return changed

    def write_run(self, run: PipelineRun) -> Path:
        """Record a run as `runs/<run id>.json` (written whole or not at all)."""
        target = self.root / RUNS / f"{run.run_id}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            tmp.write_text(run.model_dump_json(indent=2), encoding="utf-8")
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        return target

    def runs(self, limit: int | None = None) -> list[PipelineRun]:
        """The recorded runs, newest first (run ids start with their UTC start time)."""
        paths = sorted((self.root / RUNS).glob("*.json"), reverse=True)[:limit]
        return [PipelineRun.model_validate_json(p.read_text(encoding="utf-8")) for p in paths]

    def remove(self, relative: str) -> None:
        self.path(relative).unlink(missing_ok=True)

    def table_names(self) -> list[str]:
        return sorted(p.stem for p in (self.root / TABLES).glob("*.parquet"))

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A new connection with every typed table as a view, and `quarantine_<table>` views."""
        con = connect()
        for name in self.table_names():
            con.execute(
                f"CREATE VIEW {quote_ident(name)} AS SELECT * FROM "
                f"read_parquet({quote_literal(str(self.path(self.relative(TABLES, name))))})"
            )
        for q in sorted((self.root / QUARANTINE).glob("*.parquet")):
            con.execute(
                f"CREATE VIEW {quote_ident('quarantine_' + q.stem)} AS SELECT * FROM "
                f"read_parquet({quote_literal(str(q))})"
            )
        return con

    def sql(self, query: str, params: list | None = None) -> duckdb.DuckDBPyRelation:
        """Run SQL over the workspace's typed tables: `ws.sql("SELECT * FROM orders").pl()`."""
        con = self.connect()
        if params:
            return con.sql(query, params=params)
        return con.sql(query)
