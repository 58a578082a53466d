"""JSON lines straight from Arrow with pyarrow compute kernels (no Python per row, no polars).

Every column becomes an array of JSON texts, built by vectorized kernels (casts, substring
escapes, element-wise joins); rows are the element-wise join of ``"key":text`` pieces, and the
file is the string data buffer of that array. Types it does not know raise :class:`Unsupported`
and the caller uses another encoder. NaN and infinities are written as ``NaN``, ``Infinity`` and
``-Infinity``, which DuckDB reads back as those floats.
"""

from __future__ import annotations

import orjson
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["Unsupported", "arrow_json_lines", "json_texts"]

_S = pa.string()
_NULL = pa.scalar("null", _S)
_NEEDS_ESCAPE = '["\\\\\\x00-\\x1f]'
_CONTROL = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f]"


class Unsupported(Exception):
    """A column type this encoder does not write."""


def _lit(text: str) -> pa.Scalar:
    return pa.scalar(text, _S)


def _join(*parts: pa.Array | pa.Scalar) -> pa.Array:
    return pc.binary_join_element_wise(*parts, _lit(""))


def _escaped(arr: pa.Array) -> pa.Array:
    text = arr.cast(_S)
    if pa.types.is_timestamp(arr.type):
        # ISO 8601 with a `T`, as orjson writes the timestamps of dict rows (one format per file).
        return pc.replace_substring(text, " ", "T", max_replacements=1)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return text  # dates, times and decimals print nothing that needs escaping
    if len(text) and pc.any(pc.match_substring_regex(text, _NEEDS_ESCAPE)).as_py():
        if pc.any(pc.match_substring_regex(text, _CONTROL)).as_py():
            raise Unsupported("control characters")
        for raw, escaped in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
            text = pc.replace_substring(text, raw, escaped)
    return text


def _quoted_type(t: pa.DataType) -> bool:
    return (
        pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_decimal(t)
        or pa.types.is_date(t) or pa.types.is_time(t) or (pa.types.is_timestamp(t) and t.tz is None)
    )


def _pieces(keys: list[str], arrays: list[pa.Array], close: str) -> list[pa.Array | pa.Scalar]:
    """``{"k1":v1,"k2":v2}`` as join pieces; a string column without nulls gets its quotes from
    the literals around it, which saves a join per column."""
    parts: list[pa.Array | pa.Scalar] = []
    pending = ""
    for i, (key, arr) in enumerate(zip(keys, arrays)):
        prefix = pending + ("{" if i == 0 else ",") + orjson.dumps(key).decode() + ":"
        if _quoted_type(arr.type) and arr.null_count == 0:
            parts += [_lit(prefix + '"'), _escaped(arr)]
            pending = '"'
        else:
            parts += [_lit(prefix), _text(arr)]
            pending = ""
    parts.append(_lit(pending + close))
    return parts


def json_texts(arr: pa.Array) -> pa.Array:
    """The JSON text of every value of ``arr``, nulls kept null (raises :class:`Unsupported`)."""
    text = _text(arr)
    return pc.if_else(arr.is_null(), pa.scalar(None, _S), text) if arr.null_count else text


def _text(arr: pa.Array) -> pa.Array:
    """JSON text of every value of ``arr``; nulls as ``null`` (the result has no nulls)."""
    t = arr.type
    if pa.types.is_null(t):
        return pa.array(["null"] * len(arr), _S)
    if pa.types.is_dictionary(t):
        return _text(arr.dictionary_decode())
    if pa.types.is_boolean(t):
        out = pc.if_else(arr, _lit("true"), _lit("false"))
    elif pa.types.is_integer(t):
        out = arr.cast(_S)
    elif pa.types.is_floating(t):
        out = _float_text(arr)
    elif _quoted_type(t):
        out = _join(_lit('"'), _escaped(arr), _lit('"'))
    elif pa.types.is_struct(t):
        if t.num_fields == 0:
            return pa.array(["{}"] * len(arr), _S)
        joined = _join(*_pieces([f.name for f in t], arr.flatten(), "}"))
        return pc.if_else(arr.is_null(), _NULL, joined) if arr.null_count else joined
    elif pa.types.is_list(t) or pa.types.is_large_list(t):
        items = _text(arr.values)
        cls = pa.LargeListArray if pa.types.is_large_list(t) else pa.ListArray
        lists = cls.from_arrays(arr.offsets, items)
        joined = _join(_lit("["), pc.binary_join(lists, _lit(",")), _lit("]"))
        return pc.if_else(arr.is_null(), _NULL, joined) if arr.null_count else joined
    else:
        raise Unsupported(str(t))
    return pc.fill_null(out, _NULL) if out.null_count else out


def _float_text(arr: pa.Array) -> pa.Array:
    """Floats as JSON numbers; NaN and the infinities as the tokens ``NaN``, ``Infinity`` and
    ``-Infinity``, outside strict JSON but read back as those floats by DuckDB's ``read_json``
    (1.5 and 2.x; orjson and polars would write ``null`` and lose them). Nulls stay null."""
    text, finite = arr.cast(_S), pc.is_finite(arr)
    if pc.all(finite).as_py() is not False:
        return text
    special = pc.if_else(
        pc.is_nan(arr), _lit("NaN"), pc.if_else(pc.greater(arr, 0), _lit("Infinity"), _lit("-Infinity"))
    )
    return pc.if_else(finite, text, special)


def arrow_json_lines(batch: pa.RecordBatch) -> bytes:
    """``batch`` as newline-delimited JSON objects (raises :class:`Unsupported`)."""
    if batch.num_rows == 0:
        return b""
    if not batch.num_columns:
        return b"{}\n" * batch.num_rows
    lines = _join(*_pieces(batch.schema.names, batch.columns, "}\n"))
    # The rows are contiguous in the string data buffer: that buffer is the file.
    offsets = pa.Array.from_buffers(pa.int32(), len(lines) + 1, [None, lines.buffers()[1]], offset=lines.offset)
    start, end = offsets[0].as_py(), offsets[-1].as_py()
    return lines.buffers()[2].slice(start, end - start).to_pybytes()
