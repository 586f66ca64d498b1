"""An ontology plugin for dataraum-context: the YAML files beside this module are found through
the `dataraum.ontologies` entry point, which names this package."""
