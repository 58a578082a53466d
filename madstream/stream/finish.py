"""Finishing a batch: the last normalize step, shared by every kind of input.

Column names get one rule for the whole run (:class:`ColumnNames`), decimals wider than DuckDB
can read are fitted or kept as exact text, and empty structs (``{}``, which parquet cannot store)
become nulls. A batch leaves here ready for any writer.
"""


from __future__ import annotations

import decimal
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from ..base.errors import BatchError
from ..base.types import DECIMAL_TEXT

__all__ = ["ColumnNames", "finish", "fix_empty_structs"]


# -- finishing a batch ------------------------------------------------------------------------

def finish(records: pa.RecordBatch, names: ColumnNames, *, asset: str, batch: int | None = None) -> pa.RecordBatch:
    """``records`` in the form every result format stores and DuckDB reads back.

    - An empty struct (``{}``) becomes null: parquet cannot store a struct without fields.
    - A union column raises :class:`BatchError`: no result format stores one.
    - A decimal column fits ``DECIMAL(p, s)`` with ``p ≤ 38`` when the values seen need no
      more digits (``p`` and ``s`` as small as the values allow), else it holds each value's
      exact text (``large_string``, plain notation, trailing zeros dropped). Wider decimals
      (``decimal256``) are what DuckDB, polars and parquet readers cannot all take.
    - Column and struct field names follow ``names`` (see :class:`ColumnNames`).

    Returns ``records`` itself when nothing had to change; ``batch`` is its number, for errors.
    """
    if names.clean(records.schema):
        return records
    records = fix_empty_structs(records)
    for f in records.schema:
        if _has(f.type, pa.types.is_union):
            raise BatchError(
                f"has an Arrow union type ({f.type}), which no result format stores",
                asset=asset, batch=batch, column=f.name,
                hint="cast the column to one type, or to text, before yielding it",
            )
    if any(_has(f.type, _is_wide_decimal) for f in records.schema):
        cols = [_fit_decimals(c) if _has(c.type, _is_wide_decimal) else c for c in records.columns]
        # A column kept as text is marked, so readers can give it the original's type (a float).
        fields = [
            pa.field(f.name, c.type, f.nullable, DECIMAL_TEXT if _is_wide_decimal(f.type) and c.type == pa.large_string() else f.metadata)
            for f, c in zip(records.schema, cols)
        ]
        records = pa.RecordBatch.from_arrays(cols, schema=pa.schema(fields, metadata=records.schema.metadata))
        for f in records.schema:
            if _has(f.type, _is_wide_decimal):  # inside a map or fixed-size list: not rebuilt here
                raise BatchError(
                    f"has decimals wider than 38 digits inside a {f.type} column, which DuckDB cannot read",
                    asset=asset, batch=batch, column=f.name,
                    hint="cast them to decimal128 or to text before yielding them",
                )
    return names.apply(records)


def _has(t: pa.DataType, test: Any) -> bool:
    """Whether ``t`` or any type nested in it passes ``test``."""
    if test(t):
        return True
    if pa.types.is_dictionary(t):
        return _has(t.value_type, test)
    return any(_has(t.field(i).type, test) for i in range(t.num_fields))


def _is_wide_decimal(t: pa.DataType) -> bool:
    return pa.types.is_decimal(t) and not pa.types.is_decimal128(t)


def _fit_decimals(arr: pa.Array) -> pa.Array:
    t = arr.type
    if pa.types.is_struct(t):
        children = [_fit_decimals(c) for c in arr.flatten()]
        return pa.StructArray.from_arrays(children, names=[f.name for f in t], mask=arr.is_null())
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        cls = pa.LargeListArray if pa.types.is_large_list(t) else pa.ListArray
        return cls.from_arrays(arr.offsets, _fit_decimals(arr.values), mask=arr.is_null())
    if not _is_wide_decimal(t):
        return arr
    if t.precision <= 38:  # decimal32/64, or a decimal256 of few digits: fits decimal128 as it is
        return arr.cast(pa.decimal128(t.precision, t.scale))
    values = [None if v is None else _shortest(v) for v in arr.to_pylist()]
    integer_digits = scale = 0
    for v in values:
        if v is not None:
            _, digits, exponent = v.as_tuple()
            assert isinstance(exponent, int)  # an Arrow decimal is finite
            scale = max(scale, -exponent)
            integer_digits = max(integer_digits, len(digits) + exponent)
    if integer_digits + scale <= 38:
        return pa.array(values, type=pa.decimal128(max(integer_digits + scale, 1), scale))
    return pa.array([None if v is None else format(v, "f") for v in values], type=pa.large_string())


