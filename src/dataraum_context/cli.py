"""The `dataraum` command.

Exit codes: 0 success; 1 a step failed (its error on stderr), or the run is incomplete because
some sources could not be staged (each named with its reason on stderr; the context of the others
is still written); 2 a user error (a missing file, a bad option, an unknown step, a step that
failed on the user's input, no source that could be read, a workspace another run is writing, a
full disk), told in one line without a traceback. `-v`/`--verbose`, before or after the
subcommand, adds the traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from dataraum_context import plugins
from dataraum_context.errors import ConfigError, DataraumError, StepFailed, disk_full
from dataraum_context.naming import ROLES
from dataraum_context.project import CONFIG_ENV, KEYS, PROJECT_FILE, Settings, load_settings

if TYPE_CHECKING:
    from dataraum_context.pipeline import PipelineConfig

# Everything else is imported by the command that needs it: `--help` starts in a tenth of a
# second, where Hamilton's driver alone (pandas, polars, pyarrow) takes half a second.


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # on every (sub)command, so that it may come before or after the subcommand; SUPPRESS
        # keeps a subcommand from resetting what was given before it
        self.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                          help="show the traceback of an error")
        self.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                          help=f"the project file (default: {PROJECT_FILE} here, if any; or {CONFIG_ENV})")

    def error(self, message: str) -> NoReturn:  # one line, not the usage block; `dataraum: error:` as every error
        self.exit(2, f"{self.prog.split()[0]}: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="dataraum", description="Turn raw data into context for AI agents.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("run", help="run a pipeline on sources and write the context")
    run.add_argument("sources", nargs="*",
                     help="files, globs, directories, URIs (sqlite:///x.db, postgresql://..., "
                          f"https://...) or a sources.yaml (default: the sources of {PROJECT_FILE})")
    _setting_options(run, "pipeline", "workspace", "engine", "llm.provider", "llm.model")
    _output_options(run)
    run.add_argument("--skip-step", action="append", default=[], metavar="STEP",
                     help="leave a step out (repeatable)")
    run.add_argument("--table", action="append", default=[], metavar="TABLE",
                     help="only this table (repeatable)")
    run.add_argument("--ontology", metavar="NAME",
                     help="domain ontology for the semantic steps: a name from `dataraum ontology "
                          "list` or a .yaml path (default: the pipeline's)")
    run.add_argument("--no-llm-cache", action="store_true",
                     help="ask the semantic provider again instead of reusing its cached answers")
    run.add_argument("--fresh", action="store_true",
                     help="compute everything again instead of reusing the workspace's cache (and refresh it)")

    annotate = commands.add_parser("annotate", help="say what a column means; wins over every semantic "
                                                    "provider (annotations.yaml in the workspace)")
    annotate.add_argument("target", metavar="TABLE.COLUMN")
    annotate.add_argument("--role", choices=ROLES, help="the column's role")
    annotate.add_argument("--term", help="its business term: a concept of the ontology")
    annotate.add_argument("--description", help="one sentence on what it holds")
    _setting_options(annotate, "workspace")
    annotate.add_argument("--ontology", default="base", metavar="NAME",
                          help="the ontology --term is checked against (default: base)")

    context = commands.add_parser("context", help="print (or write) the context of a workspace's last run, "
                                                  "of some tables, within a token budget")
    _setting_options(context, "workspace")
    context.add_argument("--table", action="append", metavar="TABLE", help="only this table (repeatable)")
    _output_options(context)

    commands.add_parser("formats", help="list the output formats (--format), built-in and from plugins")

    serve_mcp = commands.add_parser("mcp", help="serve a workspace to AI agents over the Model Context Protocol "
                                                "(tools, resources, a prompt; read-only SQL)")
    _setting_options(serve_mcp, "workspace")
    serve_mcp.add_argument("--transport", choices=["stdio", "http"], default="stdio",
                           help="stdio (the client starts the server) or streamable HTTP (default: stdio)")
    serve_mcp.add_argument("--host", default="127.0.0.1",
                           help="address for --transport http (default: 127.0.0.1, this machine only)")
    serve_mcp.add_argument("--port", type=int, default=8000, help="port for --transport http (default: 8000)")
    serve_mcp.add_argument("--query-timeout", type=float, metavar="SECONDS",
                           help="stop a query running longer than this (default: 30)")

    demo = commands.add_parser("demo", help="the default pipeline on the bundled sample shop")
    demo.add_argument("--workspace", help="workspace directory (default: a temporary one)")
    _output_options(demo)

    sample = commands.add_parser("sample", help="copy the bundled sample shop (four CSV files) into a "
                                                "directory, to try the commands on")
    sample.add_argument("directory", help="where to write the files (created if missing)")

    dag = commands.add_parser("dag", help="draw a pipeline's DAG (.png, .svg or .dot)")
    _setting_options(dag, "pipeline")
    dag.add_argument("--out", required=True, help="output file: .png, .svg or .dot")

    steps = commands.add_parser("steps", help="list a pipeline's steps with module and tags")
    _setting_options(steps, "pipeline")

    runs = commands.add_parser("runs", help="the recent runs on a workspace: status, duration, and per "
                                            "step the tables computed and served from the cache")
    _setting_options(runs, "workspace")
    runs.add_argument("--last", type=int, default=10, metavar="N", help="how many runs (default: 10)")
    runs.add_argument("--steps", action="store_true", help="each run's steps too")

    worker = commands.add_parser("worker", help="serve a Temporal task queue: run the steps of the pipelines "
                                                "sent to it with engine temporal (until interrupted)")
    _setting_options(worker, "pipeline")
    worker.add_argument("--address", help="the Temporal cluster, host:port (default: the pipeline's "
                                          "engines.temporal.address)")
    worker.add_argument("--namespace", help="its namespace (default: the pipeline's, else default)")
    worker.add_argument("--task-queue", help="the task queue to serve (default: the pipeline's, else dataraum)")

    commands.add_parser("pipelines", help="list the built-in pipeline configs")
    config = commands.add_parser("config", help="the effective settings, each with where it came from "
                                                f"(default, {PROJECT_FILE}:line, env DATARAUM_*, flag)")
    _setting_options(config, *(key.name for key in KEYS if key.flag))
    config.add_argument("--format", choices=["text", "json"], default="text", help="output format (default: text)")
    commands.add_parser("loaders", help="list the source loaders with their type-system strength")

    ontology = commands.add_parser("ontology", help="list, show or validate domain ontologies")
    ontology_commands = ontology.add_subparsers(dest="ontology_command", required=True,
                                                parser_class=_Parser)
    ontology_commands.add_parser("list", help="the ontologies that can be used, and where each is from")
    show = ontology_commands.add_parser("show", help="an ontology resolved through extends:, as YAML "
                                                     "with each entry's file")
    show.add_argument("name", help="an ontology name or a .yaml path")
    validate = ontology_commands.add_parser("validate", help="check an ontology file and its parents "
                                                             "(exit 0 when valid, 2 when not)")
    validate.add_argument("path", help="a .yaml file; its parents are looked up beside it first")
    return parser


def _setting_options(parser: argparse.ArgumentParser, *names: str) -> None:
    """The flags that override project settings (`project.KEYS`); not given: None, so the
    project file, the environment or the default decides."""
    for key in KEYS:
        if key.name in names and key.flag:
            default = "the pipeline's" if key.default is None else key.default
            parser.add_argument(key.flag, metavar=key.name.split(".")[-1].upper(),
                                help=f"{key.help} (default: {key.env}, else {PROJECT_FILE}, else {default})")


def _settings(args: argparse.Namespace) -> Settings:
    """The project settings under the flags this command was given."""
    flags = {key.name: getattr(args, key.flag[2:].replace("-", "_"), None) for key in KEYS if key.flag}
    return load_settings(getattr(args, "config", None), flags)


def _pipeline_overrides(settings: Settings, pipeline: PipelineConfig) -> dict[str, Any]:
    """What the settings change in a pipeline: engine, its settings, the LLM (over the
    pipeline's own), and the project's ontology directories (after the pipeline's)."""
    overrides = settings.pipeline_overrides()
    if "llm" in overrides:
        overrides["llm"] = {**pipeline.llm.model_dump(), **overrides["llm"]}
    if settings.ontology_paths():
        overrides["ontology_paths"] = [*pipeline.config.get("ontology_paths", []), *settings.ontology_paths()]
    return overrides


def _output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", help="write the context here (format from the extension)")
    parser.add_argument("--format", metavar="NAME",
                        help="output format: json, markdown, yaml, html, or a plugin's (`dataraum formats`; "
                             "default: from --out's extension, else markdown)")
    parser.add_argument("--max-tokens", type=_positive, metavar="N",
                        help="fit the context into N tokens: the most relevant tables and facts first, "
                             "each table whole")


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a positive whole number: {text!r}")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    verbose = getattr(args, "verbose", False)
    with _logging():
        try:
            return _COMMANDS[args.command](args)
        except StepFailed as exc:
            return _fail(1, str(exc), exc, verbose)
        except DataraumError as exc:
            return _fail(2, str(exc), exc, verbose)
        except KeyboardInterrupt as exc:
            return _fail(130, "interrupted", exc, verbose)
        except Exception as exc:  # a full disk outside the steps (creating Hamilton's cache)
            full = disk_full(exc)
            if full is None:
                raise
            return _fail(2, str(full), exc, verbose)


def _fail(code: int, message: str, exc: BaseException, verbose: bool) -> int:
    if verbose:
        traceback.print_exception(exc, file=sys.stderr)
    print(f"dataraum: error: {message}", file=sys.stderr)
    return code


@contextmanager
def _logging() -> Iterator[None]:
    """While a command runs: Hamilton's loggers are silent, since it logs a failing node with
    its inputs (which can hold secrets) and a traceback before the error reaches us, and we
    report the error ourselves; our own warnings (a corrupt cache moved aside) go to stderr as
    `dataraum: warning: ...`."""
    hamilton, ours = logging.getLogger("hamilton"), logging.getLogger("dataraum_context")
    saved = hamilton.propagate, hamilton.handlers, ours.level
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    hamilton.propagate, hamilton.handlers = False, [logging.NullHandler()]
    ours.addHandler(handler)
    ours.setLevel(logging.WARNING)
    try:
        yield
    finally:
        hamilton.propagate, hamilton.handlers = saved[0], saved[1]
        ours.removeHandler(handler)
        ours.setLevel(saved[2])


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:  # as the CLI's own messages
        return f"dataraum: {record.levelname.lower()}: {record.getMessage()}"


def _cmd_run(args: argparse.Namespace) -> int:
    from dataraum_context.pipeline import load_pipeline

    settings = _settings(args)
    sources = args.sources or settings.sources()
    if not sources:
        raise DataraumError(f"run: no sources: name files, directories or URIs, or list them under sources: "
                            f"in {PROJECT_FILE}")
    pipeline = load_pipeline(settings.value("pipeline"))
    overrides = _pipeline_overrides(settings, pipeline)
    if args.skip_step:
        overrides["skip_steps"] = args.skip_step
    if args.table:
        overrides["tables"] = args.table
    if args.ontology:
        from dataraum_context.ontology import load_ontology

        # a bad name is the user's mistake (exit 2), not a step that failed
        load_ontology(args.ontology, overrides.get("ontology_paths", pipeline.config.get("ontology_paths")))
        overrides["ontology"] = args.ontology
    # elsewhere no LLM is asked anyway (a pipeline listing no modules has every one)
    if args.no_llm_cache and (pipeline.modules is None or "semantic" in pipeline.modules):
        overrides["llm_cache"] = False
    return _run_and_write(settings.value("pipeline"), sources, settings.value("workspace"), args,
                          fresh=args.fresh, **overrides)


def _cmd_demo(args: argparse.Namespace) -> int:
    from dataraum_context.sample import shop_dir

    if args.workspace:
        return _run_and_write("default", [str(shop_dir())], args.workspace, args)
    with tempfile.TemporaryDirectory(prefix="dataraum-demo-") as workspace:
        return _run_and_write("default", [str(shop_dir())], workspace, args)


def _format_name(args: argparse.Namespace) -> str:
    """The output format --format or --out's extension names (markdown when neither does), and
    --out writable: checked before any work is done."""
    from dataraum_context.delivery.formats import format_for, output_format, output_formats

    if args.out:
        _check_out(args.out)
    name = args.format or (format_for(args.out) if args.out else "markdown")
    if name is None:
        extensions = ", ".join(e for f in output_formats().values() for e in f.extensions)
        raise DataraumError(f"--out {args.out}: cannot tell the format from the extension "
                            f"(use {extensions}, or --format)")
    output_format(name)
    return name


def _write(text: str, args: argparse.Namespace, what: str) -> None:
    from dataraum_context.workspace import write_atomically

    if args.out:
        write_atomically(args.out, text)
        print(f"dataraum: wrote {args.out} ({what})", file=sys.stderr)
    else:
        sys.stdout.write(text)


def _cmd_context(args: argparse.Namespace) -> int:
    from dataraum_context import context

    fmt = _format_name(args)
    workspace = _settings(args).value("workspace")
    _write(context(workspace, tables=args.table, max_tokens=args.max_tokens, format=fmt), args, fmt)
    return 0


def _cmd_formats(args: argparse.Namespace) -> int:
    from dataraum_context.delivery.formats import output_formats

    for name, fmt in output_formats().items():
        print(f"  {name:<10} {' '.join(fmt.extensions):<18} {fmt.description}")
    return 0


def _run_and_write(pipeline: str, sources: list[str], workspace: str, args: argparse.Namespace,
                   **config: Any) -> int:
    from dataraum_context import run
    from dataraum_context.delivery.formats import render

    fmt = _format_name(args)
    result = run(pipeline, sources=sources, workspace=workspace, progress=sys.stderr.isatty(),
                 **config)
    for warning in result.warnings:
        print(f"dataraum: warning: {warning}", file=sys.stderr)
    if result.context is not None and result.context.llm_usage:
        usage = ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in result.context.llm_usage.items())
        print(f"dataraum: {result.context.semantic_provider}: {usage}", file=sys.stderr)
    for failed in result.failed_steps:
        print(f"dataraum: error: step {failed.name} ({failed.criticality}) failed: {failed.error}",
              file=sys.stderr)
    if result.status == "incomplete":
        print("dataraum: error: incomplete: some sources were not staged (see the warnings); "
              "the context covers the others", file=sys.stderr)
    if result.context is not None:
        tables = len(result.context.tables)
        _write(render(result.context, fmt, max_tokens=args.max_tokens), args,
               f"{tables} table{'' if tables == 1 else 's'}, {result.duration_s:.1f}s")
    if result.succeeded:
        return 0
    # a required step that failed on the user's input (a bad ontology name in the YAML) is still
    # the user's mistake
    return 2 if any(step.user_error and step.criticality != "optional" for step in result.failed_steps) else 1


def _cmd_sample(args: argparse.Namespace) -> int:
    import shutil

    from dataraum_context.sample import shop_dir

    target = Path(args.directory)
    if target.exists() and not target.is_dir():
        raise DataraumError(f"{target}: not a directory")
    target.mkdir(parents=True, exist_ok=True)
    files = sorted(shop_dir().glob("*.csv"))
    for path in files:
        shutil.copyfile(path, target / path.name)
    print(f"dataraum: wrote {len(files)} files to {target}: {', '.join(p.name for p in files)}", file=sys.stderr)
    return 0


def _check_out(out: str) -> None:
    """Find out before a run, which may take long, that its output cannot be written: a
    directory, a missing or read-only parent. Tried, not guessed from permission bits."""
    path = Path(out)
    if path.is_dir():
        raise DataraumError(f"--out {out}: is a directory")
    if not path.parent.is_dir():
        raise DataraumError(f"--out {out}: no such directory {path.parent}")
    try:
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as exc:
        raise DataraumError(f"--out {out}: cannot write in {path.parent}: {exc.strerror}") from None


def _cmd_dag(args: argparse.Namespace) -> int:
    out = Path(args.out)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg", "dot"):
        raise DataraumError(f"--out {args.out}: use a .png, .svg or .dot file")
    from dataraum_context.workspace import write_atomically

    _check_out(args.out)
    dr, _cfg = _driver(_settings(args))
    graph = dr.display_all_functions()
    if graph is None:
        raise DataraumError("drawing needs the graphviz Python package: pip install 'dataraum-context[visualization]'")
    if fmt == "dot":
        write_atomically(out, graph.source)
    else:
        import graphviz

        try:
            write_atomically(out, graph.pipe(format=fmt))
        except graphviz.ExecutableNotFound:
            raise DataraumError(
                f"writing .{fmt} needs Graphviz's `dot` program (apt-get install graphviz, "
                "brew install graphviz, or https://graphviz.org/download); .dot works without it"
            ) from None
    print(f"dataraum: wrote {out}", file=sys.stderr)
    return 0


def _driver(settings: Settings) -> tuple[Any, PipelineConfig]:
    """The driver of the pipeline the settings name, as they change it (no cache)."""
    from dataraum_context.pipeline import build_driver, load_pipeline

    name = settings.value("pipeline")
    return build_driver(name, cache=False, **_pipeline_overrides(settings, load_pipeline(name)))


def _cmd_steps(args: argparse.Namespace) -> int:
    from dataraum_context.listing_cache import cached

    settings = _settings(args)
    # what `_driver` reads of the settings; the files and the code are the cache's own concern
    key = {"pipeline": settings.value("pipeline"), "overrides": settings.pipeline_overrides(),
           "ontology_paths": settings.ontology_paths()}
    sys.stdout.write(cached("steps", key, lambda: _steps_listing(settings)))
    return 0


def _steps_listing(settings: Settings) -> tuple[str, list[Path]]:
    """The steps of the pipeline, one a line with module, origin and tags; and its YAML files."""
    from dataraum_context.pipeline import pipeline_files, step_nodes

    dr, cfg = _driver(settings)
    rows = []
    for name, node in step_nodes(dr).items():
        module = node.originating_functions[0].__module__ if node.originating_functions else "?"
        tags = " ".join(f"{k}={node.tags[k]}" for k in ("scope", "phase", "criticality") if k in node.tags)
        rows.append((name, module, _origin(module), tags))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"pipeline {cfg.name}: {cfg.description}".rstrip(": ")]
    lines += ["  " + " ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)) + f" {tags}"
              for *columns, tags in rows]
    return "".join(f"{line}\n" for line in lines), pipeline_files(settings.value("pipeline"))


