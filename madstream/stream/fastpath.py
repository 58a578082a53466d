"""The fast path for dict rows: JSON bytes → Arrow off the GIL, exact or not taken at all.

``RecordBatch.from_pylist`` holds the GIL through a whole page, so the extract function and the
writer wait while it runs. Here a page is encoded once with orjson (fast, under the GIL) and
parsed by Arrow's JSON reader, which releases the GIL: conversion runs on another core while the
extract keeps producing, and the same bytes are the page's JSON lines (the default fragment).

It is opt-in (``MADSTREAM_FAST_PATH=1``) and serves only pages whose JSON lines are wanted
anyway: parsing JSON costs Arrow about what ``from_pylist`` costs, and encoding plus the checks
below hold the GIL for ~70 % of the direct path's time, so a page costs ~1.3x the CPU. That buys
wall time only with a core to spare (benches/README.md has the figures).

A page takes this path only when the result is provably what the direct path would give:

- The schema is the one the direct path built for the last page with the same keys, in the same
  order (:meth:`FastPath.learn`); a page with a new key, or a nested field the schema lacks, is
  refused by the reader (``unexpected_field_behavior="error"``) and goes the direct way, which
  widens. Only types the reader produces exactly are learnt: null, bool, int64, float64, string,
  lists and structs of those, and naive ``timestamp[us]`` at the top level.
- The reader refuses a JSON token of the wrong kind for a column (a number in a text column, a
  fraction in an int column, an int beyond 64 bits, ...). What it cannot see is a Python type
  that orjson writes as a token of the right kind (a ``UUID``, an ``Enum``, a ``date``, a
  dataclass, ...), so the Python types of every value at every depth are collected
  (:func:`census`, in C through ``gc.get_referents``) and any type but str, int, float, bool,
  None, dict, list, tuple and (at the top level only) datetime sends the page the direct way.
- What remains is checked on the parsed batch (:mod:`.fastchecks`): timestamp columns hold
  naive datetimes only; no text column holds a datetime's text; a null stands for ``None`` or a
  missing key, not NaN or an infinity (orjson writes those as ``null``); an int read into a
  float column is exact; and no struct is made of empty objects only (the direct path nulls it).
"""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Sequence
from itertools import chain, repeat
from typing import Any

import pyarrow as pa

from ..base.types import Encoded
from .fastchecks import exact_floats, naive_times, no_datetime_text, no_empty_structs, nulls_are_none

__all__ = ["FastPath", "Plan", "census"]

#: The Python types a fast page may hold at the top level, and below it.
_TOP = frozenset({str, int, float, bool, type(None), dict, list, tuple, dt.datetime})
_BELOW = _TOP - {dt.datetime}
_TIMESTAMP = pa.timestamp("us")
_SCALARS = (pa.null(), pa.bool_(), pa.int64(), pa.float64(), pa.string())


def census(rows: Sequence[dict[str, Any]], nested: Sequence[str]) -> set[type] | None:
    """The Python types of the values in ``rows`` at every depth; ``None`` as soon as one is not
    in the fast path's set. ``nested``: the keys whose values may be dicts or lists (a container
    under any other key is refused by the JSON reader, whatever it holds).

    ``gc.get_referents`` of a dict with text keys is its values, of a list or tuple its items, and
    of a str, int, float or datetime nothing: one call per depth reaches every value in C.
    """
    types = set(map(type, gc.get_referents(*rows)))
    if not types <= _TOP:
        return None
    level = gc.get_referents(*chain.from_iterable(map(dict.get, rows, repeat(k)) for k in nested))
    while level:
        below = set(map(type, level))
        if not below <= _BELOW:  # stop before walking into an unknown object
            return None
        types |= below
        level = gc.get_referents(*level)
    return types


def _learnable(t: pa.DataType, top: bool) -> bool:
    """Whether the JSON reader gives exactly what ``from_pylist`` gives for columns of type ``t``."""
    if pa.types.is_struct(t):
        return all(_learnable(f.type, False) for f in t)
    if pa.types.is_list(t):
        return _learnable(t.value_type, False)
    return t in _SCALARS or (top and t == _TIMESTAMP)


