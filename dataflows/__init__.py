"""The pipeline steps: Hamilton modules whose function names are the step names.

Installed as `dataraum_context.dataflows`; `pipelines/*.yaml` are the shipped pipeline configs.
"""
