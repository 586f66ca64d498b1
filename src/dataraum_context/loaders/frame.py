"""In-memory frames as sources: pandas and polars DataFrames (and polars LazyFrames), pyarrow
Tables and RecordBatchReaders, and DuckDB relations, named by the mapping that hands them to
`driver()`/`run()` (`sources={"orders": df}`).

A frame is materialized once, when the driver is built, as `frames/<name>.parquet` in the
workspace, with a hash of its content in the file's metadata. The manifest Hamilton's cache
sees stays a small entry whose version is that hash: an unchanged frame is served from the
cache (and not even written again), a changed one is staged again.

A frame's column types are kept, as Parquet's are (strong), with one exception: pandas text
columns (`object`, `str`, `string`) hold whatever was read or assigned, like a CSV's text, and
so do object columns of either library, staged as their values' text. A frame with such columns
is therefore weak, as a SQLite table is: its typed columns keep their types and its text
columns are inferred (`inference.infers`).

pandas, polars and DuckDB are never imported here unless the frame is one of theirs: frames are
recognised by the module and name of their class.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from dataraum_context.errors import ConfigError, SourceError
from dataraum_context.loaders.arrow import unique_names
from dataraum_context.loaders.base import LoaderBase, _first_line, parquet_in_place
from dataraum_context.models import InPlace, StagedTable, TypeSystemStrength
from dataraum_context.sql import connect, quote_literal
from dataraum_context.workspace import FRAMES, Workspace

# (top-level module, class name) of each frame class, and how the context names it
_KINDS = {
    ("pandas", "DataFrame"): "pandas DataFrame",
    ("polars", "DataFrame"): "polars DataFrame",
    ("polars", "LazyFrame"): "polars LazyFrame",
    ("pyarrow", "Table"): "pyarrow Table",
    ("pyarrow", "RecordBatchReader"): "pyarrow RecordBatchReader",
    ("duckdb", "DuckDBPyRelation"): "DuckDB relation",
}
ACCEPTED = ("pandas DataFrame, polars DataFrame or LazyFrame, pyarrow Table or RecordBatchReader, "
            "DuckDB relation")

_KIND = "dataraum.frame.kind"
_HASH = "dataraum.frame.hash"
_TYPE_SYSTEM = "dataraum.frame.type_system"
_FORMAT = b"dataraum frame 1"  # part of every hash: a change in the conversion restages every frame


def frame_kind(obj: object) -> str | None:
    """What kind of frame `obj` is (subclasses included), or None when it is none."""
    for cls in type(obj).__mro__:
        kind = _KINDS.get((cls.__module__.partition(".")[0], cls.__name__))
        if kind is not None:
            return kind
    return None


def materialize(name: str, frame: object, kind: str, workspace: Workspace) -> str:
    """Write a frame of a `kind` as `frames/<name>.parquet` unless that file already holds the
    same content; return the file's path."""
    _check_name(name)
    try:
        table, text = _to_arrow(kind, frame)
    except Exception as exc:  # noqa: BLE001  each library raises its own errors for a frame it cannot convert
        raise SourceError(f"source {name!r}: the {kind} cannot be converted to Arrow: {_first_line(exc)}") from None
    type_system = TypeSystemStrength.WEAK if text else TypeSystemStrength.STRONG
    digest = _digest(table, kind, type_system)
    relative = workspace.relative(FRAMES, name)
    target = workspace.path(relative)
    if frame_metadata(str(target)).get(_HASH) != digest:
        metadata = {_KIND: kind, _HASH: digest, _TYPE_SYSTEM: type_system.value}
        with connect() as con:
            con.register("dataraum_frame", table)
            try:
                workspace.write_parquet(con, "SELECT * FROM dataraum_frame", relative, metadata=metadata,
                                        columns=table.num_columns)
            except duckdb.Error as exc:
                raise SourceError(f"source {name!r}: the {kind} cannot be written as Parquet: "
                                  f"{_first_line(exc)}") from None
    return str(target)


def frame_metadata(path: str) -> dict[str, str]:
    """The frame's kind, hash and type system as written in its file; empty when there is none."""
    try:
        found = pq.read_metadata(path).metadata or {}
    except (OSError, pa.ArrowException):
        return {}
    return {k.decode(): v.decode() for k, v in found.items() if k.startswith(b"dataraum.frame.")}


