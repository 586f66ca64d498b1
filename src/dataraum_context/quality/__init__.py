"""The logic behind the quality nodes (dataflows/quality.py), one concern per module:

    checks.py       the check model: a check, a table's checks, every check (SQL with bound
                    values is `sql.Sql`, shared with the other steps)
    tables.py       what the steps before found: types, statistics, keys
    bindings.py     which columns carry an ontology concept
    rules.py        one compiler per rule type, in a registry
    expressions.py  reading cross_column expressions
    generic.py      duplicated keys, nulls, orphans, outliers, quarantine, null tokens, gaps
    plan.py         every check of every table, before anything runs
    runner.py       one table's checks run: counts, examples
    score.py        the score of a table and overall
"""

from dataraum_context.quality.checks import Check, QualityChecks, TableChecks
from dataraum_context.quality.generic import StagedNullTokens, find_null_tokens
from dataraum_context.quality.plan import plan_checks
from dataraum_context.quality.rules import COMPILERS, reference_time
from dataraum_context.quality.runner import run_checks
from dataraum_context.quality.tables import Tables
from dataraum_context.sql import Sql

__all__ = [
    "COMPILERS",
    "Check",
    "QualityChecks",
    "Sql",
    "StagedNullTokens",
    "TableChecks",
    "Tables",
    "find_null_tokens",
    "plan_checks",
    "reference_time",
    "run_checks",
]
