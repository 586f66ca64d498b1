"""Defaults for the configurable inputs of the steps. A pipeline config's `config:` section, or
keyword arguments to `driver()`, override them by name."""

NULL_TOKENS: tuple[str, ...] = (
    "", "NULL", "null", "Null", "NONE", "None", "none", "NA", "N/A", "n/a", "na", "NaN", "nan",
    "#N/A", "#NA", "#NULL!", "-", "--", "?", "(null)", "nil", "missing",
)
PROFILE_SAMPLE_ROWS = 20_000  # schema profiling looks at a sample of this many rows (as DuckDB's sniffer)
MIN_TYPE_CONFIDENCE = 0.9  # below this the column stays VARCHAR
EXACT_UP_TO_ROWS = 250_000  # statistics: exact distinct counts and quantiles up to this many rows
TOP_K = 10
HISTOGRAM_BINS = 10
