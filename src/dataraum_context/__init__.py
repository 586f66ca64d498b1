"""dataraum-context: raw data into context for AI agents, as a Hamilton dataflow.

    import dataraum_context as dc
    dr = dc.driver("default", sources=["data/shop/"], workspace="ws/")   # a hamilton Driver
    dr.display_all_functions()
    ctx = dr.execute(["context_document"])["context_document"]
    print(ctx.to_markdown())

    run = dc.run("default", sources=["data/shop/"])   # per-step status, criticality, progress
    run = dc.run("default", sources={"orders": orders_df, "customers": "data/customers.csv"})
    text = dc.context("ws/", tables=["orders"], max_tokens=4000)   # for an agent's prompt

    dr = dc.builder().with_modules(staging, statistics, my_module).build()   # your own flow
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from hamilton import driver as _h_driver

from dataraum_context import delivery
from dataraum_context.errors import (
    ConfigError,
    DataraumError,
    SourceError,
    StepFailed,
    WorkspaceBusy,
)
from dataraum_context.loaders.sources import UserSources
from dataraum_context.models import ContextDocument, PipelineRun, register_fingerprint
from dataraum_context.pipeline import (
    DEFAULT_WORKSPACE,
    PipelineConfig,
    build_driver,
    builder,
    load_pipeline,
)
from dataraum_context.step import SKIP_WARNINGS
from dataraum_context.workspace import Workspace

register_fingerprint()
delivery.register()

__all__ = [
    "ConfigError", "ContextDocument", "DataraumError", "PipelineConfig", "PipelineRun",
    "SourceError", "StepFailed", "Workspace", "WorkspaceBusy", "builder", "context", "driver", "load_pipeline",
    "run",
]

Sources = UserSources | None


def driver(pipeline: str | os.PathLike[str] | PipelineConfig = "default", sources: Sources = None,
           workspace: str | os.PathLike[str] | None = None, **config: Any) -> _h_driver.Driver:
    """A Hamilton driver for a pipeline, ready to `execute` any of its steps with no further
    inputs. `config` overrides pipeline keys (`skip_steps`, `tables`, ...) and step settings
    (`type_overrides`, `null_tokens`, ...).

    `sources` is a path (file, glob, directory, URI, sources.yaml), a list of paths, or a
    mapping of names to paths or in-memory frames: pandas and polars DataFrames, polars
    LazyFrames, pyarrow Tables and RecordBatchReaders, DuckDB relations
    (`{"orders": df, "customers": "data/customers.csv"}`; a name is its table's name). Frames
    are written to the workspace once, here, and keep their column types, except pandas text
    columns, which are inferred like a CSV's; an unchanged frame is served from the cache on
    the next run, a changed one is staged again."""
    return build_driver(pipeline, sources, workspace, **config)[0]


def run(pipeline: str | os.PathLike[str] | PipelineConfig = "default", sources: Sources = None,
        workspace: str | os.PathLike[str] | None = None, progress: bool = False,
        overrides: dict[str, Any] | None = None, **config: Any) -> PipelineRun:
    """Run a pipeline with its engine: per-step status and timing, criticality applied.
    `sources` and `config` are those of `driver()`: paths, or names mapped to paths or frames.
    `overrides` are Hamilton's: values that stand in for nodes (`{"ontology": my_ontology}`);
    an overridden step is not computed and its status is `overridden`.
    The run holds the workspace's write lock: a second run on the same workspace fails at once
    (`WorkspaceBusy`, naming the holder)."""
    from dataraum_context.engines.local import LocalEngine

    ws = Workspace(workspace or DEFAULT_WORKSPACE)
    with ws.lock():
        dr, cfg = build_driver(pipeline, sources, ws.root, **config)
        if cfg.engine != "local":
            raise ConfigError(f"engine {cfg.engine!r} is not available (available: local)")
        result = LocalEngine().run(dr, cfg, progress=progress, overrides=overrides)
        if result.context is not None:
            ws.write_context(result.context)
    left_out = dr.graph.config.get(SKIP_WARNINGS) or []
    return result.model_copy(update={"warnings": (*left_out, *result.warnings)})


def context(workspace: str | os.PathLike[str] = DEFAULT_WORKSPACE, tables: Sequence[str] | None = None,
            max_tokens: int | None = None, format: str = "markdown") -> str:
    """The context of a workspace's last run as text in an output format (markdown, json,
    yaml, html, or one a plugin adds; `dataraum formats`): of `tables` only, when given;
    within `max_tokens`, when given: the most relevant tables and facts first, each table whole
    (`delivery.budget`). A table the context does not have is a DataraumError naming the ones
    it has."""
    from dataraum_context.delivery.formats import render

    return render(Workspace(workspace).context(), format, tables, max_tokens)
