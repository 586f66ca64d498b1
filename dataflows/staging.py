"""Staging: sources into the workspace, as read (VARCHAR-first for untyped sources), one table
at a time.

A source that cannot be read (a corrupt file, an unreachable server, a failing API) is recorded
in the result by name with its reason and the others are staged: the run is then incomplete,
not failed. Only when no source at all can be staged does the step raise.
"""

from __future__ import annotations

import uuid
from typing import Any

from hamilton.function_modifiers import cache
from hamilton.htypes import Collect, Parallelizable

from dataraum_context import plugins
from dataraum_context.errors import ConfigError, SourceError
from dataraum_context.loaders.base import staged_loaders
from dataraum_context.loaders.sources import SourceSpec
from dataraum_context.models import Frozen, SourceFailure, StagingResult, TableStaging
from dataraum_context.step import part_of_step, step
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
def source_manifest(sources: list[str | SourceSpec], tables: list[str] | None = None) -> SourceManifest:
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


@part_of_step("staging")
def table_to_stage(source_manifest: SourceManifest) -> Parallelizable[ManifestTable]:
    """Each table of the manifest, with its own version: a changed source restages only its table."""
    yield from source_manifest.tables


@part_of_step("staging")
def table_staging(table_to_stage: ManifestTable, workspace: str) -> TableStaging:
    """One table staged as `staged/<table>.parquet` with the keys its source declares, or the
    reason its source could not be read."""
    ws = Workspace(workspace)
    entry = table_to_stage
    loader = plugins.loaders()[entry.loader](entry.source, table=entry.table, options=entry.options,
                                             credentials=entry.credentials)
    try:
        table = loader.load(ws)
        declared = tuple(loader.relationships())
    except SourceError as exc:
        return TableStaging(failure=SourceFailure(source=entry.source_name, reason=str(exc),
                                                  transient=exc.transient))
    files = ws.versions([table.path, table.sample_path, table.rejects_path])
    return TableStaging(table=table.model_copy(update={"workspace_files": files}), declared_relationships=declared)


@step(scope="table", phase="staging", criticality="critical")
def staging(table_staging: Collect[TableStaging], source_manifest: SourceManifest) -> StagingResult:
    """Every table of the sources staged, with the foreign keys the sources declare; the
    sources that could not be read are listed in `failures`."""
    staged = list(table_staging)
    tables = {s.table.name: s.table for s in staged if s.table is not None}
    failures = [*source_manifest.failures, *(s.failure for s in staged if s.failure is not None)]
    if not tables:
        reasons = [f.reason for f in failures]
        raise SourceError("; ".join(reasons) if reasons else "the sources hold no tables",
                          transient=bool(failures) and all(f.transient for f in failures))
    declared = [r for s in staged for r in s.declared_relationships
                if r.from_table in tables and r.to_table in tables]
    return StagingResult(tables=tables, declared_relationships=tuple(declared), failures=tuple(failures))
