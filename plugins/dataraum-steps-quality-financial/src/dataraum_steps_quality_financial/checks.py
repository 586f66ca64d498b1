"""The four checks as DuckDB SQL over the typed tables, on the columns the ontology's concepts
are bound to (the core's quality bindings: semantic_enrichment's business terms, or the
concept matcher without it). Each check's SQL names tables as `Workspace.sql` does, so the
query it shows returns its failures as written there."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dataraum_context.models import ColumnRolesResult, SemanticEnrichmentResult, StatisticsResult, TypeResolutionResult
from dataraum_context.ontology import Ontology
from dataraum_context.quality.bindings import Bindings, binding_source
from dataraum_context.quality.tables import Tables
from dataraum_context.sql import connect, open_tables, quote_ident
from dataraum_context.workspace import Workspace
from dataraum_steps_quality_financial.models import NotApplicable, TableCheck

SIGNED = ("local_currency_amount", "reporting_currency_amount", "document_currency_amount")
EXAMPLES = 5
# account types by the side their balance normally sits on; the first word found decides
# ("Cost of Sales" is a cost), a type naming a statement (BS, P&L) is neither
DEBIT_NORMAL = ("asset", "expense", "cost", "cogs", "receivable", "cash", "bank", "inventory", "prepaid")
CREDIT_NORMAL = ("liabilit", "equity", "revenue", "income", "payable", "capital", "retained", "sales", "accrued")
STATEMENTS = ("statement", "balance sheet", "bs", "pl", "p&l")

Found = tuple[list[TableCheck], list[NotApplicable]]


class Ledger:
    """The tables and the columns the ontology's concepts are bound to in each: by the business
    terms of semantic_enrichment, and where it gave a concept none (a journal entry id that is
    not a key of its lines), by the concept matcher, as quality binds them without semantics."""

    def __init__(self, ontology: Ontology, types: TypeResolutionResult, stats: StatisticsResult,
                 roles: ColumnRolesResult, semantic: SemanticEnrichmentResult | None, workspace: str):
        self.ontology = ontology
        by_name = Bindings(ontology, Tables(types, stats, roles, None, None, None))
        self.bindings = [Bindings(ontology, Tables(types, stats, roles, None, semantic, None)), by_name] \
            if semantic is not None else [by_name]
        self.binding = " then ".join(binding_source(b.tables) for b in self.bindings)
        self.paths = {name: Workspace(workspace).path(t.path) for name, t in types.tables.items()}

    def missing(self, concepts: tuple[str, ...]) -> list[str]:
        """The concepts the ontology does not define (it is not the financial one)."""
        known = {c.name for c in self.ontology.concepts}
        return [c for c in concepts if c not in known]

    def tables_with(self, concept: str) -> list[str]:
        return [t for t in self.paths if self.columns(t, concept)]

    def columns(self, table: str, *concepts: str) -> dict[str, str]:
        """Concept -> its best column in `table`, for the concepts bound there."""
        found = {}
        for concept in concepts:
            bound = next((b for bindings in self.bindings if (b := bindings.best_in(table, concept))), None)
            if bound is not None:
                found[concept] = bound.column
        return found

    def query(self, table: str, sql: str) -> list[tuple[Any, ...]]:
        con = connect()
        try:
            open_tables(con, {table: self.paths[table]})
            return con.execute(sql).fetchall()
        finally:
            con.close()


def double_entry_balance(ledger: Ledger, tolerance: float) -> Found:
    """Per table binding journal_entry_id: every entry's debits equal its credits (or its signed
    amounts net to zero)."""
    checks, skipped = [], []
    for table in ledger.tables_with("journal_entry_id"):
        cols = ledger.columns(table, "journal_entry_id", "debit", "credit", *SIGNED)
        net = _net(cols)
        if net is None:
            skipped.append(NotApplicable(table=table, reason=f"binds journal_entry_id ({cols['journal_entry_id']}) "
                                                             "but neither debit and credit nor a signed amount"))
            continue
        entry = quote_ident(cols["journal_entry_id"])
        per_entry = f"SELECT {entry} AS journal_entry, sum({net}) AS difference FROM {quote_ident(table)} GROUP BY 1"
        failing = f"{per_entry} HAVING abs(sum({net})) > {tolerance} ORDER BY abs(difference) DESC, 1"
        ((entries,),) = ledger.query(table, f"SELECT count(DISTINCT {entry}) FROM {quote_ident(table)}")
        bad = ledger.query(table, failing)
        checks.append(TableCheck(
            table=table, columns=cols, checked=entries, failed=len(bad), sql=failing,
            summary=f"{len(bad):,} of {entries:,} journal entries do not balance",
            examples=tuple(f"entry {e}: off by {d:,.2f}" for e, d in bad[:EXAMPLES])))
    if not checks and not skipped:
        skipped.append(NotApplicable(reason="no table binds journal_entry_id"))
    return checks, skipped


def trial_balance(ledger: Ledger, tolerance: float) -> Found:
    """Per table binding balance: the balances of all accounts sum to zero, per fiscal year and
    period when those are bound; per journal table (debit and credit, or a signed amount, and
    no balance): the whole ledger's debits equal its credits."""
    checks, skipped = [], []
    for table in ledger.paths:
        cols = ledger.columns(table, "balance", "fiscal_year", "fiscal_period", "debit", "credit", *SIGNED)
        net = quote_ident(cols["balance"]) if "balance" in cols else _net(cols)
        if net is None:
            continue
        groups = [quote_ident(cols[c]) for c in ("fiscal_year", "fiscal_period") if c in cols and "balance" in cols]
        by = ", ".join(groups) if groups else "'all rows'"
        per_group = f"SELECT {by}, sum({net}) AS total FROM {quote_ident(table)} GROUP BY ALL"
        failing = f"{per_group} HAVING abs(sum({net})) > {tolerance} ORDER BY abs(total) DESC"
        ((checked,),) = ledger.query(table, f"SELECT count(*) FROM ({per_group})")
        bad = ledger.query(table, failing)
        what = "periods" if groups else "ledger"
        checks.append(TableCheck(
            table=table, columns={c: v for c, v in cols.items() if c in ("balance", "fiscal_year", "fiscal_period")}
            or cols, checked=checked, failed=len(bad), sql=failing,
            summary=(f"{len(bad):,} of {checked:,} {what} do not sum to zero" if groups
                     else f"the ledger's total is {bad[0][-1]:,.2f}, not zero" if bad else "the ledger sums to zero"),
            examples=tuple(f"{' '.join(map(str, row[:-1]))}: {row[-1]:,.2f}" for row in bad[:EXAMPLES])))
    if not checks:
        skipped.append(NotApplicable(reason="no table binds balance, debit and credit, or a signed amount"))
    return checks, skipped