def _origin(module: str) -> str:
    """Where a step comes from: built-in, the distribution of a step package, or your own module."""
    dist = plugins.step_origin(module)
    return "built-in" if dist == "dataraum-context" else dist or "own module (not installed)"


def _cmd_runs(args: argparse.Namespace) -> int:
    from dataraum_context.workspace import Workspace

    ws = Workspace(_settings(args).value("workspace"))
    records = ws.runs(args.last)
    if not records:
        print(f"no runs recorded in {ws.root}", file=sys.stderr)
    for run in records:
        started = f"{run.started_at:%Y-%m-%d %H:%M:%S}" if run.started_at else "?"
        print(f"{run.run_id}  {started}  {run.pipeline:<14} {run.engine:<9} {run.status:<10} "
              f"{run.duration_s:7.1f}s")
        if run.error:
            print(f"    error: {run.error}")
        for step in run.steps if args.steps else ():
            tables = (f"  {step.tables_computed} computed, {step.tables_cached} cached"
                      if step.tables_computed or step.tables_cached else "")
            tries = f"  {step.attempts} attempts" if step.attempts > 1 else ""
            print(f"    {step.name:<30} {step.status:<9} {step.duration_s:6.2f}s{tables}{tries}")
    return 0


def _cmd_worker(args: argparse.Namespace) -> int:
    from dataraum_context import engines
    from dataraum_context.engines.temporal import TemporalEngine, serve
    from dataraum_context.pipeline import pipeline_config

    settings = _settings(args)
    project_engines = settings.pipeline_overrides().get("engines")  # the project file's, over the pipeline's
    cfg = pipeline_config(settings.value("pipeline"), **({"engines": project_engines} if project_engines else {}))
    configured = engines.create(engines.choose(cfg, TemporalEngine.name))
    assert isinstance(configured, TemporalEngine)
    address = args.address or configured.address
    if not address:
        raise ConfigError("dataraum worker needs a Temporal cluster: --address host:7233, or "
                          f"engines.temporal.address in the pipeline config or {PROJECT_FILE}")
    serve(address, args.namespace or configured.namespace, args.task_queue or configured.task_queue)
    return 0


