"""Excel workbooks (`.xlsx`, `.xlsm`, `.xls`, `.xlsb`, `.ods`) through fastexcel (calamine):
one table per non-empty sheet, staged VARCHAR-first.

Excel is UNTYPED here although its cells carry types: the types belong to cells, not columns,
and are set by whoever typed each cell. Ids and amounts arrive as floats, zip codes and
account numbers as numbers or as text in the same column, dates as numbers with a format, and a
stray "n/a" makes a column mixed. So every cell is staged as the text Excel shows for it (whole
numbers without ".0", dates as ISO dates, datetimes as ISO timestamps) and the column's type is
inferred from those values with evidence, exactly as for a CSV, with anything that does not fit
in quarantine.

Title rows above the table and blank rows and columns are skipped: the header is the first row
at least three quarters as full as the fullest of the first rows, unless it holds numbers or
dates (then the sheet has no header). `header_row` (1-based within the used range; 0 for none)
sets it. A sheet is read whole (calamine has no streaming reader); Excel caps it at ~1M rows.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from dataraum_context.errors import SourceError
from dataraum_context.loaders.arrow import ArrowLoader, unique_names
from dataraum_context.loaders.base import LoaderBase, _first_line, selected, table_name
from dataraum_context.loaders.sources import SourceSpec
from dataraum_context.models import TypeSystemStrength

if TYPE_CHECKING:
    import polars as pl  # imported where a sheet is read: every run imports the loaders

_HEAD_ROWS = 30  # rows looked at to find the header
_DATA_VALUE = re.compile(r"^[-+]?[0-9][0-9.,:/ T-]*$")  # a number, a date or a time
_MIDNIGHT = " 00:00:00"


class ExcelLoader(ArrowLoader):
    name = "excel"
    type_system = TypeSystemStrength.UNTYPED
    driver = "fastexcel"
    extra = "excel"
    extensions = (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods")
    option_names = ("sheets", "sheet", "header_row")

    @classmethod
    def expand(cls, spec: SourceSpec, source: str) -> list[LoaderBase]:
        """One table per non-empty sheet (or the `sheets` listed): the file's name when the
        workbook has one, `<file>_<sheet>` when it has several."""
        if "sheet" in spec.options:
            return super().expand(spec, source)
        reader = _workbook(source)
        names = selected(spec.options.get("sheets"), reader.sheet_names, source, "sheet")
        sheets = [s for s in names if _call(source, lambda s=s: reader.load_sheet(s, header_row=None,
                                                                                   n_rows=1).width)]
        if not sheets:
            raise SourceError(f"{source}: every sheet is empty")
        base = spec.name if spec.source == source and spec.name != source else table_name(source)
        return [cls(source, table=base if len(sheets) == 1 else f"{base}_{sheet}",
                    options={**spec.options, "sheet": sheet}, credentials=spec.credentials)
                for sheet in sheets]

    @cached_property
    def _book(self) -> Any:
        return _workbook(self.source)

    @property
    def _sheet(self) -> str:
        return str(self.options.get("sheet") or self._book.sheet_names[0])

    def _raw(self, rows: int | None) -> pl.DataFrame:
        """The sheet's used range as text, blank columns dropped."""
        sheet = _call(self.source, lambda: self._book.load_sheet(
            self._sheet, header_row=None, dtypes="string", n_rows=rows).to_polars())
        return sheet.select([c for c in sheet.columns if sheet[c].null_count() < sheet.height])

    @cached_property
    def _layout(self) -> tuple[int | None, list[str], list[str | None]]:
        """(index of the header row in the used range or None, staged names, names as written)."""
        head = self._raw(_HEAD_ROWS)
        if head.width == 0:
            raise SourceError(f"{self.source}: sheet {self._sheet!r} is empty")
        rows = head.rows()
        if "header_row" in self.options:
            header = self._given_header(len(rows))
        else:
            # the first row about as full as the fullest: title rows above it have a cell or two
            counts = [sum(v is not None and v.strip() != "" for v in row) for row in rows]
            header = next(i for i, n in enumerate(counts) if n >= max(counts) - max(counts) // 4)
            if any(_DATA_VALUE.match(v.strip()) for v in rows[header] if v):
                header = None
        if header is None:
            return None, unique_names([None] * head.width), [None] * head.width
        written = [v.strip() if v else None for v in rows[header]]
        return header, unique_names(written), written

    def _given_header(self, rows: int) -> int | None:
        value = self.options["header_row"]
        if not isinstance(value, int) or value < 0 or value > rows:
            raise SourceError(f"{self.source}: header_row must be a row number from 1 to {rows}, "
                              f"or 0 for none (got {value!r})")
        return value - 1 if value else None

    def _source_names(self, con: Any) -> list[str] | None:
        header, _names, written = self._layout
        return None if header is None else [w or "" for w in written]

    def _arrow_schema(self) -> pa.Schema:
        return pa.schema([(name, pa.string()) for name in self._layout[1]])

    def _batches(self) -> Iterator[pa.RecordBatch]:
        import polars as pl

        header, names, _written = self._layout
        sheet = self._raw(None)
        if sheet.width != len(names):
            raise SourceError(f"{self.source}: sheet {self._sheet!r} changed while it was read")
        body = sheet.slice(0 if header is None else header + 1)
        body = body.rename(dict(zip(body.columns, names, strict=True)))
        body = body.filter(~pl.all_horizontal(pl.all().is_null()))  # blank rows
        yield from body.with_columns(_dates_as_dates(body)).to_arrow().to_batches()


def _dates_as_dates(frame: pl.DataFrame) -> list[pl.Expr]:
    """Excel has no date type: a date is a datetime at midnight. A column whose datetimes are
    all at midnight holds dates, and is staged as `2024-01-31`, not `2024-01-31 00:00:00`."""
    import polars as pl

    out = []
    for name in frame.columns:
        values = frame[name].drop_nulls()
        if values.len() and values.str.contains(r"^[0-9]{4}-[0-9]{2}-[0-9]{2} 00:00:00$").all():
            out.append(pl.col(name).str.strip_suffix(_MIDNIGHT))
    return out


def _workbook(source: str) -> Any:
    try:
        import fastexcel
    except ImportError:
        raise SourceError(f"{source}: reading Excel needs fastexcel: "
                          "pip install 'dataraum-context[excel]'") from None
    if not os.path.isfile(source):
        raise SourceError(f"{source}: no such file")
    return _call(source, lambda: fastexcel.read_excel(source))


def _call(source: str, read: Any) -> Any:
    """fastexcel's errors (a corrupt or encrypted workbook) as a SourceError naming the file."""
    try:
        return read()
    except SourceError:
        raise
    except Exception as exc:  # noqa: BLE001 (fastexcel raises its own hierarchy, and OSError, ValueError)
        raise SourceError(f"{source}: cannot be read as an Excel workbook: {_first_line(exc)}") from None