def _shortest(value: decimal.Decimal) -> decimal.Decimal:
    """``value`` without trailing zeros after the point (exactly: no context rounds it)."""
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    kept = list(digits)
    while exponent < 0 and len(kept) > 1 and kept[-1] == 0:
        kept.pop()
        exponent += 1
    if kept == [0]:
        exponent = 0
    return decimal.Decimal((sign, tuple(kept), exponent))


# -- column names -----------------------------------------------------------------------------

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _fold(name: str) -> str:
    """``name`` as DuckDB compares identifiers: ASCII letters without case (``É`` ≠ ``é``)."""
    return name.translate(_ASCII_LOWER)


class _Scope:
    """The names given among the columns of a batch, or the fields of one struct column."""

    __slots__ = ("given", "taken")

    def __init__(self) -> None:
        #: (source name, its occurrence in a batch) → the name given.
        self.given: dict[tuple[str, int], str] = {}
        self.taken: set[str] = set()

    def assign(self, names: Sequence[str]) -> list[str]:
        seen: dict[str, int] = {}
        keys = []
        for n in names:
            keys.append((n, seen.get(n, 0)))
            seen[n] = keys[-1][1] + 1
        # New names that clash with nothing keep themselves first, so a name the user chose is
        # never taken by a suffix made for another column of the same batch.
        for n, k in keys:
            if (n, k) not in self.given and n and k == 0 and _fold(n) not in self.taken:
                self.given[n, k] = n
                self.taken.add(_fold(n))
        out = []
        for position, (n, k) in enumerate(keys, start=1):
            name = self.given.get((n, k))
            if name is None:
                base = n or f"column_{position}"
                name, suffix = base, 0
                while _fold(name) in self.taken:
                    suffix += 1
                    name = f"{base}_{suffix}"
                self.given[n, k] = name
                self.taken.add(_fold(name))
            out.append(name)
        return out