def _cmd_pipelines(args: argparse.Namespace) -> int:
    from dataraum_context.pipeline import builtin_pipelines, load_pipeline

    for name in builtin_pipelines():
        print(f"  {name:<16} {load_pipeline(name).description}")
    return 0


def _cmd_loaders(args: argparse.Namespace) -> int:
    from dataraum_context.loaders.registry import loader_descriptions

    for name, strength, reads in loader_descriptions():
        print(f"  {name:<10} {strength:<8} {reads}")
    return 0


def _cmd_ontology(args: argparse.Namespace) -> int:
    from dataraum_context.ontology import load_ontology, load_ontology_file
    from dataraum_context.ontology.describe import ontology_listing, ontology_yaml, validation_summary

    paths = _settings(args).ontology_paths()
    if args.ontology_command == "list":
        print("\n".join(ontology_listing(paths)))
    elif args.ontology_command == "show":
        sys.stdout.write(ontology_yaml(load_ontology(args.name, paths)))
    else:
        print(validation_summary(args.path, load_ontology_file(args.path)))
    return 0


def _cmd_annotate(args: argparse.Namespace) -> int:
    from dataraum_context.llm.annotations import Annotation, checked_target, term_warning, write_annotation

    if not (args.role or args.term or args.description):
        raise DataraumError("annotate: give --role, --term and/or --description")
    workspace = _settings(args).value("workspace")
    target = checked_target(workspace, args.target)
    if args.term:
        warning = term_warning(args.term, args.ontology)
        if warning:
            print(f"dataraum: warning: {warning}", file=sys.stderr)
    path = write_annotation(workspace, target,
                            Annotation(role=args.role, term=args.term, description=args.description))
    print(f"dataraum: annotated {target} in {path}; the next run uses it", file=sys.stderr)
    return 0


