"""Encoders: Arrow record batches → JSON-lines and CSV bytes.

JSON lines keep values DuckDB reads back faithfully when given the column types recorded at
write time: timestamps in ISO 8601 (``YYYY-MM-DDTHH:MM:SS[.ffffff]``, one form per column and
file), decimals as exact text, UUIDs as text.
CSV cannot nest, so struct and list cells hold JSON text, which DuckDB casts back to the
recorded STRUCT/LIST type on read.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import orjson
import pyarrow as pa

if TYPE_CHECKING:
    import polars as pl

# polars is imported where first used: a parquet-only run never needs it, and
# importing madstream stays cheap (~0.1 s and 25 MiB of RSS).

__all__ = ["csv_bytes", "json_bytes"]


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
    """Row-by-row JSON for types polars cannot encode (nested extension types, binary)."""
    opts = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
    return b"".join(orjson.dumps(row, default=_default, option=opts) + b"\n" for row in batch.to_pylist())


def _default(value: object) -> object:
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return str(value)


def _json_text(name: str) -> pl.Expr:
    import polars as pl

    # Wrap the value in a one-field struct, encode, and strip the wrapper: `{"v":...}` -> `...`.
    text = pl.struct(pl.col(name).alias("v")).struct.json_encode().str.slice(5).str.head(-1)
    # A null cell stays empty (a null), not the text `null`.
    return pl.when(pl.col(name).is_null()).then(None).otherwise(text).alias(name)


def csv_bytes(batch: pa.RecordBatch, *, header: bool) -> bytes:
    """``batch`` as CSV; nested cells as JSON text."""
    import polars as pl

    frame = pl.from_arrow(_plain(batch))
    assert isinstance(frame, pl.DataFrame)
    nested = [n for n, t in frame.schema.items() if t.is_nested()]
    if nested:
        frame = frame.with_columns([_json_text(n) for n in nested])
    return frame.write_csv(include_header=header).encode()
