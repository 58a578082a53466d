"""Shape: the column types a result is read with, as the original's reader options gave them.

The original built every result of a JSON-fragment asset by reading the fragments with DuckDB's
``read_json`` and the asset's ``read_json_options`` (``read_csv`` and ``read_csv_options`` for
CSV fragments), so those options decided the result's types whatever its file type: a
``columns={"data": "MAP(VARCHAR, VARCHAR)"}`` made a MAP column of a parquet result, and ISO
dates sent as text came back as DATE. madstream writes results in one pass and keeps the exact
values, so it applies those types when it reads: each shaped column is cast in a projection
over the scan (``SELECT * REPLACE (...)``), which DuckDB still prunes and filters through.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .options import sql_identifier as _identifier
from .options import sql_literal as _literal

__all__ = ["Shape", "detection_options", "shape_of", "shaped_sql", "text_formats"]

#: Reader options that change which types text and structs read back as.
_DETECTION_OPTIONS = ("dateformat", "date_format", "timestampformat", "timestamp_format",
                      "map_inference_threshold", "field_appearance_threshold")
_FORMAT_OPTIONS = {"dateformat": "DATE", "date_format": "DATE", "timestampformat": "TIMESTAMP", "timestamp_format": "TIMESTAMP"}
_NESTED = ("STRUCT", "MAP", "UNION")


def detection_options(options: Mapping[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    """The user's reader options that change detected types, as a frozen tuple for a run plan."""
    return tuple(sorted((k, v) for k, v in (options or {}).items() if k in _DETECTION_OPTIONS))


def text_formats(options: Mapping[str, Any] | None) -> dict[str, str]:
    """``{"DATE": "%d/%m/%Y", ...}`` from the user's reader options (``auto`` means ISO)."""
    found: dict[str, str] = {}
    for name, kind in _FORMAT_OPTIONS.items():
        value = (options or {}).get(name)
        if isinstance(value, str) and value and value.lower() != "auto":
            found[kind] = value
    return found


class Shape:
    """The casts one result is read with: ``{column: SQL type}`` and the formats to parse text by."""

    def __init__(self, casts: Mapping[str, str] | None = None, formats: Mapping[str, str] | None = None) -> None:
        self.casts = dict(casts or {})
        self.formats = dict(formats or {})

    def __bool__(self) -> bool:
        return bool(self.casts)


def shape_of(
    fragment_type: str, read_json_options: Mapping[str, Any] | None, read_csv_options: Mapping[str, Any] | None,
    text_types: Mapping[str, str] | None,
) -> Shape:
    """The shape of a result of an asset with ``fragment_type`` fragments: the types its text
    columns proved to hold, then the user's own ``columns`` (which win)."""
    if fragment_type == "parquet":  # the original kept a parquet-fragment asset's types as given
        return Shape()
    options = read_json_options if fragment_type == "json" else read_csv_options
    casts = dict(text_types or {})
    user = (options or {}).get("columns") or {}
    if fragment_type == "csv":
        types = (options or {}).get("types") or (options or {}).get("dtypes")
        if isinstance(types, Mapping):
            user = {**types, **user}
    casts.update({str(k): str(v) for k, v in dict(user).items()})
    return Shape(casts, text_formats(options))


def shaped_sql(scan: str, shape: Shape, column_types: Mapping[str, str] | None) -> str:
    """``scan`` with the shape's columns cast; only columns the file holds (by ``column_types``)."""
    if not shape or not column_types:
        return scan
    replaced = [
        f"{_cast(name, stored, target, shape.formats)} AS {_identifier(name)}"
        for name, target in shape.casts.items()
        for stored in (column_types.get(name),)
        if stored is not None and stored.upper() != target.upper()
    ]
    if not replaced:
        return scan
    return f"(SELECT * REPLACE ({', '.join(replaced)}) FROM {scan})"


def _cast(name: str, stored: str, target: str, formats: Mapping[str, str]) -> str:
    col = _identifier(name)
    kind = target.upper()
    if kind in formats and _is_text(stored):
        return f"CAST(strptime({col}, {_literal(formats[kind])}) AS {target})"
    if _is_nested(stored):
        # A struct or list becomes a MAP, a differently shaped struct or JSON text the way
        # read_json would have made it from the JSON value.
        cast = f"CAST(to_json({col}) AS {target})"
        if kind.startswith("MAP") and stored.upper().startswith("STRUCT"):
            # A key a record did not have is a null field of the struct; the original's map never
            # had that key at all.
            cast = f"map_from_entries(list_filter(map_entries({cast}), lambda e: e.value IS NOT NULL))"
        return cast
    return f"CAST({col} AS {target})"


def _is_text(stored: str) -> bool:
    return stored.upper() in ("VARCHAR", "TEXT", "STRING", "JSON")


def _is_nested(stored: str) -> bool:
    upper = stored.upper()
    return upper.endswith("]") or upper.startswith(_NESTED)
