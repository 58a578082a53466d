"""Detect: which text columns hold only dates, timestamps, times or UUIDs, learned as batches pass.

The original library built a JSON-fragment asset's result by reading the fragments back with
DuckDB's ``read_json``, whose type detection turns ISO dates, timestamps, times and UUIDs that
arrived as strings into typed columns. madstream writes the result in one pass, before the last
batch is seen, so it cannot type the file itself: it records the type a text column proved to
hold (every non-null value, across every batch) in the version, and readers cast it on read.
The files keep the exact text; nothing is lost when a later batch breaks the pattern, because a
column stops being checked at its first misfit and stays text.

Each batch costs one DuckDB aggregate over the columns still in the running (DuckDB's own casts
decide validity, so a cast on read can never fail); after the first batch, ordinary text
columns have dropped out and the check is nearly free.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ..base.types import DECIMAL_TEXT
from ..query.options import sql_identifier as _identifier
from ..query.options import sql_literal as _literal
from ..query.shape import text_formats
from .typenames import duckdb_type

if TYPE_CHECKING:
    import duckdb

__all__ = ["SQL_TYPES", "ReaderTypes"]

#: What a value may look like for each type (ISO forms, as APIs send them). DuckDB's casts then
#: check that it is a real date/time (no 2024-02-30).
_DATE = r"\s*\d{4}-\d{1,2}-\d{1,2}\s*"
_TIME = r"\d{1,2}:\d{2}(:\d{2}(\.\d{1,6})?)?"
_SHAPES = {
    "DATE": _DATE,
    "TIMESTAMP": r"\s*\d{4}-\d{1,2}-\d{1,2}[T ]\d{1,2}:\d{2}:\d{2}(\.\d{1,6})?\s*",
    "TIMESTAMPTZ": rf"\s*\d{{4}}-\d{{1,2}}-\d{{1,2}}[T ]{_TIME}(Z|[+-]\d{{2}}(:?\d{{2}})?)\s*",
    "TIME": rf"\s*{_TIME}\s*",
    "UUID": r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
}
#: The SQL type each detected kind is cast to on read.
SQL_TYPES = {"DATE": "DATE", "TIMESTAMP": "TIMESTAMP", "TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE",
             "TIME": "TIME", "UUID": "UUID"}


@dataclass
class _Column:
    #: Kinds every non-null value seen so far fits. A TIMESTAMP column may hold plain dates too
    #: (DuckDB reads dates and timestamps mixed as TIMESTAMP).
    kinds: set[str] = field(default_factory=lambda: set(_SHAPES))
    values: int = 0


@dataclass
class _Struct:
    """A struct column's keys: how often each held a value, and its type."""

    objects: int = 0
    present: dict[str, int] = field(default_factory=dict)

    def as_map(self, final: pa.DataType, map_threshold: int, appearance_threshold: float) -> str | None:
        """The MAP value type DuckDB's ``read_json`` would have inferred, or ``None`` (a struct).

        ``final`` is the column's type at the end of the run (its keys' types widened)."""
        if not self.present or not self.objects or not pa.types.is_struct(final):
            return None
        appearance = sum(self.present.values()) / (len(self.present) * self.objects)
        many = 0 <= map_threshold < len(self.present)
        if not many and appearance >= appearance_threshold:
            return None
        names = {duckdb_type(f.type) for f in final if not pa.types.is_null(f.type)}
        if None in names:
            return None  # a value type madstream cannot name: leave the struct as it is
        return names.pop() if len(names) == 1 else "JSON"


