"""The results of the checks: per table what was checked, what failed, examples; and for every
table or pipeline where a check had nothing to check, the reason. Each result has its section
of the context document."""

from __future__ import annotations

from dataraum_context.models import ContextSection, Frozen


class NotApplicable(Frozen):
    table: str | None = None  # None: the whole pipeline (the ontology lacks the concepts)
    reason: str


class TableCheck(Frozen):
    """One check on one table."""

    table: str
    columns: dict[str, str]  # concept -> the column bound to it
    checked: int  # entries, periods, groups or accounts looked at
    failed: int  # of those, how many break the rule
    summary: str  # what was found, in one line
    examples: tuple[str, ...] = ()  # the worst failures, each in words
    sql: str = ""  # the query that returns the failures


class FinancialCheck(Frozen):
    """A financial check over every table that binds its concepts."""

    check: str  # double_entry_balance | trial_balance | period_close_completeness | sign_conventions
    title: str
    description: str
    ontology: str  # "name version"
    binding: str  # semantic_enrichment | concept_matcher
    tables: tuple[TableCheck, ...] = ()
    not_applicable: tuple[NotApplicable, ...] = ()

    @property
    def passed(self) -> bool:
        return all(t.failed == 0 for t in self.tables)

    def context_section(self) -> ContextSection:
        facts = [f"{t.table}: {t.summary}" + (f" (e.g. {'; '.join(t.examples)})" if t.examples else "")
                 for t in self.tables]
        facts += [f"{n.table + ': ' if n.table else ''}not applicable: {n.reason}" for n in self.not_applicable]
        verdict = ("not applicable" if not self.tables
                   else "passed" if self.passed else f"failed in {sum(t.failed > 0 for t in self.tables)} table(s)")
        return ContextSection(
            title=f"{self.title}: {verdict}",
            # a check that did not apply says only why: the context is read by people and prompts
            summary=f"{self.description} (ontology {self.ontology}; columns bound by {self.binding})"
            if self.tables else "",
            facts=tuple(facts),
            table=(("table", "columns", "checked", "failed"),
                   *((t.table, ", ".join(f"{k}={v}" for k, v in t.columns.items()), f"{t.checked:,}", f"{t.failed:,}")
                     for t in self.tables)) if self.tables else (),
            data=self.model_dump(mode="json"))
