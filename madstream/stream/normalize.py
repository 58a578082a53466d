"""Normalize: any batch an extract function produces → ``pyarrow.RecordBatch``.

Accepted: a list (or tuple) of dicts, dataclasses or pydantic models; a single dict, dataclass
or pydantic model (one row); pandas and polars frames; pyarrow tables and record batches; an
``httpx.Response`` (its JSON body). DuckDB relations, assets and artifacts are expanded earlier,
by the source stage, because they stream. pandas, polars and httpx are recognised by module
name so that none of them is imported just to check a type.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from itertools import chain
from typing import Any, NamedTuple

import orjson
import pyarrow as pa

from ..base.errors import BatchError
from ..base.types import Encoded

__all__ = ["Page", "normalize", "to_batches", "rows_to_batch"]

_ACCEPTED = "yield dicts (or lists of them), dataclasses, pydantic models, pandas/polars frames or Arrow data"


def _module(obj: object) -> str:
    return type(obj).__module__.split(".", 1)[0]


class Page(NamedTuple):
    """One normalized record batch, with its rows as JSON lines when those came cheaply."""

    batch: pa.RecordBatch
    #: The same rows as JSON lines, encoded from the source values; ``None`` when not asked for
    #: or when the source values cannot be encoded faithfully (the writer encodes the batch).
    json: Encoded | None = None


def normalize(obj: object, *, asset: str, batch: int, json_lines: bool = False) -> list[Page]:
    """The non-empty pages in ``obj``; with ``json_lines``, plain dict rows also come as JSON.

    Dict rows are the common case, and orjson writes them at ~3x the speed of any encoder
    working from Arrow, in the thread that already holds them. The JSON of the values is used
    only where it reads back as exactly the batch under its recorded column types: the batch
    was built from the values as they are (no column kept as text, no empty object nulled),
    and each time column prints one way (orjson drops a zero fraction of a second, which would
    mix two formats in a column and defeat readers that detect timestamps).
    """
    if json_lines and isinstance(obj, (list, tuple)) and obj and all(type(r) is dict for r in obj):
        built, exact = _build(obj)
        if not built.num_rows:
            return []
        exact = exact and all(_one_time_format(c) for c in built.columns)
        return [Page(built, _json_lines(obj) if exact else None)]
    return [Page(b) for b in to_batches(obj, asset=asset, batch=batch)]


def _one_time_format(arr: pa.Array) -> bool:
    """Whether orjson prints every time value in ``arr`` (nested ones too) in one format."""
    t = arr.type
    if pa.types.is_timestamp(t) or pa.types.is_time(t):
        import pyarrow.compute as pc  # ~25 ms to import: only runs that have times need it

        fraction = pc.subsecond(arr)
        return not (pc.any(pc.equal(fraction, 0)).as_py() and pc.any(pc.not_equal(fraction, 0)).as_py())
    if pa.types.is_struct(t):
        return all(_one_time_format(c) for c in arr.flatten())
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _one_time_format(arr.values)
    return True


def _json_lines(rows: Sequence[dict[str, Any]]) -> Encoded | None:
    # One dumps of the whole list makes one buffer instead of a small object per row (those
    # fragment the heap between the pages' long-lived dicts). Rows are objects, so every
    # boundary between them reads `},{`; when no value holds that sequence too, the boundaries
    # are exactly its occurrences and become newlines. A trailing `{}` gives the last row its
    # newline, and a view drops `[` and `{}]` without copying the buffer again.
    try:
        whole = orjson.dumps([*rows, {}])
    except TypeError:  # a value orjson has no form for (bytes, Decimal, ...): encode from Arrow
        return None
    if whole.count(b"},{") == len(rows):
        return memoryview(whole.replace(b"},{", b"}\n{"))[1:-3]
    return b"".join([orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in rows])


def to_batches(obj: object, *, asset: str, batch: int) -> list[pa.RecordBatch]:
    """The non-empty record batches in ``obj``; ``None`` and empty input give ``[]``."""
    if obj is None:
        return []
    if isinstance(obj, pa.RecordBatch):
        return [_fix_empty_structs(obj)] if obj.num_rows else []
    if isinstance(obj, pa.Table):
        return [_fix_empty_structs(b) for b in obj.to_batches() if b.num_rows]
    module = _module(obj)
    if module == "polars":
        frame: Any = obj.collect() if type(obj).__name__ == "LazyFrame" else obj  # type: ignore[attr-defined]
        return to_batches(frame.to_arrow(), asset=asset, batch=batch)
    if module == "pandas" and type(obj).__name__ == "DataFrame":
        return to_batches(pa.Table.from_pandas(obj, preserve_index=False), asset=asset, batch=batch)
    if module in ("httpx", "requests") and hasattr(obj, "json"):
        try:
            body = obj.json()  # type: ignore[attr-defined]
        except ValueError as exc:
            raise BatchError(
                "the HTTP response body is not JSON", asset=asset, batch=batch,
                hint="return parsed rows, or check the request",
            ) from exc
        return to_batches(body, asset=asset, batch=batch)
    if isinstance(obj, Mapping) or _is_record(obj):
        return to_batches([obj], asset=asset, batch=batch)
    if isinstance(obj, (list, tuple)):
        if not obj:
            return []
        built = rows_to_batch(obj, asset=asset, batch=batch)
        return [built] if built.num_rows else []
    raise BatchError(
        f"yielded a `{type(obj).__name__}`, which cannot become a table row",
        asset=asset,
        batch=batch,
        hint=_ACCEPTED,
    )


def _is_record(obj: object) -> bool:
    return (dataclasses.is_dataclass(obj) and not isinstance(obj, type)) or hasattr(obj, "model_dump")


def _as_row(obj: object, *, asset: str, batch: int) -> dict[str, Any]:
    if type(obj) is dict:
        return obj
    if isinstance(obj, Mapping):
        return dict(obj)
    if hasattr(obj, "model_dump"):
        return obj.model_dump()  # type: ignore[no-any-return,attr-defined]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    raise BatchError(
        f"contains a `{type(obj).__name__}` row, which cannot become a table row",
        asset=asset,
        batch=batch,
        hint=_ACCEPTED,
    )


def rows_to_batch(rows: Sequence[object], *, asset: str, batch: int) -> pa.RecordBatch:
    """Rows (dicts, dataclasses, pydantic models) → one record batch with every key seen."""
    if not all(type(r) is dict for r in rows):
        rows = [_as_row(r, asset=asset, batch=batch) for r in rows]
    return _build(rows)[0]  # type: ignore[arg-type]


def _build(dict_rows: Sequence[dict[str, Any]]) -> tuple[pa.RecordBatch, bool]:
    """Dict rows → a record batch, and whether it holds the values unchanged (see :func:`normalize`)."""
    # pyarrow names columns after the first row only; take the union of keys so none is lost.
    # Rows of one page nearly always share their keys: an unordered set union runs in C at a
    # third of the cost of an ordered one, which is only built when a key is actually extra.
    first = dict_rows[0]
    if len(set().union(*dict_rows)) == len(first):
        keys = list(first)
    else:
        keys = list(dict.fromkeys(chain.from_iterable(dict_rows)))
    if not keys:  # rows of `{}` carry no values: nothing to write
        return pa.record_batch([], schema=pa.schema([])), False
    try:
        if len(keys) == len(first):
            built = pa.RecordBatch.from_pylist(list(dict_rows))
        else:
            built = pa.RecordBatch.from_pydict({k: [r.get(k) for r in dict_rows] for k in keys})
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError, TypeError):
        return _fix_empty_structs(_by_column(dict_rows, keys)), False
    fixed = _fix_empty_structs(built)
    return fixed, fixed is built


def _by_column(rows: Sequence[dict[str, Any]], keys: list[str]) -> pa.RecordBatch:
    """Slow path for rows whose values conflict: columns that will not type are kept as text."""
    arrays = []
    for k in keys:
        values = [r.get(k) for r in rows]
        try:
            arrays.append(pa.array(values))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError, TypeError):
            arrays.append(pa.array([_text(v) for v in values], type=pa.large_string()))
    return pa.RecordBatch.from_arrays(arrays, names=keys)


def _text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (dict, list, tuple)):
        return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    return str(value)


# -- empty structs ----------------------------------------------------------------------------
# `{}` infers as struct<>, which parquet cannot store. An empty object carries no values, so it
# becomes null; a later batch with fields simply widens the null to a struct.

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


def _fix_empty_structs(batch: pa.RecordBatch) -> pa.RecordBatch:
    if not any(_has_empty_struct(f.type) for f in batch.schema):
        return batch
    cols = [_strip(c) if _has_empty_struct(c.type) else c for c in batch.columns]
    return pa.RecordBatch.from_arrays(cols, names=batch.schema.names)
