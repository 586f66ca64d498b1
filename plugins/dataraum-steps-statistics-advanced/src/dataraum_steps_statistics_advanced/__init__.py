"""dataraum-steps-statistics-advanced: distribution fitting, multivariate outliers and
seasonal decomposition as pipeline steps (the Hamilton module `steps`)."""
