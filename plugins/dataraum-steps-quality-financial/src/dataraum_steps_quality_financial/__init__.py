"""dataraum-steps-quality-financial: accounting checks on the tables the financial ontology
binds, as pipeline steps (the Hamilton module `steps`)."""
