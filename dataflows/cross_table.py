"""Cross-table multicollinearity: linear dependencies among numeric columns across joins.

For every table with many-to-one relationships, DuckDB joins it to the tables it references (to
`multicollinearity_join_depth` hops; a referenced key in which topology counted repeated values
deduplicated, so the join never multiplies rows) in one query, and hands back the numeric
measures of `column_roles` (quantities, not identifiers, codes or flags) that are neither keys
nor references. A base table of more than
`multicollinearity_max_rows` rows is sampled first, with a reservoir sample of that many rows
and a fixed seed (the same rows on every run, stated in the result), so the join, the transfer
and the algebra are bounded whatever the table's size; only the sampling scan grows with the
rows. A joined column null in most of those rows (an attribute reached through a reference that
is rarely set) is left out, and listed, rather than let it drop the rows. numpy then reduces the
complete rows, standardized (centred, unit-variance), to the triangular factor R of their QR
decomposition (one pass, O(rows · columns²)); everything below is computed from R, whose size is
columns², with the precision of the data itself (R'R is the correlation matrix, never formed):

- the variance inflation factor of each column, 1 / (1 - R²) of its regression on the others
  (the residual of that regression on the columns of R equals the one on the rows);
- the condition indices (largest singular value over each singular value) and the variance
  decomposition proportions of Belsley, Kuh and Welsch;
- dependency groups: for each dimension with a condition index of at least
  `condition_index_threshold`, the columns with at least `variance_proportion_threshold` of
  their variance in it, with the dependency fitted by least squares (`total = 1·subtotal +
  1·tax`) and the tables it spans.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

from dataraum_context import settings
from dataraum_context.models import (
    ColumnRolesResult,
    ColumnVIF,
    DependencyGroup,
    JoinedAnalysis,
    MulticollinearityReport,
    Relationship,
    StatisticsResult,
    TopologyResult,
    TypeResolutionResult,
)
from dataraum_context.roles import given_or_decided
from dataraum_context.sql import is_number, open_tables, quote_ident, session
from dataraum_context.step import step
from dataraum_context.workspace import Workspace

_SEED = 42  # the reservoir sample's: the same rows on every run
_EXACT = 1e-10  # 1 - R² (or a singular value relative to the largest) below this is exact
_NEGLIGIBLE = 0.01  # standardized coefficients below this are left out of a dependency


@step(scope="source", phase="enrichment", criticality="optional")
def cross_table_multicollinearity(
    topology_enrichment: TopologyResult,
    type_resolution: TypeResolutionResult,
    statistics_profiling: StatisticsResult,
    workspace: str,
    column_roles: ColumnRolesResult | None = None,
    multicollinearity_max_rows: int = settings.MULTICOLLINEARITY_MAX_ROWS,
    multicollinearity_join_depth: int = settings.MULTICOLLINEARITY_JOIN_DEPTH,
    condition_index_threshold: float = settings.CONDITION_INDEX_THRESHOLD,
    variance_proportion_threshold: float = settings.VARIANCE_PROPORTION_THRESHOLD,
) -> MulticollinearityReport:
    """VIFs, condition indices, variance-decomposition proportions and dependency groups of the
    measures of each table joined to what it references."""
    ws = Workspace(workspace)
    # the matrices are small (at most `multicollinearity_max_rows` x the measures): BLAS threads
    # cost more than they save, and on a busy machine made 21 QRs of 10,000 x 67 take 28 s, not 0.6
    with session() as con, threadpool_limits(1, user_api="blas"):
        open_tables(con, {name: ws.path(table.path) for name, table in type_resolution.tables.items()})
        roles = given_or_decided(column_roles, statistics_profiling, None, settings.KEY_DUPLICATE_TOLERANCE)
        skip = _keys_and_references(topology_enrichment) | _not_measures(roles)
        analyses = []
        for base in sorted({r.from_table for r in _forward(topology_enrichment.relationships)}):
            if base not in type_resolution.tables:
                continue
            join = _join(base, topology_enrichment.relationships, multicollinearity_join_depth,
                         statistics_profiling, skip)
            if join is None:
                continue
            rows = type_resolution.tables[base].row_count
            sample = multicollinearity_max_rows if rows > multicollinearity_max_rows else None
            analyses.append(_analyse(join, con.sql(join.sql(sample)).pl(), rows, sample,
                                     condition_index_threshold, variance_proportion_threshold))
    return MulticollinearityReport(analyses=tuple(analyses))


def _forward(relationships: tuple[Relationship, ...]) -> list[Relationship]:
    return [r for r in relationships if r.from_table != r.to_table
            and r.cardinality in (None, "many_to_one", "one_to_one")]


def _keys_and_references(topology: TopologyResult) -> set[tuple[str, str]]:
    """Columns that identify rows rather than measure them."""
    out = {(t, c) for t, role in topology.tables.items() for c in role.key_columns}
    for r in topology.relationships:
        out |= {(r.from_table, c) for c in r.from_columns} | {(r.to_table, c) for c in r.to_columns}
    return out


def _not_measures(roles: ColumnRolesResult) -> set[tuple[str, str]]:
    """Columns `column_roles` does not call measures (keys, codes, flags, positions, text)."""
    return {(t, c) for t, r in roles.tables.items() for c, role in r.columns.items() if role.role != "measure"}


@dataclass
class _Join:
    base: str
    tables: list[str]  # the table of each alias t0, t1, ... in join order, base first
    ons: list[tuple[tuple[str, ...], str]]  # of t1, t2, ...: the key it is deduplicated on (none when
    # topology counted no repeated key value), the ON condition
    columns: list[tuple[str, str, str]]  # (alias, column, label)
    read: dict[str, list[str]]  # alias -> the columns read from it: keys, references followed, measures

    def sql(self, sample_rows: int | None) -> str:
        """Each table read for only the columns the join needs; the base table sampled first."""
        sample = (f" USING SAMPLE reservoir({int(sample_rows)} ROWS) REPEATABLE ({_SEED})"
                  if sample_rows else "")
        select = ", ".join(f"CAST({a}.{quote_ident(c)} AS DOUBLE) AS {quote_ident(label)}"
                           for a, c, label in self.columns)
        return f"SELECT {select} " + self._from(sample)

    @property
    def display_sql(self) -> str:
        return self._from("")

    def _from(self, sample: str) -> str:
        def read(alias: str) -> str:
            return ", ".join(quote_ident(c) for c in dict.fromkeys(self.read[alias])) or "*"

        out = f"FROM (SELECT {read('t0')} FROM {quote_ident(self.base)}{sample}) AS t0"
        for k, (keys, on) in enumerate(self.ons, start=1):
            distinct = f"DISTINCT ON ({', '.join(map(quote_ident, keys))}) " if keys else ""
            out += (f" LEFT JOIN (SELECT {distinct}{read(f't{k}')} "
                    f"FROM {quote_ident(self.tables[k])}) AS t{k} ON {on}")
        return out


def _measures(stats: StatisticsResult, table: str, skip: set[tuple[str, str]]) -> list[str]:
    """The table's measures that are not keys or references and hold a value in most rows."""
    t = stats.tables.get(table)
    if t is None:
        return []
    return [c for c, s in t.columns.items()
            if is_number(s.data_type) and (table, c) not in skip
            and s.distinct_count > 1 and s.null_ratio <= 0.5]


