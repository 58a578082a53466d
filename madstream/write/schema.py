"""Schema evolution across an asset's batches, without losing data.

Rules, applied field by field: equal types stay; ``null`` takes the other type; integers widen
to an integer that holds both ranges (signed with unsigned: twice the unsigned width, and
``decimal128(20, 0)`` for uint64 with a signed type), integers with decimals to a decimal with
room for both, and numbers with floats to ``float64``; string kinds become large string and
binary kinds large binary; structs take the union of their fields (recursively); lists unify
their items; timestamps take the finer unit. Anything else that cannot widen (int vs text,
struct vs text) becomes text, and every value is kept as its text (nested values as JSON).
A value that still cannot be stored in the unified type raises :class:`~madstream.SchemaError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
import pyarrow as pa

from ..base.errors import SchemaError

__all__ = ["SchemaTracker", "conform", "unify_schemas", "unify_types"]

_TEXT = pa.large_string()
_UNITS = {"s": 0, "ms": 1, "us": 2, "ns": 3}


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def unify_types(a: pa.DataType, b: pa.DataType) -> pa.DataType:
    """The narrowest type that holds every value of ``a`` and of ``b`` (text as a last resort)."""
    if a.equals(b):
        return a
    if pa.types.is_null(a):
        return b
    if pa.types.is_null(b):
        return a
    if _is_text(a) and _is_text(b):
        return _TEXT
    if _is_binary(a) and _is_binary(b):
        return pa.large_binary()
    if pa.types.is_integer(a) and pa.types.is_integer(b):
        return _unify_integers(a, b)
    if pa.types.is_decimal(a) and pa.types.is_integer(b) or pa.types.is_integer(a) and pa.types.is_decimal(b):
        dec, num = (a, b) if pa.types.is_decimal(a) else (b, a)
        return _decimal(max(dec.precision - dec.scale, _DIGITS[num]), dec.scale)
    if pa.types.is_decimal(a) and pa.types.is_decimal(b):
        scale = max(a.scale, b.scale)
        return _decimal(max(a.precision - a.scale, b.precision - b.scale), scale)
    if _is_number(a) and _is_number(b):
        return pa.float64()
    if pa.types.is_struct(a) and pa.types.is_struct(b):
        merged: dict[str, pa.DataType] = {f.name: f.type for f in a}
        for f in b:
            merged[f.name] = unify_types(merged[f.name], f.type) if f.name in merged else f.type
        return pa.struct([pa.field(n, t) for n, t in merged.items()])
    if _is_list(a) and _is_list(b):
        item = unify_types(a.value_type, b.value_type)
        large = pa.types.is_large_list(a) or pa.types.is_large_list(b)
        return pa.large_list(item) if large else pa.list_(item)
    if pa.types.is_timestamp(a) and pa.types.is_timestamp(b) and a.tz == b.tz:
        return a if _UNITS[a.unit] >= _UNITS[b.unit] else b
    return _TEXT


#: Decimal digits of the largest value of each integer type.
_DIGITS = {
    pa.int8(): 3, pa.int16(): 5, pa.int32(): 10, pa.int64(): 19,
    pa.uint8(): 3, pa.uint16(): 5, pa.uint32(): 10, pa.uint64(): 20,
}


def _unify_integers(a: pa.DataType, b: pa.DataType) -> pa.DataType:
    if pa.types.is_signed_integer(a) == pa.types.is_signed_integer(b):
        return a if a.bit_width >= b.bit_width else b
    signed, unsigned = (a, b) if pa.types.is_signed_integer(a) else (b, a)
    bits = max(signed.bit_width, 2 * unsigned.bit_width)
    if bits <= 64:
        return pa.int16() if bits == 16 else pa.int32() if bits == 32 else pa.int64()
    return pa.decimal128(20, 0)  # every uint64 and every int64 value


def _decimal(integer_digits: int, scale: int) -> pa.DataType:
    """A decimal with ``integer_digits`` before the point and ``scale`` after (text past 38 digits)."""
    precision = integer_digits + scale
    return pa.decimal128(precision, scale) if precision <= 38 else _TEXT


def _is_number(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def _is_binary(t: pa.DataType) -> bool:
    return pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t)


def _is_list(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t)


def unify_schemas(a: pa.Schema, b: pa.Schema) -> pa.Schema:
    """Union of the columns of ``a`` and ``b`` (``a``'s order first), types unified."""
    fields: dict[str, pa.DataType] = {f.name: f.type for f in a}
    for f in b:
        fields[f.name] = unify_types(fields[f.name], f.type) if f.name in fields else f.type
    return pa.schema([pa.field(n, t) for n, t in fields.items()])


def _as_text(arr: pa.Array) -> pa.Array:
    """Every value of ``arr`` as text; nested values become JSON."""
    t = arr.type
    if _is_text(t):
        return arr.cast(_TEXT)
    nested = pa.types.is_nested(t) or pa.types.is_dictionary(t)
    if not nested:
        import pyarrow.compute as pc  # only on a type conflict; costs ~3k objects at import

        try:
            return pc.cast(arr, _TEXT)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    values = arr.to_pylist()
    return pa.array(
        [None if v is None else orjson.dumps(v, default=str).decode() for v in values], type=_TEXT
    )


def _cast(arr: pa.Array, target: pa.DataType) -> pa.Array:
    if arr.type.equals(target):
        return arr
    if arr.null_count == len(arr):  # nothing to convert (e.g. a CSV column that was all empty)
        return pa.nulls(len(arr), target)
    if _is_text(target) and not _is_text(arr.type):
        return _as_text(arr)
    if pa.types.is_struct(target) and pa.types.is_struct(arr.type):
        # Rebuild field by field so nested conflicts get the same treatment as top-level ones.
        flat = arr.flatten()  # children with the parent's offset and nulls applied
        children = []
        for f in target:
            idx = arr.type.get_field_index(f.name)
            child = flat[idx] if idx >= 0 else pa.nulls(len(arr), f.type)
            children.append(_cast(child, f.type))
        return pa.StructArray.from_arrays(children, fields=list(target), mask=arr.is_null())
    if _is_list(target) and _is_list(arr.type) and _is_text(target.value_type) and not _is_text(arr.type.value_type):
        flat = _as_text(arr.flatten())
        offsets = arr.offsets
        if offsets[0].as_py():  # a sliced array: flatten() starts at its first value, so must the offsets
            import pyarrow.compute as pc

            offsets = pc.subtract(offsets, offsets[0])
        cls = pa.LargeListArray if pa.types.is_large_list(target) else pa.ListArray
        return cls.from_arrays(offsets.cast(pa.int64() if cls is pa.LargeListArray else pa.int32()), flat, mask=arr.is_null())
    return arr.cast(target)


def conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` with exactly the columns and types of ``schema`` (missing columns are null).

    Raises:
        SchemaError: a column's values cannot be stored in its type in ``schema``.
    """
    if batch.schema.equals(schema):
        return batch
    columns = []
    for f in schema:
        idx = batch.schema.get_field_index(f.name)
        col = batch.column(idx) if idx >= 0 else pa.nulls(batch.num_rows, f.type)
        try:
            columns.append(_cast(col, f.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise SchemaError(
                f"values of type {col.type} cannot be stored in the column's type {f.type}",
                column=f.name,
                hint="yield one type per column (or cast it in the extract function)",
            ) from exc
    return pa.RecordBatch.from_arrays(columns, schema=schema)


@dataclass
class SchemaTracker:
    """The evolving schema of one stream of batches."""

    schema: pa.Schema | None = None
    changes: list[str] = field(default_factory=list)

    def observe(self, batch: pa.RecordBatch) -> tuple[pa.RecordBatch, bool]:
        """Conform ``batch`` to the running schema; report whether the schema had to change."""
        if self.schema is None:
            self.schema = batch.schema
            return batch, False
        if batch.schema.equals(self.schema):
            return batch, False
        unified = unify_schemas(self.schema, batch.schema)
        changed = not unified.equals(self.schema)
        if changed:
            self.changes.extend(_describe(self.schema, unified))
            self.schema = unified
        return conform(batch, unified), changed


def _describe(old: pa.Schema, new: pa.Schema) -> list[str]:
    out = []
    for f in new:
        idx = old.get_field_index(f.name)
        if idx < 0:
            out.append(f"new column `{f.name}` {f.type}")
        elif not old.field(idx).type.equals(f.type):
            out.append(f"column `{f.name}` {old.field(idx).type} -> {f.type}")
    return out
