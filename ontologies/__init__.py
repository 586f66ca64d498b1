"""Domain ontologies shipped as package data (`*.yaml`), found with importlib.resources."""