def period_close_completeness(ledger: Ledger, tolerance: float) -> Found:  # (every check takes the tolerance)
    """Per table binding posting_date: every month from the first posting to the last has
    postings; per table binding fiscal_year and fiscal_period instead: every year has every
    period from 1 to the highest seen."""
    checks, skipped = [], []
    for table in ledger.paths:
        cols = ledger.columns(table, "posting_date", "fiscal_year", "fiscal_period")
        if "posting_date" in cols:
            cols = {"posting_date": cols["posting_date"]}
            month = f"date_trunc('month', {quote_ident(cols['posting_date'])})"
            seen = f"SELECT DISTINCT {month} AS month FROM {quote_ident(table)} WHERE {month} IS NOT NULL"
            failing = (f"WITH seen AS ({seen}), every AS (SELECT unnest(generate_series(min(month), max(month), "
                       f"INTERVAL 1 MONTH)) AS month FROM seen) SELECT strftime(month, '%Y-%m') FROM every "
                       f"WHERE month NOT IN (SELECT month FROM seen) ORDER BY 1")
            count = f"SELECT count(*) FROM ({seen})"
            what = "months"
        elif "fiscal_year" in cols and "fiscal_period" in cols:
            year, period = quote_ident(cols["fiscal_year"]), quote_ident(cols["fiscal_period"])
            seen = (f"SELECT DISTINCT {year} AS year, TRY_CAST(regexp_extract({period}::VARCHAR, '(\\d+)$', 1) "
                    f"AS INTEGER) AS period FROM {quote_ident(table)} WHERE {year} IS NOT NULL")
            failing = (f"WITH seen AS ({seen}), every AS (SELECT y.year, unnest(range(1, (SELECT max(period) "
                       f"FROM seen) + 1)) AS period FROM (SELECT DISTINCT year FROM seen) y) SELECT year || ' P' "
                       f"|| period FROM every WHERE (year, period) NOT IN (SELECT (year, period) FROM seen) "
                       f"ORDER BY every.year, every.period")
            count = f"SELECT count(*) FROM ({seen})"
            what = "fiscal periods"
        else:
            continue
        ((checked,),) = ledger.query(table, count)
        missing = [row[0] for row in ledger.query(table, failing)]
        checks.append(TableCheck(
            table=table, columns=cols, checked=checked + len(missing), failed=len(missing), sql=failing,
            summary=(f"{len(missing):,} of {checked + len(missing):,} {what} have no postings" if missing
                     else f"all {checked:,} {what} have postings"),
            examples=tuple(missing[:EXAMPLES * 2])))
    if not checks:
        skipped.append(NotApplicable(reason="no table binds posting_date, or fiscal_year and fiscal_period"))
    return checks, skipped


