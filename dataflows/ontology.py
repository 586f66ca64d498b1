"""Ontology: the pipeline's domain ontology, read by the semantic and quality steps.

The pipeline config's `ontology:` key (or `dataraum run --ontology NAME`) arrives here as
`ontology_name`; `ontology_paths` in `config:` adds directories to look in, before
`DATARAUM_ONTOLOGY_PATH`, the `dataraum.ontologies` plugins and the built-in ones. A pipeline
with a step that needs the ontology gets this module without listing it.
"""

from __future__ import annotations

from hamilton.function_modifiers import cache

from dataraum_context.ontology import Ontology, load_ontology
from dataraum_context.step import step


@cache(behavior="recompute")  # cheap, and an edited YAML file must take effect on the next run
@step(scope="source", phase="enrichment", criticality="required")
def ontology(ontology_name: str | None = "base", ontology_paths: list[str] | None = None) -> Ontology:
    """The named ontology with its `extends:` chain resolved: concepts, metrics, quality rules,
    semantic hints and suggested queries, each entry with the file it came from. None (the
    pipeline's `ontology: null`): no domain at all, an ontology without entries."""
    if ontology_name is None:
        return Ontology(name="none", description="No domain ontology: the pipeline says ontology: null.")
    return load_ontology(ontology_name, ontology_paths)