def _join(base: str, relationships: tuple[Relationship, ...], depth: int, stats: StatisticsResult,
          skip: set[tuple[str, str]]) -> _Join | None:
    """The base table LEFT JOINed along many-to-one relationships (breadth-first, each
    relationship once), the referenced side deduplicated on its key. A table reached again on
    the same values is not joined twice: `shipments.(order_id, line_no) -> order_lines` and
    `order_lines.order_id -> orders` lead to the orders that `shipments.order_id` already
    joined (a composite key and the single key it implies), and would only repeat its columns."""
    forward = _forward(relationships)
    measured = _measures(stats, base, skip)
    join = _Join(base, [base], [], [("t0", c, f"{base}.{c}") for c in measured], {"t0": list(measured)})
    frontier = [("t0", base, 0)]
    used: set[tuple[str, tuple[str, ...], str]] = set()
    origin: dict[tuple[str, str], tuple[str, str]] = {}  # a joined column -> the column it equals
    reached: set[tuple[str, tuple[str, ...], tuple[tuple[str, str], ...]]] = set()
    while frontier:
        alias, table, level = frontier.pop(0)
        if level >= depth:
            continue
        for r in forward:
            edge = (r.from_table, r.from_columns, alias)
            if r.from_table != table or edge in used:
                continue
            used.add(edge)
            values = tuple(origin.get((alias, f), (alias, f)) for f in r.from_columns)
            if (r.to_table, r.to_columns, values) in reached:
                continue
            reached.add((r.to_table, r.to_columns, values))
            new = f"t{len(join.tables)}"
            origin |= {(new, t): v for t, v in zip(r.to_columns, values, strict=True)}
            dedup = r.to_columns if r.referenced_duplicates != 0 else ()  # a unique key multiplies no row
            join.ons.append((dedup, " AND ".join(f"{alias}.{quote_ident(f)} = {new}.{quote_ident(t)}"
                                                        for f, t in zip(r.from_columns, r.to_columns, strict=True))))
            seen_before = r.to_table in join.tables
            join.tables.append(r.to_table)
            prefix = f"{r.to_table}({', '.join(r.from_columns)})" if seen_before else r.to_table
            measured = _measures(stats, r.to_table, skip)
            join.columns += [(new, c, f"{prefix}.{c}") for c in measured]
            join.read[alias] += r.from_columns
            join.read[new] = [*r.to_columns, *measured]
            frontier.append((new, r.to_table, level + 1))
    if len(join.tables) < 2 or len(join.columns) < 2:
        return None
    return join