def sign_conventions(ledger: Ledger, tolerance: float) -> Found:
    """Per table binding account_type and an amount: the net of each account (or each type)
    sits on its type's normal side (assets and expenses debit, liabilities, equity and revenue
    credit) in the table's convention: signed (debits positive), or every balance positive."""
    checks, skipped = [], []
    for table in ledger.tables_with("account_type"):
        cols = ledger.columns(table, "account_type", "account_number", "balance", "debit", "credit", *SIGNED)
        net = quote_ident(cols["balance"]) if "balance" in cols else _net(cols)
        if net is None:
            skipped.append(NotApplicable(table=table, reason=f"binds account_type ({cols['account_type']}) but no "
                                                             "balance, debit and credit, or signed amount"))
            continue
        kind = quote_ident(cols["account_type"])
        key = f"{quote_ident(cols['account_number'])}::VARCHAR" if "account_number" in cols else kind
        nets = ledger.query(table, f"SELECT {key} AS account, {kind} AS account_type, sum({net}) AS net "
                                   f"FROM {quote_ident(table)} GROUP BY ALL ORDER BY 1")
        sides = {t: _normal_side(t) for t in {row[1] for row in nets}}
        classified = [(a, t, float(n)) for a, t, n in nets if sides[t] and n is not None and abs(n) > tolerance]
        convention = _convention(classified, sides)
        wrong = [(a, t, n) for a, t, n in classified if convention(sides[t], n)]
        unknown = sorted(str(t) for t, side in sides.items() if side is None)
        checks.append(TableCheck(
            table=table, columns=cols, checked=len(classified), failed=len(wrong),
            summary=(f"{len(wrong):,} of {len(classified):,} accounts against their type's normal side "
                     f"({'signed, debits positive' if convention is _against_signed else 'every balance positive'})"
                     + (f"; types not classified: {', '.join(unknown)}" if unknown else "")),
            examples=tuple(f"{a} ({t}): {n:,.2f}" for a, t, n in sorted(wrong, key=lambda w: -abs(w[2]))[:EXAMPLES])))
    if not checks and not skipped:
        skipped.append(NotApplicable(reason="no table binds account_type"))
    return checks, skipped


def _net(cols: dict[str, str]) -> str | None:
    """The SQL of a line's signed amount (debits positive), from what the table binds."""
    if "debit" in cols and "credit" in cols:
        return f"coalesce({quote_ident(cols['debit'])}, 0) - coalesce({quote_ident(cols['credit'])}, 0)"
    signed = next((c for c in SIGNED if c in cols), None)
    return quote_ident(cols[signed]) if signed else None


def _normal_side(account_type: Any) -> str | None:
    text = str(account_type).strip().lower()
    if text in STATEMENTS or "statement" in text:
        return None
    for word in text.replace("_", " ").split():
        if word.startswith(DEBIT_NORMAL):
            return "debit"
        if word.startswith(CREDIT_NORMAL):
            return "credit"
    return None


def _against_signed(side: str | None, net: float) -> bool:
    return (net < 0) if side == "debit" else (net > 0)


def _against_unsigned(_side: str | None, net: float) -> bool:
    return net < 0


def _convention(nets: list[tuple[Any, Any, float]],
                sides: dict[Any, str | None]) -> Callable[[str | None, float], bool]:
    """Signed (debits positive, credits negative) unless most credit-normal accounts are
    positive: then every balance is written positive and a negative one is against its side."""
    credit = [n for _a, t, n in nets if sides[t] == "credit"]
    return _against_unsigned if credit and sum(n > 0 for n in credit) > len(credit) / 2 else _against_signed
