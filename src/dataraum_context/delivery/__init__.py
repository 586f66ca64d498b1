"""Renderers of the context document (JSON, Markdown, YAML)."""
