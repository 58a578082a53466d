"""Reader options for JSON and CSV artifacts, rendered into DuckDB table-function arguments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

__all__ = ["ReadCSVOptions", "ReadJsonOptions", "sql_arguments", "sql_identifier", "sql_literal"]


class ReadJsonOptions(TypedDict, total=False):
    """Options passed to DuckDB's ``read_json`` when a JSON artifact is queried."""

    auto_detect: bool
    columns: dict[str, str]
    compression: str
    convert_strings_to_integers: bool
    dateformat: str
    date_format: str
    field_appearance_threshold: float
    filename: bool | str
    format: str
    hive_partitioning: bool
    hive_types: dict[str, str]
    hive_types_autocast: bool
    ignore_errors: bool
    map_inference_threshold: int
    maximum_depth: int
    maximum_object_size: int
    maximum_sample_files: int
    records: bool | str
    sample_size: int
    timestampformat: str
    timestamp_format: str
    union_by_name: bool


class ReadCSVOptions(TypedDict, total=False):
    """Options passed to DuckDB's ``read_csv`` when a CSV artifact is queried."""

    all_varchar: bool
    allow_quoted_nulls: bool
    auto_detect: bool
    auto_type_candidates: list[str]
    buffer_size: int
    columns: dict[str, str]
    comment: str
    compression: str
    dateformat: str
    date_format: str
    decimal_separator: str
    delim: str
    sep: str
    escape: str
    encoding: str
    filename: bool | str
    force_not_null: list[str]
    header: bool
    hive_partitioning: bool
    hive_types: dict[str, str]
    hive_types_autocast: bool
    ignore_errors: bool
    max_line_size: int
    names: list[str]
    new_line: str
    normalize_names: bool
    null_padding: bool
    nullstr: str | list[str]
    parallel: bool
    quote: str
    rejects_table: str
    sample_size: int
    skip: int
    strict_mode: bool
    timestampformat: str
    timestamp_format: str
    types: dict[str, str] | list[str]
    dtypes: dict[str, str] | list[str]
    union_by_name: bool


def sql_literal(value: Any) -> str:
    """Render a Python option value as a DuckDB SQL literal."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{sql_literal(str(k))}: {sql_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(sql_literal(v) for v in value) + "]"
    raise TypeError(f"cannot render {type(value).__name__} as a DuckDB option value")


def sql_identifier(name: str) -> str:
    """``name`` as a quoted DuckDB identifier (any text, quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def sql_arguments(options: Mapping[str, Any]) -> str:
    """Render ``{name: value}`` as ``name = literal, ...`` for a DuckDB table function."""
    return ", ".join(f"{name} = {sql_literal(value)}" for name, value in options.items())
