"""Defaults for the configurable inputs of the steps. A pipeline config's `config:` section, or
keyword arguments to `driver()`, override them by name."""

DEFAULT_WORKSPACE = ".dataraum"  # where a run writes when it is given no workspace

NULL_TOKENS: tuple[str, ...] = (
    "", "NULL", "null", "Null", "NONE", "None", "none", "NA", "N/A", "n/a", "na", "NaN", "nan",
    "#N/A", "#NA", "#NULL!", "-", "--", "?", "(null)", "nil", "missing",
)
PROFILE_SAMPLE_ROWS = 20_000  # schema profiling looks at a sample of this many rows (as DuckDB's sniffer)
MIN_TYPE_CONFIDENCE = 0.9  # below this the column stays VARCHAR
EXACT_UP_TO_ROWS = 250_000  # statistics: up to this many rows, distinct counts and quantiles in one aggregate
# over a batch of columns (holding all their values); above, column by column (a memory knob: all stay exact)
TOP_K = 10
HISTOGRAM_BINS = 10

# topology_enrichment
MIN_RELATIONSHIP_CONFIDENCE = 0.5  # relationships scoring below this are not reported
MIN_INCLUSION = 0.9  # share of a referencing column's distinct values that must be in the key
KEY_DUPLICATE_TOLERANCE = 0.02  # share of a referenced column's values that may repeat

# temporal_enrichment
REGULAR_SHARE = 0.9  # a series is regular when this share of its spacings equal the cadence
TREND_MIN_R2 = 0.3  # a trend is reported as increasing/decreasing only with this fit (and a 10% change)
SEASONALITY_MIN_STRENGTH = 0.2  # share of variance the weekday means must explain for a hint

# cross_table_multicollinearity
MULTICOLLINEARITY_MAX_ROWS = 10_000  # base rows joined and analysed; a seeded reservoir sample above
MULTICOLLINEARITY_JOIN_DEPTH = 2  # many-to-one hops followed from each base table
CONDITION_INDEX_THRESHOLD = 30.0  # Belsley's rule of thumb for a harmful dependency
VARIANCE_PROPORTION_THRESHOLD = 0.5  # a column belongs to a dependency above this share

# quality_assessment
NULL_RATIO_THRESHOLD = 0.1  # a column with a larger share of nulls fails the generic null check
IQR_FENCE_MULTIPLIER = 3.0  # outliers lie beyond Q1 - k·IQR and Q3 + k·IQR (3: Tukey's "far out")
QUALITY_EXAMPLE_ROWS = 3  # failing rows kept as examples per check

# semantic_enrichment and its LLM providers
ANTHROPIC_MODEL = "claude-sonnet-5-5"  # a current Claude Sonnet; `llm: {model: ...}` picks another
LLM_CACHE_TTL_S = 30 * 24 * 3600.0  # an LLM answer is reused for this long (the same prompt, model, schema)
LLM_MAX_RETRIES = 4  # retries of a call answered 429, 5xx or timing out
LLM_BACKOFF_S = 1.0  # first wait between retries; doubles each time (a retry-after header wins)
LLM_MAX_BACKOFF_S = 60.0  # longest wait between retries
LLM_TIMEOUT_S = 120.0  # one request
LLM_MAX_CONCURRENCY = 4  # requests in flight at once (one per batch of tables)
LLM_BATCH_COLUMNS = 60  # columns per request; wider tables are split
LLM_MAX_TOKENS = 8192  # longest answer
SAMPLE_VALUES = 5  # distinct sample values per column a provider sees (after redaction)
