"""The results of the steps: frozen models, each with its section of the context document."""

from __future__ import annotations

from dataraum_context.models import ContextSection, Frozen


class NotApplicable(Frozen):
    """A table or column a step did not analyse, and why."""

    table: str
    column: str | None = None
    reason: str


class DistributionFit(Frozen):
    table: str
    column: str
    sampled: int  # non-null values fitted
    best: str  # the candidate with the smallest Kolmogorov-Smirnov statistic
    ks_statistic: float
    p_value: float
    parameters: dict[str, float]  # the best candidate's fitted parameters
    candidates: dict[str, float]  # every candidate tried -> its KS statistic


class DistributionFitResult(Frozen):
    sample_rows: int
    fits: tuple[DistributionFit, ...] = ()
    not_applicable: tuple[NotApplicable, ...] = ()

    def context_section(self) -> ContextSection:
        rows = [(f.table, f.column, f.best, f"{f.ks_statistic:.3f}", f"{f.p_value:.3g}", f"{f.sampled:,}",
                 ", ".join(f"{k} {v:.3f}" for k, v in sorted(f.candidates.items(), key=lambda kv: kv[1])))
                for f in self.fits]
        return ContextSection(
            title="Distributions of numeric columns",
            summary=(f"Each measure fitted to candidate distributions on up to {self.sample_rows:,} values; the best "
                     "fit has the smallest Kolmogorov-Smirnov statistic (a p-value under 0.05 means even it "
                     "does not fit well)."),
            facts=_reasons(self.not_applicable),
            table=(("table", "column", "best fit", "KS", "p", "values", "candidates (KS)"), *rows) if rows else (),
            data=self.model_dump(mode="json"))


class OutlierRow(Frozen):
    row: str  # the row's key ("order_id=17"), or its row number in the table when it has no key
    score: float  # its local outlier factor: ~1 like its neighbours, 3 = in a region 3x sparser than theirs
    values: dict[str, float | None]


class TableOutliers(Frozen):
    table: str
    columns: tuple[str, ...]
    sampled: int
    flagged: int  # rows of the sample whose local outlier factor is at least min_factor
    min_factor: float
    top: tuple[OutlierRow, ...]  # the most unusual flagged rows, most unusual first


class MultivariateOutlierResult(Frozen):
    sample_rows: int
    seed: int
    min_factor: float
    tables: dict[str, TableOutliers] = {}
    not_applicable: tuple[NotApplicable, ...] = ()

    def context_section(self) -> ContextSection:
        facts = [f"{t.table}: {t.flagged:,} of {t.sampled:,} sampled rows unusual in ({', '.join(t.columns)})"
                 + (": " + "; ".join(f"{r.row} (factor {r.score:.3g})" for r in t.top[:5]) if t.top else "")
                 for t in self.tables.values()]
        return ContextSection(
            title="Multivariate outliers",
            summary=(f"Rows unusual in the combination of a table's measures: a local outlier factor of "
                     f"{self.min_factor:g} or more (the row sits in a region that much sparser than its 20 nearest "
                     f"neighbours do), on a sample of up to {self.sample_rows:,} complete rows (seed {self.seed}). "
                     "A row can be unusual although each of its values is within its column's range."),
            facts=(*facts, *_reasons(self.not_applicable)),
            data=self.model_dump(mode="json"))


class Decomposition(Frozen):
    table: str
    time_column: str
    measure: str
    period: str  # the unit the measure is summed per: day, week, month, ...
    season_length: int  # periods per seasonal cycle: 7 days, 12 months, ...
    periods: int  # points in the series
    trend_strength: float  # 0..1: 1 - var(remainder) / var(trend + remainder)
    seasonal_strength: float  # 0..1: 1 - var(remainder) / var(seasonal + remainder)
    trend_change: float  # the trend's last value minus its first
    seasonal_peak: str  # where in the cycle the seasonal component is highest: Sunday, March, 14:00, ...


class SeasonalDecompositionResult(Frozen):
    decompositions: tuple[Decomposition, ...] = ()
    not_applicable: tuple[NotApplicable, ...] = ()

    def context_section(self) -> ContextSection:
        rows = [(d.table, d.measure, d.time_column, f"{d.period} (cycle {d.season_length})", f"{d.periods:,}",
                 f"{d.trend_strength:.2f}", f"{d.seasonal_strength:.2f}", f"{d.trend_change:+.4g}", d.seasonal_peak)
                for d in self.decompositions]
        return ContextSection(
            title="Seasonal decomposition",
            summary=("Each measure summed per period along its table's primary time column and decomposed by STL "
                     "into trend, seasonal and remainder; a strength near 1 means that component dominates the "
                     "remainder."),
            facts=_reasons(self.not_applicable),
            table=(("table", "measure", "time", "period", "points", "trend strength", "seasonal strength",
                    "trend change", "seasonal peak"), *rows) if rows else (),
            data=self.model_dump(mode="json"))


def _reasons(skipped: tuple[NotApplicable, ...]) -> tuple[str, ...]:
    return tuple(f"{s.table}{'.' + s.column if s.column else ''}: not analysed: {s.reason}" for s in skipped)