def _check_name(name: str) -> None:
    """A frame's name becomes its table's name and a file name in the workspace."""
    if not name or name in (".", "..") or any(sep in name for sep in ("/", "\\", os.sep, "\0")):
        raise ConfigError(f"source {name!r}: a frame's name is its table's name, and cannot be empty "
                          "or contain a path separator")


def _to_arrow(kind: str, frame: Any) -> tuple[pa.Table, bool]:
    """The frame as an Arrow table, and whether it has untyped text columns."""
    if kind == "pandas DataFrame":
        return _from_pandas(frame)
    if kind in ("polars DataFrame", "polars LazyFrame"):
        return _from_polars(frame.collect() if kind == "polars LazyFrame" else frame)
    if kind == "DuckDB relation":
        frame = frame.arrow()  # a RecordBatchReader in DuckDB 2, a Table in earlier versions
    if isinstance(frame, pa.RecordBatchReader):
        return frame.read_all(), False
    return frame, False


def _from_pandas(df: Any) -> tuple[pa.Table, bool]:
    import pandas as pd  # the frame is a pandas frame: pandas is installed

    if df.index.name is not None or not isinstance(df.index, pd.RangeIndex):  # not mere row numbers: data
        columns = [str(c) for c in df.columns]
        levels = [str(n) if n is not None else "index" if df.index.nlevels == 1 else f"level_{i}"
                  for i, n in enumerate(df.index.names)]
        df = df.reset_index(names=unique_names([*columns, *levels])[len(columns):])
    objects = [c for c, dtype in df.dtypes.items() if pd.api.types.is_object_dtype(dtype)]
    text = bool(objects) or any(isinstance(dtype, pd.StringDtype) for dtype in df.dtypes)
    # an object column holds any Python values: their text, with missing values kept null
    table = pa.Table.from_pandas(df.astype(dict.fromkeys(objects, "string")), preserve_index=False)
    return table.replace_schema_metadata(None), text


def _from_polars(df: Any) -> tuple[pa.Table, bool]:
    import polars as pl  # the frame is a polars frame: polars is installed

    objects = [name for name, dtype in df.schema.items() if dtype == pl.Object]
    if objects:  # Arrow would get the objects' addresses: their text, as for pandas
        df = df.with_columns(pl.col(objects).map_elements(str, return_dtype=pl.String))
    return df.to_arrow(), bool(objects)


class _Digest:
    """A write-only file that hashes what is written to it (an Arrow IPC stream)."""

    closed = False

    def __init__(self) -> None:
        self.hash = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        return len(data)

    def flush(self) -> None:
        pass


def _digest(table: pa.Table, kind: str, type_system: TypeSystemStrength) -> str:
    sink = _Digest()
    sink.hash.update(b"\0".join([_FORMAT, kind.encode(), type_system.value.encode(), b""]))
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.hash.hexdigest()


class FrameLoader(LoaderBase):
    """A frame materialized in the workspace (`materialize`); chosen by kind, never by file name."""

    name = "frame"
    type_system = TypeSystemStrength.STRONG  # WEAK for a pandas frame with text columns
    listed_as = "in-memory frames given to driver()/run(): " + ACCEPTED

    @classmethod
    def handles(cls, source: str) -> bool:
        return False

    @property
    def version(self) -> str:
        """The hash of the frame's content (the file's size and time for any other Parquet file)."""
        return frame_metadata(self.source).get(_HASH) or super().version

    def _relation_sql(self, con: duckdb.DuckDBPyConnection) -> str:
        return f"read_parquet({quote_literal(self.source)})"

    def _read_in_place(self) -> InPlace:
        return parquet_in_place(self.source)  # the workspace's own file, holding exactly the frame's rows

    def load(self, workspace: Workspace) -> StagedTable:
        """Read in place, as a Parquet file is; the table's source reads as the frame it came from."""
        staged = super().load(workspace)
        return staged.model_copy(update={"source": f"in-memory {frame_metadata(self.source).get(_KIND, 'frame')}"})

    def _type_system(self) -> TypeSystemStrength:
        return TypeSystemStrength(frame_metadata(self.source).get(_TYPE_SYSTEM, self.type_system.value))
