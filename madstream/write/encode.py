"""Encoders: Arrow record batches → JSON-lines and CSV bytes.

JSON lines keep values DuckDB reads back faithfully when given the column types recorded at
write time: timestamps in ISO 8601 (``YYYY-MM-DDTHH:MM:SS[.ffffff]``, one form per column and
file), decimals as exact text, UUIDs as text.
CSV cannot nest, so struct and list cells hold JSON text, which DuckDB casts back to the
recorded STRUCT/LIST type on read.
NaN and infinities survive every encoding: JSON (and the JSON text of nested CSV cells) holds
the tokens ``NaN``, ``Infinity`` and ``-Infinity``, which DuckDB's readers take back as those
floats; CSV cells of float columns hold ``NaN``, ``inf`` and ``-inf``.
"""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa

if TYPE_CHECKING:
    import polars as pl

# polars is imported where first used: a parquet-only run never needs it, and
# importing madstream stays cheap (~0.1 s and 25 MiB of RSS).

__all__ = ["csv_bytes", "finite", "json_bytes"]


def _plain(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Extension columns (UUID, ...) as text, which every encoder understands."""
    if not any(isinstance(f.type, pa.BaseExtensionType) for f in batch.schema):
        return batch
    cols = [
        _ext_text(c) if isinstance(c.type, pa.BaseExtensionType) else c for c in batch.columns
    ]
    return pa.RecordBatch.from_arrays(cols, names=batch.schema.names)


def _ext_text(arr: pa.Array) -> pa.Array:
    return pa.array([None if v is None else str(v) for v in arr.to_pylist()], type=pa.string())


def json_bytes(batch: pa.RecordBatch) -> bytes:
    """``batch`` as newline-delimited JSON.

    Arrow's own kernels first (no extra library in memory: polars alone costs ~50 MiB of RSS);
    polars for the types they do not cover; row by row as the last resort.
    """
    from .jsonarrow import Unsupported, arrow_json_lines  # pyarrow.compute: imported when first needed

    try:
        return arrow_json_lines(_plain(batch))
    except (Unsupported, pa.ArrowException):
        pass
    if not all(finite(c) for c in batch.columns):  # polars would write them as null
        return _json_bytes_slow(batch)
    import polars as pl

    try:
        frame = pl.from_arrow(_plain(batch))
        assert isinstance(frame, pl.DataFrame)
        buffer = io.BytesIO()  # bytes straight from polars: no intermediate str to encode
        frame.write_ndjson(buffer)
        return buffer.getvalue()
    except BaseException as exc:  # polars panics (a BaseException) on types it cannot write
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return _json_bytes_slow(batch)


def _json_bytes_slow(batch: pa.RecordBatch) -> bytes:
    """Row-by-row JSON for types polars cannot encode (nested extension types, binary), and
    for batches with NaN or infinities next to a type the Arrow kernels do not write."""
    opts = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
    rows = batch.to_pylist()
    if not all(finite(c) for c in batch.columns):
        rows = [_tokens(row) for row in rows]
    return b"".join(orjson.dumps(row, default=_default, option=opts) + b"\n" for row in rows)


_TOKENS = {"nan": orjson.Fragment(b"NaN"), "inf": orjson.Fragment(b"Infinity"), "-inf": orjson.Fragment(b"-Infinity")}


def _tokens(value: Any) -> Any:
    """``value`` with each NaN or infinite float as its JSON token (orjson writes them as null)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else _TOKENS[repr(value)]
    if isinstance(value, dict):
        return {k: _tokens(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_tokens(v) for v in value]
    return value


def finite(arr: pa.Array) -> bool:
    """Whether every float in ``arr``, nested ones too, is finite (or null)."""
    t = arr.type
    if pa.types.is_floating(t):
        import pyarrow.compute as pc

        return pc.all(pc.is_finite(arr)).as_py() is not False
    if pa.types.is_dictionary(t):
        return finite(arr.dictionary)
    if pa.types.is_struct(t):
        return all(finite(c) for c in arr.flatten())
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t) or pa.types.is_map(t):
        return finite(arr.values)
    return True


def _default(value: object) -> object:
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return str(value)


def _nested_text(arr: pa.Array) -> pa.Array | None:
    """The JSON text of each nested value of ``arr`` (nulls stay null); ``None`` if the Arrow
    kernels do not write its type."""
    from .jsonarrow import Unsupported, json_texts

    try:
        return json_texts(arr)
    except (Unsupported, pa.ArrowException):
        return None


def _json_text(name: str) -> pl.Expr:
    import polars as pl

    # Wrap the value in a one-field struct, encode, and strip the wrapper: `{"v":...}` -> `...`.
    text = pl.struct(pl.col(name).alias("v")).struct.json_encode().str.slice(5).str.head(-1)
    # A null cell stays empty (a null), not the text `null`.
    return pl.when(pl.col(name).is_null()).then(None).otherwise(text).alias(name)


def csv_bytes(batch: pa.RecordBatch, *, header: bool) -> bytes:
    """``batch`` as CSV; nested cells as JSON text."""
    import polars as pl

    batch = _plain(batch)
    # polars writes a NaN or infinity inside a nested value as null: such columns become their
    # JSON text here, from Arrow, with the tokens DuckDB reads back.
    texts = {
        i: _nested_text(c) for i, c in enumerate(batch.columns) if pa.types.is_nested(c.type) and not finite(c)
    }
    if any(t is not None for t in texts.values()):
        columns = [c if texts.get(i) is None else texts[i] for i, c in enumerate(batch.columns)]
        batch = pa.RecordBatch.from_arrays(columns, names=batch.schema.names)
    frame = pl.from_arrow(batch)
    assert isinstance(frame, pl.DataFrame)
    nested = [n for n, t in frame.schema.items() if t.is_nested()]
    if nested:
        frame = frame.with_columns([_json_text(n) for n in nested])
    return frame.write_csv(include_header=header).encode()
