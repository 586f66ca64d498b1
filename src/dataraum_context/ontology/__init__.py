"""Domain ontologies: concepts, metrics, quality rules, hints and queries, in YAML with
`extends:` inheritance, and the concept matcher the semantic steps build on.

    from dataraum_context.ontology import load_ontology, match_concepts
    onto = load_ontology("retail")                       # base + retail, resolved
    match_concepts("o_totalprice", "orders", "DECIMAL(12,2)", None, None, onto)[0].concept
    # 'order_total'
"""

from dataraum_context.ontology.loading import (
    ENV_PATH,
    OntologySource,
    find_ontologies,
    load_ontology,
    load_ontology_file,
    read_ontology_file,
)
from dataraum_context.ontology.matcher import ConceptMatch, match_concepts
from dataraum_context.ontology.models import (
    Concept,
    Metric,
    Ontology,
    OntologyFile,
    QualityRule,
    Role,
    SemanticHint,
    SuggestedQuery,
)
from dataraum_context.ontology.tokens import tokenize

__all__ = [
    "ENV_PATH", "Concept", "ConceptMatch", "Metric", "Ontology", "OntologyFile", "OntologySource",
    "QualityRule", "Role", "SemanticHint", "SuggestedQuery", "find_ontologies", "load_ontology",
    "load_ontology_file", "match_concepts", "read_ontology_file", "tokenize",
]
