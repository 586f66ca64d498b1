"""Workflow engines: run a pipeline and record per-step status and timings."""
