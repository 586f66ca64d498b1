"""The check model: a quality check as it is before it runs.

A check is SQL over one table. A row check contributes only its predicate (a row fails where
it is true); the runner counts the failing rows, keeps the first few and scores them. A query
check returns its failing rows, groups or periods itself (duplicated keys, orphans, the groups
of a grouped rule, missing periods) and says how many were checked. Either way `Check.sql` is
the query that returns exactly what fails, with its values bound to `?` placeholders, and runs
as written against `Workspace.sql`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from dataraum_context.models import Frozen, InapplicableRule
from dataraum_context.sql import Sql, concat, quote_ident

ROW_NUMBER = "file_row_number"  # the typed tables are read with their row numbers (0-based)


class Check(Frozen):
    """One check on one table: a row predicate, or a query returning what fails."""

    check: str  # the ontology rule's name, or the generic check (duplicate_key, null_ratio, ...)
    rule_type: str
    table: str
    severity: str  # info | warning | error
    columns: tuple[str, ...] = ()
    source: str = "generic"  # "ontology" | "generic"
    ontology_file: str | None = None
    description: str = ""
    threshold: float = 1.0  # the share of rows (groups, periods) that must pass
    unit: str = "rows"  # rows | groups | periods | columns: what the SQL returns and is counted in
    evidence: tuple[str, ...] = ()
    predicate: Sql | None = None  # a row check: a row fails where this is true
    relation: str | None = None  # what the predicate reads; default: the typed table
    query: Sql | None = None  # a query check: returns the failing rows, groups or periods
    total: int | Sql | None = None  # how many were checked: a number, or a query counting them
    known_failing: int | None = None  # already counted exactly by an earlier step
    reads: tuple[str, ...] = ()  # other typed tables the query reads (the referenced table)
    table_rows: bool = True  # the query returns rows of the table (examples in row order)
    extra: tuple[str, ...] = ()  # computed columns of the query worth showing in examples

    @property
    def sql(self) -> Sql:
        """The query returning exactly the failing rows (groups, periods)."""
        if self.query is not None:
            return self.query
        assert self.predicate is not None, "a check has a predicate or a query"
        return concat(f"SELECT * FROM {self.relation or quote_ident(self.table)} WHERE ", self.predicate)


class TableChecks(Frozen):
    """One table's checks with what running them needs, and nothing of the other tables: the
    typed tables they read, the quarantine, and the versions of those files, so that a table
    whose files changed runs its checks again and the others need not."""

    table: str
    rows: int  # the table's rows: its weight in the overall score
    key: tuple[str, ...] = ()  # the columns that identify a row in examples
    checks: tuple[Check, ...] = ()
    reads: dict[str, str]  # typed tables the checks read (this one first) -> workspace-relative Parquet
    quarantine: str | None = None  # the table's quarantine Parquet, read as `quarantine_<table>`
    versions: dict[str, str]  # the versions of the files the checks read, as far as known


class QualityChecks(Frozen):
    """Every check of every table, compiled and not yet run; the ontology's rules that found
    nothing to check, with the reason; and what the checks were compiled with."""

    tables: dict[str, TableChecks]
    not_applicable: tuple[InapplicableRule, ...] = ()
    binding: str  # how rules found their columns: semantic_enrichment | concept_matcher
    ontology: str | None = None  # "name version"
    reference_time: datetime  # what freshness rules are measured against
    settings: dict[str, Any]  # the thresholds the generic checks were compiled with

    @property
    def checks(self) -> tuple[Check, ...]:
        return tuple(c for t in self.tables.values() for c in t.checks)

    def select(self, keep: Callable[[Check], bool]) -> QualityChecks:
        """The checks for which `keep` is true; hand them to `quality_assessment` as an
        override (docs/QUALITY.md) to run only those."""
        tables = {name: t.model_copy(update={"checks": tuple(c for c in t.checks if keep(c))})
                  for name, t in self.tables.items()}
        return self.model_copy(update={"tables": tables})
