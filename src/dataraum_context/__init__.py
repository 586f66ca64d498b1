"""dataraum-context: raw data into context for AI agents."""
