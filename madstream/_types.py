"""Type aliases shared along the data flow."""

from __future__ import annotations

from typing import Literal

ARTIFACT_FILE_TYPES = Literal["parquet", "json", "csv"]
FILE_TYPES: tuple[str, ...] = ("parquet", "json", "csv")

#: Query parameters as DuckDB takes them: positional (``?``) or named (``$name``).
Params = list[object] | tuple[object, ...] | dict[str, object] | None
