"""Staging: sources into the workspace, as read (VARCHAR-first for untyped sources)."""

from __future__ import annotations

import os

from hamilton.function_modifiers import cache

from dataraum_context.errors import ConfigError
from dataraum_context.loaders import resolve_sources
from dataraum_context.models import Frozen, StagingResult
from dataraum_context.step import step
from dataraum_context.workspace import Workspace


class SourceManifest(Frozen):
    """The files behind the sources, with size and modification time: a changed file changes
    the manifest, so Hamilton's cache restages it."""

    files: tuple[tuple[str, int, int], ...]  # (path, size, mtime_ns)


@cache(behavior="recompute")
def source_manifest(sources: list[str], tables: list[str] | None = None) -> SourceManifest:
    """Expand `sources` into the files behind them, keeping only `tables` when given
    (always recomputed: it is cheap, and a changed file must be restaged)."""
    loaders = resolve_sources(sources)
    if tables:
        found = {loader.table for loader in loaders}
        unknown = sorted(set(tables) - found)
        if unknown:
            raise ConfigError(f"tables: {', '.join(unknown)} not among the sources' tables "
                              f"({', '.join(sorted(found))})")
        loaders = [loader for loader in loaders if loader.table in tables]
    files = []
    for loader in loaders:
        st = os.stat(loader.source)
        files.append((loader.source, st.st_size, st.st_mtime_ns))
    return SourceManifest(files=tuple(files))


@step(scope="table", phase="staging", criticality="critical")
def staging(source_manifest: SourceManifest, workspace: str) -> StagingResult:
    """Each source file staged as `staged/<table>.parquet`, one table per file."""
    ws = Workspace(workspace)
    loaders = resolve_sources([path for path, _size, _mtime in source_manifest.files])
    tables = {loader.table: loader.load(ws) for loader in loaders}
    written = [f for t in tables.values() for f in (t.path, t.rejects_path)]
    return StagingResult(tables=tables, files=ws.versions(written))