class Plan:
    """What one learnt schema needs for the fast path; immutable, so the encode stage may use
    one while the convert stage learns the next."""

    __slots__ = ("keys", "nested", "schema", "times")

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self.keys = schema.names
        self.nested = [f.name for f in schema if pa.types.is_nested(f.type)]
        self.times = [f.name for f in schema if f.type == _TIMESTAMP]

    def takes(self, rows: Sequence[dict[str, Any]]) -> bool:
        """Whether ``rows`` have this plan's keys, in order, and no row has a key the first lacks."""
        return list(rows[0]) == self.keys and len(set().union(*rows)) == len(self.keys)

    def check(self, rows: Sequence[dict[str, Any]]) -> set[type] | None:
        """The Python types in ``rows`` (see :func:`census`), or ``None`` if they cannot take the
        fast path; holds the GIL throughout, as the JSON encoding does."""
        types = census(rows, self.nested)
        if types is None or not all(naive_times(rows, k) for k in self.times):
            return None
        return types

    def convert(self, rows: Sequence[dict[str, Any]], lines: Encoded, types: set[type]) -> pa.RecordBatch | None:
        """``rows`` as the batch the direct path would build, parsed from ``lines`` (their JSON
        lines; ``types`` from :meth:`check`); ``None`` when it cannot be shown to be exact."""
        parsed = _parse(lines, self.schema)
        if parsed is None or parsed.num_rows != len(rows) or not no_empty_structs(parsed):
            return None
        if float in types and not nulls_are_none(parsed, rows):  # orjson writes NaN as null
            return None
        if dt.datetime in types and not no_datetime_text(parsed, self.times):
            return None
        if int in types and not exact_floats(parsed):
            return None
        return parsed


class FastPath:
    """One run's fast conversion of dict pages (see the module docstring).

    :attr:`plan` is read in page order by the stage that encodes pages, and replaced by
    :meth:`learn` in page order by the stage that converts them, which may be a page or two
    behind: a plan learnt from any earlier page is as exact as the newest, only likelier to be
    refused.
    """

    def __init__(self) -> None:
        self.plan: Plan | None = None
        #: Pages converted here, and pages offered that went the direct way.
        self.taken = self.refused = 0

    def learn(self, rows: Sequence[dict[str, Any]], built: pa.RecordBatch) -> None:
        """Remember the schema ``from_pylist`` gave ``rows`` for the next pages with their keys."""
        schema = built.schema
        if all(_learnable(f.type, True) for f in schema) and schema.names == list(rows[0]):
            self.plan = Plan(schema)
        else:
            self.plan = None

    def convert(self, rows: Sequence[dict[str, Any]], lines: Encoded | None) -> pa.RecordBatch | None:
        """Both stages at once, for rows that may take the fast path."""
        plan = self.plan
        types = plan.check(rows) if plan is not None and lines is not None and plan.takes(rows) else None
        converted = None if types is None or plan is None or lines is None else plan.convert(rows, lines, types)
        self.count(converted is not None)
        return converted

    def count(self, taken: bool) -> None:
        if taken:
            self.taken += 1
        else:
            self.refused += 1


def _parse(lines: Encoded, schema: pa.Schema) -> pa.RecordBatch | None:
    """``lines`` read under ``schema`` by Arrow's JSON reader (which releases the GIL); ``None``
    if the reader refuses them."""
    import pyarrow.json as pj

    # One block holds the page, so the table comes back in one chunk, ready as one batch; the
    # pages themselves are what runs in parallel with the extract and the writer.
    read = pj.ReadOptions(use_threads=False, block_size=max(len(lines) + 1, 1 << 16))
    parse = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error")
    try:
        table = pj.read_json(pa.BufferReader(lines), read_options=read, parse_options=parse)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    batches = table.to_batches()
    return batches[0] if len(batches) == 1 else None