class ReaderTypes:
    """Follows every text column of a run; :attr:`types` says which proved to be typed.

    ``options`` are the user's reader options: with ``dateformat`` / ``timestampformat``, that
    kind is recognised by DuckDB's ``strptime`` with the format instead of by the ISO form;
    ``map_inference_threshold`` and ``field_appearance_threshold`` (DuckDB's defaults: 200
    keys, 0.1) decide when a struct column of many or sparse keys reads as a ``MAP``.
    """

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        opts = dict(options or {})
        self.formats = text_formats(opts)
        self.map_threshold = int(opts.get("map_inference_threshold", 200))
        self.appearance_threshold = float(opts.get("field_appearance_threshold", 0.1))
        self._structs: dict[str, _Struct] = {}
        self._columns: dict[str, _Column] = {}
        self._dropped: set[str] = set()
        #: Columns of decimals kept as exact text, and columns that also had other text.
        self._decimals: set[str] = set()
        self._other_text: set[str] = set()
        self._con: duckdb.DuckDBPyConnection | None = None

    def observe(self, batch: pa.RecordBatch) -> None:
        """Narrow each text column's possible types by the values in ``batch``."""
        names: list[str] = []
        for f, column in zip(batch.schema, batch.columns):
            name = f.name
            if f.metadata == DECIMAL_TEXT:
                self._decimals.add(name)
                continue
            if pa.types.is_struct(column.type):
                self._observe_struct(name, column)
                continue
            if column.null_count == len(column):
                continue
            if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                self._other_text.add(name)
                if name not in self._dropped:
                    names.append(name)
            elif name not in self._dropped:  # numbers, nested values: never a typed text column
                self._drop(name)
        names = [name for name in names if self._shapes(name, batch.column(name))]
        if names:
            self._check(batch, names)

    def types(self, schema: pa.Schema) -> dict[str, str]:
        """``{column: SQL type}`` the original's reader would have given: text columns whose every
        value is of one typed kind, sparse or many-keyed structs as maps, wide decimals as DOUBLE.
        ``schema`` is the run's final schema."""
        found: dict[str, str] = {}
        for name, state in self._columns.items():
            kind = next((k for k in _SHAPES if k in state.kinds), None)
            if kind is not None and state.values and name not in self._decimals:
                found[name] = SQL_TYPES[kind]
        for name, struct in self._structs.items():
            if name not in schema.names:
                continue
            value_type = struct.as_map(schema.field(name).type, self.map_threshold, self.appearance_threshold)
            if value_type is not None:
                found[name] = f"MAP(VARCHAR, {value_type})"
        for name in self._decimals - self._other_text:
            # Numbers only (decimals, and integers or floats in other batches): the original's DOUBLE.
            found[name] = "DOUBLE"
        return found

    def close(self) -> None:
        """Release the DuckDB connection the checks use."""
        con, self._con = self._con, None
        if con is not None:
            con.close()

    # -- internals -----------------------------------------------------------------------------
    def _drop(self, name: str) -> None:
        self._dropped.add(name)
        self._columns.pop(name, None)

    def _observe_struct(self, name: str, column: pa.Array) -> None:
        struct = self._structs.setdefault(name, _Struct())
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        struct.objects += len(column) - column.null_count
        for i in range(column.type.num_fields):
            child = column.field(i)
            key = column.type.field(i).name
            struct.present[key] = struct.present.get(key, 0) + len(child) - child.null_count

    def _shapes(self, name: str, column: pa.Array) -> bool:
        """Narrow ``name``'s kinds by the form of its values alone (vectorized, off the GIL); whether
        a kind remains that DuckDB must still confirm. A UUID needs nothing more than its form."""
        import pyarrow.compute as pc  # on first use: it adds to `import madstream`

        state = self._columns.setdefault(name, _Column())
        state.values += len(column) - column.null_count
        for kind in list(state.kinds):
            if kind in self.formats or (kind == "TIMESTAMP" and "DATE" in self.formats):
                continue  # recognised by strptime with the user's format: DuckDB decides
            pattern = _SHAPES[kind] if kind != "TIMESTAMP" else f"{_SHAPES['TIMESTAMP']}|{_SHAPES['DATE']}"
            if not pc.all(pc.match_substring_regex(column, f"^(?:{pattern})$")).as_py():
                state.kinds.discard(kind)
        if not state.kinds:
            self._drop(name)
            return False
        return bool(state.kinds - {"UUID"})

    def _fits(self, kind: str, col: str) -> str:
        """SQL: the value ``col`` is of ``kind``."""
        fmt = self.formats.get(kind)
        if fmt is not None:
            test = f"TRY_STRPTIME({col}, {_literal(fmt)}) IS NOT NULL"
        else:
            test = f"(regexp_full_match({col}, {_literal(_SHAPES[kind])}) AND TRY_CAST({col} AS {SQL_TYPES[kind]}) IS NOT NULL)"
        if kind == "TIMESTAMP" and "TIMESTAMP" not in self.formats and "DATE" not in self.formats:
            test = f"({test} OR {self._fits('DATE', col)})"
        return test

    def _check(self, batch: pa.RecordBatch, names: list[str]) -> None:
        import duckdb

        if self._con is None:
            self._con = duckdb.connect()
        selects: list[str] = []
        asked: list[tuple[str, str]] = []
        for name in names:
            state = self._columns.setdefault(name, _Column())
            col = _identifier(name)
            for kind in state.kinds - {"UUID"}:
                selects.append(f"bool_and({self._fits(kind, col)}) FILTER (WHERE {col} IS NOT NULL)")
                asked.append((name, kind))
        self._con.register("batch", pa.Table.from_batches([batch.select(names)]))
        try:
            [row] = self._con.execute(f"SELECT {', '.join(selects)} FROM batch").fetchall()
        finally:
            self._con.unregister("batch")
        for (name, kind), answer in zip(asked, row):
            state = self._columns[name]
            if answer is False:
                state.kinds.discard(kind)
        for name in names:
            if not self._columns[name].kinds:  # its first misfit: never checked again
                self._drop(name)
