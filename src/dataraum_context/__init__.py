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

import importlib
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dataraum_context import delivery
from dataraum_context.errors import (
    ConfigError,
    DataraumError,
    SourceError,
    StepFailed,
    WorkspaceBusy,
)

if TYPE_CHECKING:
    from hamilton import driver as _h_driver
    from hamilton.lifecycle.base import LifecycleAdapter

    from dataraum_context.engines import WorkflowEngine
    from dataraum_context.loaders.sources import UserSources
    from dataraum_context.models import ContextDocument, PipelineRun
    from dataraum_context.pipeline import PipelineConfig, builder, load_pipeline
    from dataraum_context.workspace import Workspace

# Hamilton imports an extension for every dataframe or ML library it finds installed (dask,
# scikit-learn, ...: 2 s of every run with the dev extras); no step of ours uses one. A user's own
# setting wins, and a process that imported Hamilton's function modifiers before this keeps its own.
os.environ.setdefault("HAMILTON_AUTOLOAD_EXTENSIONS", "0")

delivery.register()

__all__ = [
    "ConfigError", "ContextDocument", "DataraumError", "PipelineConfig", "PipelineRun",
    "SourceError", "StepFailed", "Workspace", "WorkspaceBusy", "builder", "context", "driver", "load_pipeline",
    "run",
]

# Imported on first use: Hamilton's driver brings pandas, polars and pyarrow (half a second and
# 100 MiB); `import dataraum_context` and the CLI's `--help` need neither.
_LAZY = {"PipelineConfig": "dataraum_context.pipeline", "builder": "dataraum_context.pipeline",
         "load_pipeline": "dataraum_context.pipeline", "Workspace": "dataraum_context.workspace",
         "ContextDocument": "dataraum_context.models", "PipelineRun": "dataraum_context.models"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def driver(pipeline: str | os.PathLike[str] | PipelineConfig = "default", sources: UserSources | None = None,
           workspace: str | os.PathLike[str] | None = None, *, fresh: bool = False,
           adapters: Sequence[LifecycleAdapter] = (), **config: Any) -> _h_driver.Driver:
    """A Hamilton driver for a pipeline, ready to `execute` any of its steps with no further
    inputs. `config` overrides pipeline keys (`skip_steps`, `tables`, ...) and step settings
    (`type_overrides`, `null_tokens`, ...). `fresh=True` computes everything again (and
    refreshes the cache); `adapters` are Hamilton lifecycle adapters
    (`hamilton.lifecycle.NodeExecutionHook`, ...), called around each node, task and execution.

    `sources` is a path (file, glob, directory, URI, sources.yaml), a list of paths, or a
    mapping of names to paths or in-memory frames: pandas and polars DataFrames, polars
    LazyFrames, pyarrow Tables and RecordBatchReaders, DuckDB relations
    (`{"orders": df, "customers": "data/customers.csv"}`; a name is its table's name). Frames
    are written to the workspace once, here, and keep their column types, except pandas text
    columns, which are inferred like a CSV's; an unchanged frame is served from the cache on
    the next run, a changed one is staged again."""
    from dataraum_context.engines.observe import ProgressBar
    from dataraum_context.pipeline import build_driver

    return build_driver(pipeline, sources, workspace, fresh=fresh, adapters=[*adapters, ProgressBar()],
                        **config)[0]


def run(pipeline: str | os.PathLike[str] | PipelineConfig = "default", sources: UserSources | None = None,
        workspace: str | os.PathLike[str] | None = None, progress: bool = False,
        overrides: dict[str, Any] | None = None, *, engine: str | WorkflowEngine | None = None,
        fresh: bool = False, adapters: Sequence[LifecycleAdapter] = (), **config: Any) -> PipelineRun:
    """Run a pipeline with its engine: per-step status and timing, criticality applied.
    `sources` and `config` are those of `driver()`: paths, or names mapped to paths or frames.
    `overrides` are Hamilton's: values that stand in for nodes (`{"ontology": my_ontology}`);
    an overridden step is not computed and its status is `overridden`.
    `engine` is an engine's name (`local`, `threads`, `dask`, `ray`, a plugin's; default: the
    pipeline's `engine:`) or an engine object; `fresh=True` ignores the cache for this run (and
    writes it); `adapters` are Hamilton lifecycle adapters, as for `driver()`.
    The run holds the workspace's write lock: a second run on the same workspace fails at once
    (`WorkspaceBusy`, naming the holder)."""
    from dataraum_context import engines
    from dataraum_context.engines.observe import ProgressBar
    from dataraum_context.pipeline import DEFAULT_WORKSPACE, build_driver, pipeline_config
    from dataraum_context.step import SKIP_WARNINGS
    from dataraum_context.workspace import Workspace

    if isinstance(engine, str | None):
        engine = engines.create(engines.choose(pipeline_config(pipeline, **config), engine))
    ws = Workspace(workspace or DEFAULT_WORKSPACE)
    with ws.lock(), engines.task_executor(engine) as executor:
        dr, cfg = build_driver(pipeline, sources, ws.root, executor=executor, fresh=fresh,
                               adapters=[*adapters, ProgressBar()], **config)
        result = engine.run(dr, cfg, progress=progress, overrides=overrides)
        if result.context is not None:
            ws.write_context(result.context)
    left_out = dr.graph.config.get(SKIP_WARNINGS) or []
    return result.model_copy(update={"warnings": (*left_out, *result.warnings)})


def context(workspace: str | os.PathLike[str] = ".dataraum", tables: Sequence[str] | None = None,
            max_tokens: int | None = None, format: str = "markdown") -> str:
    """The context of a workspace's last run as text in an output format (markdown, json,
    yaml, html, or one a plugin adds; `dataraum formats`): of `tables` only, when given;
    within `max_tokens`, when given: the most relevant tables and facts first, each table whole
    (`delivery.budget`). A table the context does not have is a DataraumError naming the ones
    it has."""
    from dataraum_context.delivery.formats import render
    from dataraum_context.workspace import Workspace

    return render(Workspace(workspace).context(), format, tables, max_tokens)
