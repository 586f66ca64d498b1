"""Financial quality checks as pipeline steps: a Hamilton module, found through its
`dataraum.pipeline_steps` entry point.

    double_entry_balance        every journal entry's debits equal its credits
    trial_balance               the accounts' balances sum to zero (per period when bound)
    period_close_completeness   every month (or fiscal period) from the first to the last has postings
    sign_conventions            each account's net sits on its type's normal side

The columns are those the pipeline's ontology binds to the financial_reporting concepts
(journal_entry_id, debit, credit, balance, posting_date, account_type, ...). A check with
nothing to check says why: the ontology lacks the concepts, no table binds them, or a table
binds some but not enough. Each result has a `context_section()`.
"""

from __future__ import annotations

from collections.abc import Callable

from dataraum_context import settings
from dataraum_context.models import ColumnRolesResult, SemanticEnrichmentResult, StatisticsResult, TypeResolutionResult
from dataraum_context.ontology import Ontology
from dataraum_context.roles import given_or_decided
from dataraum_context.step import step
from dataraum_steps_quality_financial import checks
from dataraum_steps_quality_financial.models import FinancialCheck, NotApplicable

TOLERANCE = 0.01  # to the cent


def _run(name: str, title: str, concepts: tuple[str, ...], check: Callable[[checks.Ledger, float], checks.Found],
         ontology: Ontology, type_resolution: TypeResolutionResult, statistics_profiling: StatisticsResult,
         workspace: str, column_roles: ColumnRolesResult | None, semantic_enrichment: SemanticEnrichmentResult | None,
         tolerance: float) -> FinancialCheck:
    """One check over every table, or why it does not apply: the ontology lacks its concepts."""
    roles = given_or_decided(column_roles, statistics_profiling, None, settings.KEY_DUPLICATE_TOLERANCE)
    ledger = checks.Ledger(ontology, type_resolution, statistics_profiling, roles, semantic_enrichment, workspace)
    description = (check.__doc__ or "").split("\n\n")[0]
    result = FinancialCheck(check=name, title=title, description=" ".join(description.split()),
                            ontology=ontology.label, binding=ledger.binding)
    missing = ledger.missing(concepts)
    if missing:
        return result.model_copy(update={"not_applicable": (NotApplicable(
            reason=f"the ontology {ontology.label} has no concept {', '.join(missing)} "
                   "(run with ontology: financial_reporting, or one that extends it)"),)})
    found, skipped = check(ledger, tolerance)
    return result.model_copy(update={"tables": tuple(found), "not_applicable": tuple(skipped)})


@step(scope="table", phase="quality", criticality="optional")
def double_entry_balance(ontology: Ontology, type_resolution: TypeResolutionResult,
                         statistics_profiling: StatisticsResult, workspace: str,
                         column_roles: ColumnRolesResult | None = None,
                         semantic_enrichment: SemanticEnrichmentResult | None = None,
                         financial_tolerance: float = TOLERANCE) -> FinancialCheck:
    """Every journal entry balances: its debits equal its credits, or its signed amounts net to zero."""
    return _run("double_entry_balance", "Double-entry balance", ("journal_entry_id", "debit", "credit"),
                checks.double_entry_balance, ontology, type_resolution, statistics_profiling, workspace,
                column_roles, semantic_enrichment, financial_tolerance)


@step(scope="table", phase="quality", criticality="optional")
def trial_balance(ontology: Ontology, type_resolution: TypeResolutionResult,
                  statistics_profiling: StatisticsResult, workspace: str,
                  column_roles: ColumnRolesResult | None = None,
                  semantic_enrichment: SemanticEnrichmentResult | None = None,
                  financial_tolerance: float = TOLERANCE) -> FinancialCheck:
    """The balances of all accounts sum to zero (per period), and a ledger's debits equal its credits."""
    return _run("trial_balance", "Trial balance", ("balance", "debit", "credit"),
                checks.trial_balance, ontology, type_resolution, statistics_profiling, workspace,
                column_roles, semantic_enrichment, financial_tolerance)


@step(scope="table", phase="quality", criticality="optional")
def period_close_completeness(ontology: Ontology, type_resolution: TypeResolutionResult,
                              statistics_profiling: StatisticsResult, workspace: str,
                              column_roles: ColumnRolesResult | None = None,
                              semantic_enrichment: SemanticEnrichmentResult | None = None,
                              financial_tolerance: float = TOLERANCE) -> FinancialCheck:
    """Every period from the first posting to the last is present: no month without postings."""
    return _run("period_close_completeness", "Period close completeness", ("posting_date", "fiscal_period"),
                checks.period_close_completeness, ontology, type_resolution, statistics_profiling, workspace,
                column_roles, semantic_enrichment, financial_tolerance)


@step(scope="table", phase="quality", criticality="optional")
def sign_conventions(ontology: Ontology, type_resolution: TypeResolutionResult,
                     statistics_profiling: StatisticsResult, workspace: str,
                     column_roles: ColumnRolesResult | None = None,
                     semantic_enrichment: SemanticEnrichmentResult | None = None,
                     financial_tolerance: float = TOLERANCE) -> FinancialCheck:
    """Each account's net sits on its type's normal side: assets and expenses debit, liabilities,
    equity and revenue credit."""
    return _run("sign_conventions", "Sign conventions", ("account_type",),
                checks.sign_conventions, ontology, type_resolution, statistics_profiling, workspace,
                column_roles, semantic_enrichment, financial_tolerance)
