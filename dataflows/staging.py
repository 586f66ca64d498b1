"""Staging: sources into the workspace, as read (VARCHAR-first for untyped sources)."""

from __future__ import annotations

import os

from hamilton.function_modifiers import cache, tag

from dataraum_context.loaders import resolve_sources
from dataraum_context.models import Frozen, StagingResult
from dataraum_context.workspace import Workspace


class SourceManifest(Frozen):
    """The files behind the sources, with size and modification time: a changed file changes
    the manifest, so Hamilton's cache restages it."""

    files: tuple[tuple[str, int, int], ...]  # (path, size, mtime_ns)


@cache(behavior="recompute")
def source_manifest(sources: list[str]) -> SourceManifest:
    """Expand `sources` into the files behind them (always recomputed, it is cheap)."""
    files = []
    for loader in resolve_sources(sources):
        st = os.stat(loader.source)
        files.append((loader.source, st.st_size, st.st_mtime_ns))
    return SourceManifest(files=tuple(files))


@tag(scope="table", phase="staging", criticality="critical")
def staging(source_manifest: SourceManifest, workspace: str) -> StagingResult:
    """Each source file staged as `staged/<table>.parquet`, one table per file."""
    ws = Workspace(workspace)
    loaders = resolve_sources([path for path, _size, _mtime in source_manifest.files])
    return StagingResult(tables={loader.table: loader.load(ws) for loader in loaders})
