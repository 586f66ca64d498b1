"""Advanced statistics as pipeline steps: a Hamilton module, found through its
`dataraum.pipeline_steps` entry point.

    distribution_fits        each measure fitted to candidate distributions (scipy), best by KS
    multivariate_outliers    rows unusual in the combination of a table's measures (local outlier factor)
    seasonal_decomposition   trend and seasonal strength of each measure over time (statsmodels STL)

The measures are the core's `column_roles`; the time column and its period come from
`temporal_enrichment`. Each result has a `context_section()`, so it appears in the context
document of any pipeline these steps run in.
"""

from __future__ import annotations

from dataraum_context import settings
from dataraum_context.models import ColumnRolesResult, StatisticsResult, TemporalResult, TypeResolutionResult
from dataraum_context.roles import given_or_decided
from dataraum_context.step import step
from dataraum_context.workspace import Workspace
from dataraum_steps_statistics_advanced import analysis
from dataraum_steps_statistics_advanced.models import (
    Decomposition,
    DistributionFit,
    DistributionFitResult,
    MultivariateOutlierResult,
    NotApplicable,
    SeasonalDecompositionResult,
    TableOutliers,
)

SEED = 20261207


@step(scope="column", phase="enrichment", criticality="optional")
def distribution_fits(
    type_resolution: TypeResolutionResult,
    statistics_profiling: StatisticsResult,
    workspace: str,
    column_roles: ColumnRolesResult | None = None,
    distribution_sample_rows: int = 5_000,
    advanced_statistics_seed: int = SEED,
) -> DistributionFitResult:
    """Every measure fitted to normal, uniform, exponential, lognormal and gamma (those its
    values allow) on a seeded sample; the best fit by the Kolmogorov-Smirnov statistic."""
    roles = given_or_decided(column_roles, statistics_profiling, None, settings.KEY_DUPLICATE_TOLERANCE)
    fits: list[DistributionFit | NotApplicable] = []
    for name, table in type_resolution.tables.items():
        measures = roles.tables[name].measures if name in roles.tables else ()
        if not measures:
            fits.append(NotApplicable(table=name, reason="no measure columns"))
            continue
        path = Workspace(workspace).path(table.path)
        for column in measures:
            _rows, values = analysis.sample(path, [column], distribution_sample_rows, advanced_statistics_seed)
            fits.append(analysis.fit_distribution(name, column, values[:, 0]))
    return DistributionFitResult(
        sample_rows=distribution_sample_rows,
        fits=tuple(f for f in fits if isinstance(f, DistributionFit)),
        not_applicable=tuple(f for f in fits if isinstance(f, NotApplicable)))


@step(scope="table", phase="enrichment", criticality="optional")
def multivariate_outliers(
    type_resolution: TypeResolutionResult,
    statistics_profiling: StatisticsResult,
    workspace: str,
    column_roles: ColumnRolesResult | None = None,
    outlier_sample_rows: int = 20_000,
    outlier_min_factor: float = 1.5,
    advanced_statistics_seed: int = SEED,
) -> MultivariateOutlierResult:
    """Per table with two measures or more: the rows of a seeded sample whose local outlier
    factor is `outlier_min_factor` or more, with their keys and factors."""
    roles = given_or_decided(column_roles, statistics_profiling, None, settings.KEY_DUPLICATE_TOLERANCE)
    found: list[TableOutliers | NotApplicable] = []
    for name, table in type_resolution.tables.items():
        table_roles = roles.tables.get(name)
        stats = statistics_profiling.tables[name].columns if name in statistics_profiling.tables else {}
        # a measure of a few values (a quantity of 1 to 4) ties most rows: every row looks unusual
        measures = [m for m in (table_roles.measures if table_roles else ())
                    if m in stats and stats[m].distinct_count >= analysis.MIN_DISTINCT]
        if len(measures) < 2:
            found.append(NotApplicable(table=name, reason=f"{len(measures)} measure column(s) of "
                                                          f"{analysis.MIN_DISTINCT} values or more; outliers in "
                                                          "a combination need two or more"))
            continue
        found.append(analysis.local_outliers(name, Workspace(workspace).path(table.path), measures,
                                             table_roles.own_key if table_roles else (), outlier_sample_rows,
                                             advanced_statistics_seed, outlier_min_factor))
    return MultivariateOutlierResult(
        sample_rows=outlier_sample_rows, seed=advanced_statistics_seed, min_factor=outlier_min_factor,
        tables={t.table: t for t in found if isinstance(t, TableOutliers)},
        not_applicable=tuple(t for t in found if isinstance(t, NotApplicable)))


@step(scope="table", phase="enrichment", criticality="optional")
def seasonal_decomposition(
    temporal_enrichment: TemporalResult,
    type_resolution: TypeResolutionResult,
    statistics_profiling: StatisticsResult,
    workspace: str,
    column_roles: ColumnRolesResult | None = None,
) -> SeasonalDecompositionResult:
    """Per table with a primary time column: each measure summed per period of that column
    (its period as temporal_enrichment found it) and decomposed by STL."""
    roles = given_or_decided(column_roles, statistics_profiling, None, settings.KEY_DUPLICATE_TOLERANCE)
    found: list[Decomposition | NotApplicable] = []
    for name, table in type_resolution.tables.items():
        timed = temporal_enrichment.tables.get(name)
        measures = list(roles.tables[name].measures) if name in roles.tables else []
        if timed is None or timed.primary_column is None:
            found.append(NotApplicable(table=name, reason="no primary time column"))
        elif not measures:
            found.append(NotApplicable(table=name, reason="no measure columns"))
        else:
            found += analysis.decompose(name, Workspace(workspace).path(table.path), timed.primary_column,
                                        timed.columns[timed.primary_column].period, measures)
    return SeasonalDecompositionResult(
        decompositions=tuple(d for d in found if isinstance(d, Decomposition)),
        not_applicable=tuple(d for d in found if isinstance(d, NotApplicable)))
