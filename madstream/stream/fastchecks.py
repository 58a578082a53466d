"""The checks that make a fast-path page (:mod:`.fastpath`) exactly what the direct path builds.

Each answers one way JSON could carry a value differently from ``from_pylist``; most run on the
parsed Arrow batch, where they cost little, and touch the Python rows only where a null is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from itertools import compress, repeat
from operator import attrgetter
from typing import Any

import pyarrow as pa

__all__ = ["exact_floats", "naive_times", "no_datetime_text", "no_empty_structs", "nulls_are_none"]

#: Every int of a smaller magnitude is exactly a float64 (and no larger one rounds to below it).
_EXACT_INTS = float(2**53)
#: How orjson starts a datetime's text (``YYYY-MM-DDTHH:MM:SS``).
_DATETIME_TEXT = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"


def naive_times(rows: Sequence[dict[str, Any]], key: str) -> bool:
    """Whether every value under ``key`` is a naive ``datetime`` or ``None``: the reader would
    take a text, a ``date``'s text or an aware datetime's offset into a naive timestamp column."""
    values = list(map(dict.get, rows, repeat(key)))
    if not set(map(type, values)) <= {dt.datetime, type(None)}:
        return False
    return set(map(attrgetter("tzinfo"), filter(None, values))) <= {None}


def no_empty_structs(batch: pa.RecordBatch) -> bool:
    """Whether no struct column (at any depth) holds values with no field at all, as only empty
    objects give: the direct path infers ``struct<>`` for them and nulls it."""

    def ok(arr: pa.Array) -> bool:
        t = arr.type
        if pa.types.is_struct(t):
            children = [arr.field(i) for i in range(t.num_fields)]
            if len(arr) > arr.null_count and all(len(c) == c.null_count for c in children):
                return False
            return all(ok(c) for c in children)
        if pa.types.is_list(t):
            return ok(arr.values)
        return True

    return all(ok(c) for c in batch.columns)


def _has_nulls(arr: pa.Array) -> bool:
    t = arr.type
    if arr.null_count:
        return True
    if pa.types.is_struct(t):
        return any(_has_nulls(arr.field(i)) for i in range(t.num_fields))
    if pa.types.is_list(t):
        return _has_nulls(arr.values)
    return False


def _nulls_match(arr: pa.Array, source: list[Any]) -> bool:
    """Whether ``source`` (the Python values of ``arr``'s slots, ``None`` where missing) holds
    ``None`` wherever ``arr`` holds a null, nested values included."""
    if arr.null_count and not set(compress(source, arr.is_null().to_pylist())) <= {None}:
        return False
    t = arr.type
    if pa.types.is_struct(t):
        for i, f in enumerate(t):
            child = arr.field(i)
            if _has_nulls(child):
                values = [v.get(f.name) if type(v) is dict else None for v in source]
                if not _nulls_match(child, values):
                    return False
    elif pa.types.is_list(t) and _has_nulls(arr.values):
        # A null list has no items in the parsed array, so the items of the others line up.
        items = [item for v in source if v is not None for item in v]
        return _nulls_match(arr.values, items)
    return True


def nulls_are_none(batch: pa.RecordBatch, rows: Sequence[dict[str, Any]]) -> bool:
    """Whether every null in ``batch`` stands for ``None`` or a missing key in ``rows`` (orjson
    writes NaN and infinities as ``null``, which the direct path keeps as floats)."""
    for name, col in zip(batch.schema.names, batch.columns):
        if _has_nulls(col) and not _nulls_match(col, list(map(dict.get, rows, repeat(name)))):
            return False
    return True


def no_datetime_text(batch: pa.RecordBatch, times: Sequence[str]) -> bool:
    """Whether no top-level text column holds a datetime's text: a datetime in a text column
    reads back as text from JSON, but the direct path would type or print it otherwise. (Below
    the top level a page with a datetime never takes the fast path.)"""
    import pyarrow.compute as pc

    for name, col in zip(batch.schema.names, batch.columns):
        if col.type == pa.string() and name not in times and col.null_count < len(col):
            if pc.any(pc.match_substring_regex(col, _DATETIME_TEXT)).as_py():
                return False
    return True


def exact_floats(batch: pa.RecordBatch) -> bool:
    """Whether every float column (at any depth) holds only values an int read into it keeps
    exactly: the direct path types an int page as int64, and widening to float64 refuses an int
    beyond 2**53, where the reader would round it."""
    import pyarrow.compute as pc

    def ok(arr: pa.Array) -> bool:
        t = arr.type
        if pa.types.is_floating(t):
            biggest = pc.max(pc.abs(arr)).as_py()
            return biggest is None or biggest < _EXACT_INTS  # 2**53 + 1 reads as 2**53
        if pa.types.is_struct(t):
            return all(ok(arr.field(i)) for i in range(t.num_fields))
        if pa.types.is_list(t):
            return ok(arr.values)
        return True

    return all(ok(c) for c in batch.columns)
