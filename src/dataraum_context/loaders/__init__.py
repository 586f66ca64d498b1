"""Loaders stage a source into the workspace. `LoaderBase` is the contract; the built-in
loaders and third-party ones are found through the `dataraum.loaders` entry-point group."""

from dataraum_context.loaders.base import LoaderBase, resolve_sources

__all__ = ["LoaderBase", "resolve_sources"]