class ColumnNames:
    """The column names of one run, the same in every batch and file of it.

    DuckDB compares names ignoring ASCII case and cannot name a column (or struct field) with
    the empty string, so the run's names are made unique on those terms, in order of
    appearance (batches in order, columns left to right):

    - the first column with a name keeps it;
    - a later column whose name differs from an earlier one only in ASCII case (or equals it)
      is renamed ``<name>_1``, or ``_2``, ... : the first suffix no column has yet;
    - an empty name becomes ``column_<n>``, ``n`` the column's 1-based position in the batch
      it first appears in (suffixed the same way if taken);
    - the fields of each struct (in lists too) follow the same rules among themselves.

    A name once given holds for the rest of the run.
    """

    def __init__(self) -> None:
        self._scopes: dict[tuple[str, ...], _Scope] = {}
        #: schema → (renamed schema or None if unchanged, whether other fixes are needed).
        self._known: dict[pa.Schema, tuple[pa.Schema | None, bool]] = {}
        #: The last schema looked up, and what is known of it: consecutive batches nearly always
        #: share one, and comparing schemas costs far less than hashing one (~0.5 µs against
        #: ~250 µs at 300 columns).
        self._last: tuple[pa.Schema, tuple[pa.Schema | None, bool]] | None = None

    def _lookup(self, schema: pa.Schema) -> tuple[pa.Schema | None, bool]:
        if self._last is not None and self._last[0].equals(schema, check_metadata=True):
            return self._last[1]
        known = self._known.get(schema)
        if known is None:
            if len(self._known) >= 256:
                self._known.clear()
            fixes = any(
                _has(f.type, lambda t: pa.types.is_union(t) or _is_wide_decimal(t) or _is_empty_struct(t))
                for f in schema
            )
            known = self._known[schema] = (self._rename(schema), fixes)
        self._last = (schema, known)
        return known

    def clean(self, schema: pa.Schema) -> bool:
        """Whether a batch of ``schema`` is already finished (see :func:`finish`)."""
        renamed, fixes = self._lookup(schema)
        return renamed is None and not fixes

    def apply(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """``batch`` under the run's names (no data is copied)."""
        renamed = self._lookup(batch.schema)[0]
        if renamed is None:
            return batch
        columns = [c if c.type.equals(f.type) else c.view(f.type) for c, f in zip(batch.columns, renamed)]
        return pa.RecordBatch.from_arrays(columns, schema=renamed)

    def _scope(self, path: tuple[str, ...]) -> _Scope:
        scope = self._scopes.get(path)
        if scope is None:
            scope = self._scopes[path] = _Scope()
        return scope

    def _rename(self, schema: pa.Schema) -> pa.Schema | None:
        given = self._scope(()).assign(schema.names)
        types = [self._type(f.type, (n,)) for f, n in zip(schema, given)]
        if given == schema.names and all(t is None for t in types):
            return None
        return pa.schema(
            [pa.field(n, f.type if t is None else t, f.nullable, f.metadata) for f, n, t in zip(schema, given, types)],
            metadata=schema.metadata,
        )

    def _type(self, t: pa.DataType, path: tuple[str, ...]) -> pa.DataType | None:
        """``t`` with its struct fields renamed; ``None`` if no field is."""
        if pa.types.is_struct(t) and t.num_fields:
            fields = list(t)
            given = self._scope(path).assign([f.name for f in fields])
            types = [self._type(f.type, (*path, n)) for f, n in zip(fields, given)]
            if given == [f.name for f in fields] and all(a is None for a in types):
                return None
            return pa.struct([
                f.with_name(n).with_type(f.type if a is None else a) for f, n, a in zip(fields, given, types)
            ])
        if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
            item = self._type(t.value_type, path)
            if item is None:
                return None
            field = t.value_field.with_type(item)
            if pa.types.is_large_list(t):
                return pa.large_list(field)
            return pa.list_(field, t.list_size) if pa.types.is_fixed_size_list(t) else pa.list_(field)
        return None


# -- empty structs ----------------------------------------------------------------------------
# `{}` infers as struct<>, which parquet cannot store. An empty object carries no values, so it
# becomes null; a later batch with fields simply widens the null to a struct.

def _is_empty_struct(t: pa.DataType) -> bool:
    return pa.types.is_struct(t) and t.num_fields == 0


def _has_empty_struct(t: pa.DataType) -> bool:
    if pa.types.is_struct(t):
        return t.num_fields == 0 or any(_has_empty_struct(f.type) for f in t)
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _has_empty_struct(t.value_type)
    return False


def _strip(arr: pa.Array) -> pa.Array:
    t = arr.type
    if pa.types.is_struct(t):
        if t.num_fields == 0:
            return pa.nulls(len(arr))
        children = [_strip(c) for c in arr.flatten()]
        return pa.StructArray.from_arrays(children, names=[f.name for f in t], mask=arr.is_null())
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        cls = pa.LargeListArray if pa.types.is_large_list(t) else pa.ListArray
        return cls.from_arrays(arr.offsets, _strip(arr.values), mask=arr.is_null())
    return arr


def fix_empty_structs(batch: pa.RecordBatch) -> pa.RecordBatch:
    if not any(_has_empty_struct(f.type) for f in batch.schema):
        return batch
    cols = [_strip(c) if _has_empty_struct(c.type) else c for c in batch.columns]
    return pa.RecordBatch.from_arrays(cols, names=batch.schema.names)