def _cmd_config(args: argparse.Namespace) -> int:
    import json

    settings = _settings(args)
    if args.format == "json":
        shown = {name: {"value": s.value, "origin": s.origin} for name, s in settings.items()}
        print(json.dumps({"file": str(settings.file) if settings.file else None, "settings": shown}, indent=2))
        return 0
    print(f"project file: {settings.file or f'none ({PROJECT_FILE} not in this directory)'}")
    for name, s in settings.items():
        value = "(the pipeline's)" if s.value is None else s.value if isinstance(s.value, str) else json.dumps(s.value)
        print(f"  {name:<15} {value:<40} {s.origin}")
    return 0


def _cmd_mcp(args: argparse.Namespace) -> int:
    from dataraum_context.workspace import Workspace

    workspace = _settings(args).value("workspace")
    ws = Workspace(workspace)
    if not ws.root.is_dir():
        raise DataraumError(f"workspace {workspace}: no such directory (run a pipeline on it first: "
                            f"dataraum run SOURCES --workspace {workspace})")
    if args.query_timeout is not None and args.query_timeout <= 0:
        raise DataraumError(f"--query-timeout {args.query_timeout:g}: give a number of seconds above 0")
    try:
        from dataraum_context.mcp.server import serve
    except ImportError as exc:
        missing = (exc.name or "mcp").split(".")[0]
        raise DataraumError(f"dataraum mcp needs the mcp package ({missing} is not installed): "
                            "pip install 'dataraum-context[mcp]'") from None
    if args.transport == "http" and args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"dataraum: warning: serving on {args.host}: anyone who reaches it can read the workspace "
              "(there is no authentication)", file=sys.stderr)
    timeout = {"timeout_s": args.query_timeout} if args.query_timeout else {}
    serve(ws.root, args.transport, args.host, args.port, **timeout)
    return 0


_COMMANDS = {"run": _cmd_run, "demo": _cmd_demo, "sample": _cmd_sample, "dag": _cmd_dag, "steps": _cmd_steps,
             "runs": _cmd_runs, "pipelines": _cmd_pipelines, "loaders": _cmd_loaders, "ontology": _cmd_ontology,
             "annotate": _cmd_annotate, "config": _cmd_config, "worker": _cmd_worker,
             "context": _cmd_context, "formats": _cmd_formats, "mcp": _cmd_mcp}


if __name__ == "__main__":
    sys.exit(main())
