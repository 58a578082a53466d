"""Normalize: any batch an extract function produces → ``pyarrow.RecordBatch``.

Accepted: a list (or tuple) of dicts, dataclasses or pydantic models; a single dict, dataclass
or pydantic model (one row); pandas and polars frames; pyarrow tables and record batches; an
``httpx.Response`` (its JSON body). DuckDB relations, assets and artifacts are expanded earlier,
by the source stage, because they stream. pandas, polars and httpx are recognised by module
name so that none of them is imported just to check a type.

Every batch leaves here in a form each result format stores and DuckDB reads back (see
:func:`finish`): decimals fit ``DECIMAL(p ≤ 38, s)`` or are kept as their exact text, union
columns are refused, and column names follow the run's :class:`ColumnNames`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from itertools import chain, repeat
from typing import Any, NamedTuple

import orjson
import pyarrow as pa

from ..base.errors import BatchError
from ..base.types import Encoded
from .fastpath import FastPath, Plan
from .finish import ColumnNames, finish, fix_empty_structs

__all__ = ["Page", "SourceBatch", "normalize", "prepare", "rows_to_batch", "to_batches"]

_ACCEPTED = "yield dicts (or lists of them), dataclasses, pydantic models, pandas/polars frames or Arrow data"
#: Errors pyarrow raises for values it cannot put in one column.
_CONVERSION_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError, TypeError)


def _module(obj: object) -> str:
    return type(obj).__module__.split(".", 1)[0]


class Page(NamedTuple):
    """One normalized record batch, with its rows as JSON lines when those came cheaply."""

    batch: pa.RecordBatch
    #: The same rows as JSON lines, encoded from the source values; ``None`` when not asked for
    #: or when the source values cannot be encoded faithfully (the writer encodes the batch).
    json: Encoded | None = None


class SourceBatch(NamedTuple):
    """A raw batch as the source stage hands it on, with the column names of its run."""

    value: object
    names: ColumnNames
    #: The run's fast path for dict pages (see :mod:`.fastpath`); ``None``: always the direct one.
    fast: FastPath | None = None


def normalize(obj: object, *, asset: str, batch: int, json_lines: bool = False) -> list[Page]:
    """The non-empty pages in ``obj``; with ``json_lines``, plain dict rows also come as JSON.

    ``obj`` may come wrapped in a :class:`SourceBatch`, which carries the run's column names
    (without one the names are made unique within this batch alone) and its fast path: with
    ``json_lines``, a page of dict rows is then converted from those bytes off the GIL when that
    is provably exact (see :mod:`.fastpath`), else directly as ``from_pylist`` does.

    Dict rows are the common case, and orjson writes them at ~3x the speed of any encoder
    working from Arrow, in the thread that already holds them. The JSON of the values is used
    only where it reads back as exactly the batch under its recorded column types: the batch
    was built from the values as they are (no column kept as text, no empty object nulled, no
    column renamed), each time column prints one way (orjson drops a zero fraction of a second,
    which would mix two formats in a column and defeat readers that detect timestamps), and
    every float is finite (orjson writes NaN and infinities as ``null``).
    """
    return prepare(obj, asset=asset, batch=batch, json_lines=json_lines)()


def prepare(obj: object, *, asset: str, batch: int, json_lines: bool = False) -> Callable[[], list[Page]]:
    """The first half of :func:`normalize`; call what it returns for the pages.

    The halves are two pipeline stages: this one encodes a fast-path page and takes the census
    of its types (both hold the GIL), the second parses it (which does not) and finishes every
    page. Calls of the second must come in page order (column names and the fast path's plan
    are learnt in order); this one may run ahead.
    """
    fast = None
    if isinstance(obj, SourceBatch):
        names, fast = obj.names, obj.fast
        obj = obj.value
    else:
        names = ColumnNames()
    if json_lines and isinstance(obj, (list, tuple)) and obj and all(type(r) is dict for r in obj):
        rows: Sequence[dict[Any, Any]] = obj
        # The fast path serves only pages whose JSON lines are wanted anyway: encoding and
        # checking a page holds the GIL about as long as converting it directly
        # (benches/README.md), so it pays only when the same bytes also make the JSON fragment.
        plan = fast.plan if fast is not None else None
        if plan is not None and plan.takes(rows):
            lines = _json_lines(rows)
            types = plan.check(rows) if lines is not None else None
            return partial(_dict_page, rows, names, fast, asset=asset, batch=batch, fast_page=(plan, lines, types))
        return partial(_dict_page, rows, names, fast, asset=asset, batch=batch)
    return partial(_other_pages, obj, names, asset=asset, batch=batch)


def _other_pages(obj: object, names: ColumnNames, *, asset: str, batch: int) -> list[Page]:
    return [Page(b) for b in to_batches(obj, asset=asset, batch=batch, names=names)]


#: What the first stage made of a fast-path page: the plan, its JSON lines, its Python types.
_FastPage = tuple[Plan, Encoded | None, set[type] | None]


def _dict_page(
    rows: Sequence[dict[Any, Any]], names: ColumnNames, fast: FastPath | None, *, asset: str, batch: int,
    fast_page: _FastPage | None = None,
) -> list[Page]:
    """Dict rows whose JSON lines are wanted → their page, with the lines when they are exact."""
    lines = built = None
    if fast is not None and fast_page is not None:
        plan, lines, types = fast_page
        built = plan.convert(rows, lines, types) if lines is not None and types is not None else None
        fast.count(built is not None)
    if built is not None:  # exact by construction: every float finite, every key kept
        done = finish(built, names, asset=asset, batch=batch)
        exact = done is built and all(_one_time_format(c) for c in built.columns)
        return [Page(done, lines if exact else None)]
    built, exact = _build(rows, asset=asset, batch=batch)
    if not built.num_rows:
        return []
    if exact and fast is not None:
        fast.learn(rows, built)
    done = finish(built, names, asset=asset, batch=batch)
    exact = (
        exact and done is built
        and all(_one_time_format(c) for c in built.columns) and all(_finite(c) for c in built.columns)
    )
    if lines is None and exact:
        lines = _json_lines(rows)
    return [Page(done, lines if exact else None)]


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


def _finite(arr: pa.Array) -> bool:
    """Whether every float in ``arr`` (nested ones too) is finite; may say no for a null slot.

    numpy comes with pyarrow, and reading the value buffer spares importing pyarrow.compute.
    """
    t = arr.type
    if pa.types.is_floating(t):
        if arr.null_count == len(arr):
            return True
        import numpy as np

        values = np.frombuffer(arr.buffers()[1], dtype=t.to_pandas_dtype())[arr.offset:arr.offset + len(arr)]
        return bool(np.isfinite(values).all())
    if pa.types.is_struct(t):
        return all(_finite(c) for c in arr.flatten())
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return _finite(arr.values)
    return True


def _json_lines(rows: Sequence[dict[str, Any]]) -> Encoded | None:
    # One dumps of the whole list makes one buffer instead of a small object per row (those
    # fragment the heap between the pages' long-lived dicts). Rows are objects, so every
    # boundary between them reads `},{`; when no value holds that sequence too, the boundaries
    # are exactly its occurrences and become newlines. A trailing `{}` gives the last row its
    # newline, and a view drops `[` and `{}]` without copying the buffer again.
    # orjson never writes a raw newline (one in a string is escaped), so the newlines counted
    # after the replacement are exactly the boundaries replaced: a single-byte count is far
    # cheaper than counting `},{` first.
    try:
        whole = orjson.dumps([*rows, {}]).replace(b"},{", b"}\n{")
    except TypeError:  # a value orjson has no form for (bytes, Decimal, ...): encode from Arrow
        return None
    if whole.count(b"\n") == len(rows):
        return memoryview(whole)[1:-3]
    return b"".join([orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in rows])


def to_batches(obj: object, *, asset: str, batch: int, names: ColumnNames | None = None) -> list[pa.RecordBatch]:
    """The non-empty record batches in ``obj``, finished (see :func:`finish`); ``None`` and
    empty input give ``[]``. ``names``: the run's column names (default: this batch's own)."""
    names = names if names is not None else ColumnNames()
    return [finish(b, names, asset=asset, batch=batch) for b in _to_batches(obj, asset=asset, batch=batch)]


def _to_batches(obj: object, *, asset: str, batch: int) -> list[pa.RecordBatch]:
    if obj is None:
        return []
    if isinstance(obj, pa.RecordBatch):
        return [obj] if obj.num_rows else []
    if isinstance(obj, pa.Table):
        return [b for b in obj.to_batches() if b.num_rows]
    module = _module(obj)
    if module == "polars":
        frame: Any = obj.collect() if type(obj).__name__ == "LazyFrame" else obj  # type: ignore[attr-defined]
        return _to_batches(frame.to_arrow(), asset=asset, batch=batch)
    if module == "pandas" and type(obj).__name__ == "DataFrame":
        try:
            table = pa.Table.from_pandas(obj, preserve_index=False)
        except (*_CONVERSION_ERRORS, ValueError):  # mixed object columns, repeated column names
            table = _frame_by_column(obj, asset=asset, batch=batch)
        return _to_batches(table, asset=asset, batch=batch)
    if module in ("httpx", "requests") and hasattr(obj, "json"):
        try:
            body = obj.json()  # type: ignore[attr-defined]
        except ValueError as exc:
            raise BatchError(
                "the HTTP response body is not JSON", asset=asset, batch=batch,
                hint="return parsed rows, or check the request",
            ) from exc
        return _to_batches(body, asset=asset, batch=batch)
    if isinstance(obj, Mapping) or _is_record(obj):
        return _to_batches([obj], asset=asset, batch=batch)
    if isinstance(obj, (list, tuple)):
        if not obj:
            return []
        built = _rows_batch(obj, asset=asset, batch=batch)
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
    """Rows (dicts, dataclasses, pydantic models) → one finished record batch with every key seen."""
    return finish(_rows_batch(rows, asset=asset, batch=batch), ColumnNames(), asset=asset, batch=batch)


def _rows_batch(rows: Sequence[object], *, asset: str, batch: int) -> pa.RecordBatch:
    if not all(type(r) is dict for r in rows):
        rows = [_as_row(r, asset=asset, batch=batch) for r in rows]
    return _build(rows, asset=asset, batch=batch)[0]  # type: ignore[arg-type]


def _build(dict_rows: Sequence[dict[Any, Any]], *, asset: str, batch: int) -> tuple[pa.RecordBatch, bool]:
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
        # What from_pylist does, with each column gathered in C (`map(dict.get)`) rather than
        # by its Python comprehension: ~10 % less time holding the GIL, the same arrays.
        built = pa.RecordBatch.from_pydict({k: list(map(dict.get, dict_rows, repeat(k))) for k in keys})
    except _CONVERSION_ERRORS:
        text_keyed = _with_text_keys(dict_rows, asset=asset, batch=batch)
        if text_keyed is not None:
            return _build(text_keyed, asset=asset, batch=batch)[0], False
        return fix_empty_structs(_by_column(dict_rows, keys, asset=asset, batch=batch)), False
    fixed = fix_empty_structs(built)
    return fixed, fixed is built


def _by_column(rows: Sequence[dict[str, Any]], keys: list[str], *, asset: str, batch: int) -> pa.RecordBatch:
    """Slow path for rows whose values conflict: columns that will not type are kept as text."""
    arrays = []
    for k in keys:
        values = [r.get(k) for r in rows]
        try:
            arrays.append(pa.array(values))
        except _CONVERSION_ERRORS:
            arrays.append(_text_column(values, k, asset=asset, batch=batch))
    return pa.RecordBatch.from_arrays(arrays, names=keys)


def _frame_by_column(frame: Any, *, asset: str, batch: int) -> pa.Table:
    """A pandas frame pyarrow refuses whole: column by column, a mixed object column as text
    (as dict rows with conflicting values are); repeated names are left to :class:`ColumnNames`."""
    import pandas as pd

    arrays, names = [], []
    for i in range(frame.shape[1]):
        column = frame.iloc[:, i]
        name = str(frame.columns[i])  # as pyarrow names a column labelled by a number or tuple
        try:
            arrays.append(pa.array(column, from_pandas=True))
        except _CONVERSION_ERRORS:
            values = [None if _missing(v, pd) else v for v in column.tolist()]
            arrays.append(_text_column(values, name, asset=asset, batch=batch))
        names.append(name)
    return pa.Table.from_arrays(arrays, names=names)


def _missing(value: object, pd: Any) -> bool:
    """Whether a pandas cell holds a missing value (``None``, ``NaN``, ``NA``, ``NaT``)."""
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def _text_column(values: list[Any], column: str, *, asset: str, batch: int) -> pa.Array:
    texts = []
    for v in values:
        if v is not None and type(v).__str__ is object.__str__ and type(v).__repr__ is object.__repr__:
            # Its only text is its address (`<Foo object at 0x...>`): nothing a reader could use.
            raise BatchError(
                f"holds a `{type(v).__name__}` value, which has no table type and no text form",
                asset=asset, batch=batch, column=column,
                hint="convert such values to str, numbers, dicts or lists in the extract function",
            )
        texts.append(_text(v))
    return pa.array(texts, type=pa.large_string())


def _text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (dict, list, tuple)):
        return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    return str(value)


# -- dict keys --------------------------------------------------------------------------------
# Keys become column (and struct field) names, which are text. An int key reads back as its
# decimal text, as `json.dumps` writes it; any other kind has no text that says the same.

def _has_other_keys(value: object) -> bool:
    if type(value) is dict:
        return any(type(k) is not str for k in value) or any(_has_other_keys(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_other_keys(v) for v in value)
    return False


def _with_text_keys(rows: Sequence[dict[Any, Any]], *, asset: str, batch: int) -> list[dict[str, Any]] | None:
    """``rows`` with every int key (nested ones too) as its decimal text; ``None`` if every key
    is already text. Raises :class:`BatchError` for a key of any other kind."""
    if not any(_has_other_keys(r) for r in rows):
        return None

    def key(k: object) -> str:
        if isinstance(k, str):
            return str.__str__(k)
        if isinstance(k, int) and not isinstance(k, bool):
            return int.__repr__(k)
        raise BatchError(
            f"has a dict key of type `{type(k).__name__}`; keys become column names, which must be text",
            asset=asset, batch=batch,
            hint="use str keys (int keys are accepted and become their decimal text, e.g. 1 → \"1\")",
        )

    def convert(value: Any) -> Any:
        if type(value) is dict:
            out = {key(k): convert(v) for k, v in value.items()}
            if len(out) < len(value):
                raise BatchError(
                    "has a dict with an int key and a str key of the same text (e.g. 1 and \"1\"), "
                    "which would be one column",
                    asset=asset, batch=batch, hint="keep one of the two keys",
                )
            return out
        if isinstance(value, list):
            return [convert(v) for v in value]
        if isinstance(value, tuple):
            return tuple(convert(v) for v in value)
        return value

    return [convert(r) for r in rows]
