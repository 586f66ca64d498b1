"""Steps of a package the core does not know, whose results have a section in the context."""

from dataraum_context.models import ContextSection, Frozen, StagingResult
from dataraum_context.step import step


class TableCount(Frozen):
    tables: dict[str, int]

    def context_section(self) -> ContextSection:
        return ContextSection(
            title="Row counts | by table", summary="Counted by a step package.",
            facts=tuple(f"{name}: {rows} rows" for name, rows in self.tables.items()),
            table=(("table", "rows"), *((name, str(rows)) for name, rows in self.tables.items())),
            data=self.model_dump())


class Unshown(Frozen):
    count: int


@step(scope="table", phase="enrichment", criticality="optional")
def row_counts(staging: StagingResult) -> TableCount:
    return TableCount(tables={name: t.row_count for name, t in staging.tables.items()})


@step(scope="source", phase="enrichment", criticality="optional")
def broken_counts(staging: StagingResult, fail_counts: bool = False) -> TableCount:
    if fail_counts:
        raise RuntimeError("counting failed")
    return TableCount(tables={"all": sum(t.row_count for t in staging.tables.values())})


@step(scope="source", phase="enrichment", criticality="optional")
def table_total(staging: StagingResult) -> Unshown:  # no section: the context stays as it was
    return Unshown(count=len(staging.tables))
