"""Type aliases shared along the data flow."""

from __future__ import annotations

from typing import Literal

ARTIFACT_FILE_TYPES = Literal["parquet", "json", "csv"]
FILE_TYPES: tuple[str, ...] = ("parquet", "json", "csv")

#: Rows per Arrow batch wherever data is streamed: stream(), relations and artifacts fed to an
#: asset, result parts read back for a merge.
STREAM_BATCH_ROWS = 65_536

#: A text file's encoded bytes; a view spares copying a large buffer to trim it.
Encoded = bytes | memoryview

#: Query parameters as DuckDB takes them: positional (``?``) or named (``$name``).
Params = list[object] | tuple[object, ...] | dict[str, object] | None

#: Arrow field metadata of a column of decimals too wide for ``DECIMAL(38)``, kept as exact text
#: (readers give it the original's type: it made every decimal a float).
DECIMAL_TEXT = {b"madstream.kind": b"decimal-text"}
