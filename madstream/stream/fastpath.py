"""The fast path for dict rows: JSON bytes → Arrow off the GIL, exact or not taken at all.

``RecordBatch.from_pylist`` holds the GIL through a whole page, so the extract function and the
writer wait while it runs. Here a page is encoded once with orjson (fast, under the GIL) and
parsed by Arrow's JSON reader, which releases the GIL: conversion runs on another core while the
extract keeps producing, and the same bytes are the page's JSON lines (the default fragment).

A page takes this path only when the result is provably what the direct path would give:

- The schema is the one the direct path built for the last page with the same keys, in the same
  order (:meth:`FastPath.learn`); a page with a new key, or a nested field the schema lacks, is
  refused by the reader (``unexpected_field_behavior="error"``) and goes the direct way, which
  widens. Only types the reader produces exactly are learnt: null, bool, int64, float64, string,
  lists and structs of those, and naive ``timestamp[us]`` at the top level.
- The reader refuses a JSON token of the wrong kind for a column (a number in a text column, a
  fraction in an int column, an int beyond 64 bits, ...). What it cannot see is a Python type
  that orjson writes as a token of the right kind: a ``UUID``, an ``Enum``, a ``date``, an aware
  ``datetime``, a datetime in a text column, an int in a float column, or NaN, which orjson writes
  as ``null``. So every value of the page is counted by its exact Python type (:func:`census`,
  at C speed through ``gc.get_referents``) and the counts must equal the non-null values of each
  Arrow type in the parsed batch; any other Python type sends the page the direct way. Timestamp
  columns are also checked value by value to hold naive datetimes only, which, with the counts,
  places every datetime and every string where the direct path would.
- A struct whose values are all empty objects would be nulled by the direct path (parquet cannot
  store a struct without fields); such a page goes the direct way too.
"""

from __future__ import annotations

import datetime as dt
import gc
from collections import Counter
from collections.abc import Sequence
from itertools import chain, repeat
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

import pyarrow as pa

from ..base.types import Encoded

__all__ = ["Census", "FastPath", "census"]

#: The Python types a fast page may hold, each as a one-byte code (see :func:`census`).
_CODE = {type(None): 0, bool: 1, int: 2, float: 3, str: 4, dt.datetime: 5, dict: 6, list: 7, tuple: 7}
_INT, _FLOAT, _DATETIME = b"\x02", b"\x03", b"\x05"
_TIMESTAMP = pa.timestamp("us")


class Census(NamedTuple):
    """What :func:`census` counted in a page."""

    ints: int
    floats: int
    datetimes: int


def census(rows: Sequence[dict[str, Any]], nested: Sequence[str]) -> Census | None:
    """The ints, floats and datetimes ``rows`` hold at any depth; ``None`` if any value (at any depth)
    is of a type outside ``_CODE``. ``nested``: the keys whose values may be dicts or lists (a
    container under any other key is refused by the JSON reader, whatever it holds).

    ``gc.get_referents`` of a dict with text keys is its values, of a list or tuple its items, and
    of a str, int, float or datetime nothing: one call per depth reaches every value in C. Each
    value's type becomes a byte, so counting one type is a byte count.
    """
    codes = []
    values = gc.get_referents(*rows)
    containers = gc.get_referents(*chain.from_iterable(map(dict.get, rows, repeat(k)) for k in nested))
    while True:
        try:
            codes.append(bytes(map(_CODE.__getitem__, map(type, values))))
        except KeyError:  # an unknown type: stop before walking into it
            return None
        if not containers:
            break
        values, containers = containers, gc.get_referents(*containers)
    every = b"".join(codes)
    return Census(every.count(_INT), every.count(_FLOAT), every.count(_DATETIME))


def _tally(arr: pa.Array, counts: Counter[pa.DataType]) -> bool:
    """Add the non-null values of ``arr`` (nested ones too) to ``counts`` by type; ``False`` for
    a struct whose present values carry no field at all (the direct path would null it)."""
    t = arr.type
    valid = len(arr) - arr.null_count
    counts[t] += valid
    if pa.types.is_struct(t):
        children = [arr.field(i) for i in range(t.num_fields)]
        if valid and not any(len(c) - c.null_count for c in children):
            return False
        return all(_tally(c, counts) for c in children)
    if pa.types.is_list(t):
        return _tally(arr.values, counts)
    return True


