"""Every check of every table, before anything runs: the ontology's rules, the generic
checks and the null tokens, grouped by table with the files each table's checks read."""

from __future__ import annotations

from datetime import datetime

from dataraum_context.models import TemporalResult, TopologyResult
from dataraum_context.ontology import Ontology
from dataraum_context.quality.bindings import binding_source
from dataraum_context.quality.checks import Check, QualityChecks, TableChecks
from dataraum_context.quality.generic import (
    StagedNullTokens,
    generic_checks,
    null_token_checks,
)
from dataraum_context.quality.rules import compile_rules
from dataraum_context.quality.tables import Tables
from dataraum_context.workspace import Workspace


def plan_checks(tables: Tables, ontology: Ontology, reference: datetime, null_tokens: StagedNullTokens,
                ws: Workspace, topology: TopologyResult | None, temporal: TemporalResult | None,
                null_ratio_threshold: float, iqr_fence_multiplier: float) -> QualityChecks:
    checks, skipped = compile_rules(ontology, tables, reference)
    checks += generic_checks(tables, topology, temporal, null_ratio_threshold, iqr_fence_multiplier)
    checks += null_token_checks(null_tokens, tables, ws)
    return QualityChecks(
        tables={name: _table_checks(name, [c for c in checks if c.table == name], tables) for name in tables.tables},
        not_applicable=tuple(skipped), binding=binding_source(tables), ontology=ontology.label,
        reference_time=reference,
        settings={"null_ratio_threshold": null_ratio_threshold, "iqr_fence_multiplier": iqr_fence_multiplier})


def _table_checks(name: str, checks: list[Check], tables: Tables) -> TableChecks:
    resolved = tables.tables[name]
    reads = {name: resolved.path} | {t: tables.tables[t].path for c in checks for t in c.reads}
    files = [*reads.values(), resolved.quarantine_path]
    staged = tables.staging.tables.get(name) if tables.staging else None
    known = {**(tables.staging.workspace_files if tables.staging else {}), **tables.types.workspace_files}
    if staged is not None and any(c.relation for c in checks):  # the null_tokens checks read the staged rows
        files.append(staged.path)
        if staged.in_place is not None:  # a CSV read in place: its own file
            files.append(staged.in_place.file)
            known[staged.in_place.file] = staged.in_place.version
    return TableChecks(table=name, rows=resolved.row_count, key=tables.key(name), checks=tuple(checks),
                       reads=reads, quarantine=resolved.quarantine_path,
                       versions={f: known[f] for f in files if f is not None and f in known})
