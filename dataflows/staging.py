"""Staging: sources into the workspace, as read (VARCHAR-first for untyped sources).

A source that cannot be read (a corrupt file, an unreachable server, a failing API) is recorded
in the result by name with its reason and the others are staged: the run is then incomplete,
not failed. Only when no source at all can be staged does the step raise.
"""

from __future__ import annotations

import uuid
from typing import Any

from hamilton.function_modifiers import cache

from dataraum_context import plugins
from dataraum_context.errors import ConfigError, SourceError
from dataraum_context.loaders.base import staged_loaders
from dataraum_context.models import Frozen, Relationship, SourceFailure, StagingResult
from dataraum_context.step import step
from dataraum_context.workspace import Workspace


class ManifestTable(Frozen):
    """One table to stage: what rebuilds its loader, and the version of the source's rows.
    Credentials are `${ENV_VAR}` references here, never values."""

    source_name: str  # the source as the user named it
    loader: str
    source: str
    table: str
    options: dict[str, Any] = {}
    credentials: dict[str, Any] = {}
    version: str


class SourceManifest(Frozen):
    """The tables behind the sources with their versions (file sizes and times; a fresh token
    for servers and APIs, which are always staged again): a changed source changes the
    manifest, so Hamilton's cache restages it."""

    tables: tuple[ManifestTable, ...]
    failures: tuple[SourceFailure, ...] = ()


@cache(behavior="recompute")
def source_manifest(sources: list[str], tables: list[str] | None = None) -> SourceManifest:
    """Expand `sources` into their tables, keeping only `tables` when given (always recomputed:
    it reads only catalogs and file times, and a changed source must be restaged)."""
    loaders, failures = staged_loaders(sources)
    if tables:
        found = {loader.table for loader in loaders}
        unknown = sorted(set(tables) - found)
        if unknown:
            unread = f"; not read: {', '.join(f.source for f in failures)}" if failures else ""
            raise ConfigError(f"tables: {', '.join(unknown)} not among the sources' tables "
                              f"({', '.join(sorted(found))}{unread})")
        loaders = [loader for loader in loaders if loader.table in tables]
    entries = []
    for loader in loaders:
        try:
            version = uuid.uuid4().hex if loader.always_restaged else loader.version
        except OSError as exc:
            failures.append(SourceFailure(source=loader.source_name, reason=f"{loader.source}: {exc.strerror}"))
            continue
        entries.append(ManifestTable(
            source_name=loader.source_name, loader=loader.name, source=loader.source,
            table=loader.table, options=loader.options, credentials=loader.credentials,
            version=version))
    return SourceManifest(tables=tuple(entries), failures=tuple(failures))


@step(scope="table", phase="staging", criticality="critical")
def staging(source_manifest: SourceManifest, workspace: str) -> StagingResult:
    """Each table of the sources staged as `staged/<table>.parquet`, with the foreign keys the
    sources declare; the sources that could not be read are listed in `failures`."""
    ws = Workspace(workspace)
    registry = plugins.loaders()
    failures = list(source_manifest.failures)
    tables = {}
    declared: list[Relationship] = []
    for entry in source_manifest.tables:
        loader = registry[entry.loader](entry.source, table=entry.table, options=entry.options,
                                        credentials=entry.credentials)
        try:
            tables[entry.table] = loader.load(ws)
            declared.extend(loader.relationships())
        except SourceError as exc:
            failures.append(SourceFailure(source=entry.source_name, reason=str(exc)))
    if not tables:
        reasons = [f.reason for f in failures]
        raise SourceError("; ".join(reasons) if reasons else "the sources hold no tables")
    declared = [r for r in declared if r.from_table in tables and r.to_table in tables]
    written = [f for t in tables.values() for f in (t.path, t.rejects_path)]
    return StagingResult(tables=tables, files=ws.versions(written),
                         declared_relationships=tuple(declared), failures=tuple(failures))