_SCALARS = (pa.null(), pa.bool_(), pa.int64(), pa.float64(), pa.string())


def _learnable(t: pa.DataType, top: bool) -> bool:
    """Whether the JSON reader gives exactly what ``from_pylist`` gives for columns of type ``t``."""
    if pa.types.is_struct(t):
        return all(_learnable(f.type, False) for f in t)
    if pa.types.is_list(t):
        return _learnable(t.value_type, False)
    return t in _SCALARS or (top and t == _TIMESTAMP)


class FastPath:
    """One run's fast conversion of dict pages (see the module docstring); call it in order."""

    def __init__(self) -> None:
        self._schema: pa.Schema | None = None
        self._keys: list[str] = []
        self._nested: list[str] = []
        self._times: list[str] = []

    def learn(self, rows: Sequence[dict[str, Any]], built: pa.RecordBatch) -> None:
        """Remember the schema ``from_pylist`` gave ``rows`` for the next pages with their keys."""
        schema = built.schema
        if all(_learnable(f.type, True) for f in schema) and schema.names == list(rows[0]):
            self._schema, self._keys = schema, schema.names
            self._nested = [f.name for f in schema if pa.types.is_nested(f.type)]
            self._times = [f.name for f in schema if f.type == _TIMESTAMP]
        else:
            self._schema = None

    def takes(self, rows: Sequence[dict[str, Any]]) -> bool:
        """Whether ``rows`` may take the fast path: a schema is learnt for their keys, and no row
        has a key the first lacks (checked first, as it is cheap)."""
        return (
            self._schema is not None and list(rows[0]) == self._keys
            and len(set().union(*rows)) == len(self._keys)
        )

    def convert(self, rows: Sequence[dict[str, Any]], lines: Encoded | None) -> pa.RecordBatch | None:
        """``rows`` as the batch the direct path would build, parsed from ``lines`` (their JSON
        lines); ``None`` when this page cannot be shown to convert exactly. Call it only for
        rows it :meth:`takes`."""
        schema = self._schema
        if schema is None or lines is None:
            return None
        counted = census(rows, self._nested)
        if counted is None or not all(_naive_times(rows, k) for k in self._times):
            return None
        parsed = _parse(lines, schema)
        if parsed is None or parsed.num_rows != len(rows):
            return None
        found: Counter[pa.DataType] = Counter()
        if not all(_tally(c, found) for c in parsed.columns):
            return None
        # The reader takes an int into a float column and a datetime's text into a text column,
        # and orjson writes NaN as null: each makes one of these differ (the timestamp columns
        # hold nothing but datetimes, checked above).
        if (found[pa.int64()], found[pa.float64()], found[_TIMESTAMP]) != counted:
            return None
        return parsed


def _naive_times(rows: Sequence[dict[str, Any]], key: str) -> bool:
    """Whether every value under ``key`` is a naive ``datetime`` (or ``None``)."""
    try:
        values = list(map(itemgetter(key), rows))
    except KeyError:
        values = [r.get(key) for r in rows]
    if not set(map(type, values)) <= {dt.datetime, type(None)}:
        return False
    return set(map(attrgetter("tzinfo"), filter(None, values))) <= {None}


def _parse(lines: Encoded, schema: pa.Schema) -> pa.RecordBatch | None:
    """``lines`` read under ``schema`` by Arrow's JSON reader (which releases the GIL); ``None``
    if the reader refuses them."""
    import pyarrow.json as pj

    size = len(lines)
    # One block holds the page, so the table comes back in one chunk, ready as one batch; the
    # pages themselves are what runs in parallel with the extract and the writer.
    read = pj.ReadOptions(use_threads=False, block_size=max(size + 1, 1 << 16))
    parse = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error")
    try:
        table = pj.read_json(pa.BufferReader(lines), read_options=read, parse_options=parse)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    batches = table.to_batches()
    return batches[0] if len(batches) == 1 else None