def _analyse(join: _Join, frame: pl.DataFrame, base_rows: int, sample: int | None, ci_threshold: float,
             vp_threshold: float) -> JoinedAnalysis:
    """The analysis of the joined rows that have every column; a column null in most of them (a
    reference that is rarely set, an attribute most rows lack) is left out rather than let it
    drop those rows."""
    sparse = [c for c in frame.columns if frame[c].null_count() > frame.height / 2]
    complete = frame.drop(sparse).drop_nulls()
    labels, data = complete.columns, complete.to_numpy().astype(float)
    common: dict[str, Any] = {
        "base_table": join.base, "tables": tuple(dict.fromkeys(join.tables)), "join_sql": join.display_sql,
        "rows": len(data), "sampled": sample is not None, "base_rows": base_rows, "sample_rows": sample,
        "left_out": tuple(sparse)}
    if len(data):
        keep = np.std(data, axis=0) > 0
        data, labels = data[:, keep], [lb for lb, k in zip(labels, keep, strict=True) if k]
    if len(labels) < 2 or len(data) < len(labels) + 2:
        return JoinedAnalysis(**common, note=f"{len(data)} complete rows for {len(labels)} varying "
                                             "numeric columns: too few to analyse")
    z = (data - data.mean(axis=0)) / data.std(axis=0)
    r = cast(np.ndarray, np.linalg.qr(z / np.sqrt(len(z)), mode="r"))  # r.T @ r: the correlation matrix
    vifs = [ColumnVIF(column=label, vif=_vif(r, j)) for j, label in enumerate(labels)]
    _, s, vt = np.linalg.svd(r, full_matrices=False)  # the singular values and vectors of z / √n
    floor = s[0] * _EXACT
    indices = [None if sk <= floor else float(s[0] / sk) for sk in s]
    phi = (vt.T ** 2) / np.maximum(s, floor) ** 2  # [column, dimension]
    proportions = (phi / phi.sum(axis=1, keepdims=True)).T  # [dimension, column]
    evidence = _evidence(join.base, len(data), base_rows, sample)
    groups = []
    seen: set[frozenset[str]] = set()
    for k in np.argsort(s):  # weakest dimension first
        index = indices[k]
        if index is not None and index < ci_threshold:
            continue
        members = [j for j in range(len(labels)) if proportions[k, j] >= vp_threshold]
        group = _group(data, labels, members, index, proportions[k], evidence)
        if group is not None and frozenset(group.columns) not in seen:
            seen.add(frozenset(group.columns))
            groups.append(group)
    order = np.argsort(s)[::-1]  # ascending condition index
    return JoinedAnalysis(
        **common, columns=tuple(vifs),
        condition_indices=tuple(indices[k] for k in order),
        variance_proportions=tuple(tuple(round(float(p), 6) for p in proportions[k]) for k in order),
        dependency_groups=tuple(groups))


