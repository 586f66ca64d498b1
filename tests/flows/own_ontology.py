"""A second module computing `ontology`, as a plugin's step package could."""

from dataraum_context.ontology import Ontology, load_ontology


def ontology() -> Ontology:
    return load_ontology("base")