def _evidence(base: str, rows: int, base_rows: int, sample: int | None) -> str:
    if sample is None:
        return f"fitted on {rows:,} complete rows of {base_rows:,} in {base} and the tables it references"
    return (f"fitted on {rows:,} complete rows of a reservoir sample of {sample:,} of the {base_rows:,} rows "
            f"of {base} (seed {_SEED}) and the tables it references")


def _vif(r: np.ndarray, j: int) -> float | None:
    """1 / (1 - R²) of column j on the others, from the triangular factor of the standardized
    rows scaled to unit column norms: its column j's residual is the rows' own."""
    others = np.delete(r, j, axis=1)
    coef, *_ = np.linalg.lstsq(others, r[:, j], rcond=None)
    residual = float(np.sum((r[:, j] - others @ coef) ** 2))  # 1 - R²
    return None if residual < _EXACT else 1.0 / residual


def _fit(data: np.ndarray, y: int, xs: list[int]) -> tuple[np.ndarray, float, float]:
    """Least squares of column y on columns xs with an intercept: coefficients, intercept, R²."""
    a = np.column_stack([data[:, xs], np.ones(len(data))])
    coef, *_ = np.linalg.lstsq(a, data[:, y], rcond=None)
    residual = data[:, y] - a @ coef
    total = float(np.sum((data[:, y] - data[:, y].mean()) ** 2))
    return coef[:-1], float(coef[-1]), 1 - float(np.sum(residual ** 2)) / total


def _group(data: np.ndarray, labels: list[str], members: list[int], index: float | None,
           proportions: np.ndarray, evidence: str) -> DependencyGroup | None:
    """The dependency among `members`, written as the widest-spread column in terms of the
    others; members whose standardized coefficient is negligible are dropped."""
    if len(members) < 2:
        return None
    std = data.std(axis=0)
    y = max(members, key=lambda j: std[j])
    xs = [j for j in members if j != y]
    coef, intercept, r2 = _fit(data, y, xs)
    kept = [j for j, c in zip(xs, coef, strict=True) if abs(c) * std[j] / std[y] >= _NEGLIGIBLE]
    if not kept:
        return None
    if len(kept) < len(xs):
        xs = kept
        coef, intercept, r2 = _fit(data, y, xs)
    terms = " + ".join(f"{c:.4g}·{labels[j]}" for j, c in zip(xs, coef, strict=True)).replace("+ -", "- ")
    scale = float(np.abs(data[:, y]).mean()) or 1.0
    if abs(intercept) > 1e-6 * scale:
        terms += f" {'+' if intercept >= 0 else '-'} {abs(intercept):.4g}"
    columns = tuple(labels[j] for j in [y, *xs])
    return DependencyGroup(
        columns=columns,
        tables=tuple(dict.fromkeys(c.rsplit(".", 1)[0].split("(")[0] for c in columns)),
        condition_index=None if index is None else round(index, 4),
        variance_proportions={labels[j]: round(float(proportions[j]), 6) for j in [y, *xs]},
        equation=f"{labels[y]} = {terms}",
        r2=round(r2, 6),
        evidence=(evidence,))
