"""How the CLI prints: aligned plain-text tables, listings and query results as table, CSV, JSON lines or parquet.

Tables are plain text (no box drawing, nothing cut to the terminal's width) so they read the
same on a terminal, in a pipe and in a log; a query's table on stdout shows at most
``TABLE_ROWS`` rows and counts the rest. Query results in csv/json/parquet stream from
DuckDB's Arrow reader batch by batch, so a large result never sits in memory whole.
"""

from __future__ import annotations

import csv
import datetime as dt
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

import orjson
import pyarrow as pa

from ..query.result import QueryResult
from ..write.encode import csv_bytes, finite, json_bytes
from .target import CliError

__all__ = ["FORMATS", "LIST_FORMATS", "TABLE_ROWS", "format_duration", "plain_table", "write_listing", "write_result"]

FORMATS = ("table", "csv", "json", "parquet")
#: Formats of the listings (``ls``, ``runs``): a table for people, JSON lines or CSV for programs.
LIST_FORMATS = ("table", "json", "csv")
#: Rows per Arrow batch pulled from DuckDB while writing a result.
_BATCH_ROWS = 65_536
#: Rows a table on stdout shows at most (the rest are counted): a terminal is not a file.
TABLE_ROWS = 50


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    return str(value)


def plain_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Columns padded to their widest cell; numbers right-aligned."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(values: Sequence[str], right: Sequence[bool]) -> str:
        out = [v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right)]
        return "  ".join(out).rstrip()

    right = [bool(cells) and all(_is_number(r[i]) for r in cells) for i in range(len(headers))]
    return "\n".join([line(list(headers), right), *(line(r, right) for r in cells)])


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", "").split(" ")[0])
    except ValueError:
        return text in ("NULL", "-")
    return True


def format_duration(ms: int | None) -> str:
    """``1234`` → ``"1.23 s"``; minutes past 100 s."""
    if ms is None:
        return "-"
    seconds = ms / 1000
    return f"{seconds:.2f} s" if seconds < 100 else f"{int(seconds // 60)} min {seconds % 60:.0f} s"


def write_listing(
    fmt: str, records: Sequence[Mapping[str, Any]], fields: Sequence[str], table: Iterable[Sequence[Any]], headers: Sequence[str],
) -> None:
    """Print a listing: ``table`` under ``headers``, else ``records`` as JSON lines or CSV (columns ``fields``).

    JSON keeps every value's type (numbers, nulls, lists); CSV writes lists and objects as JSON text.
    """
    if fmt == "table":
        sys.stdout.write(plain_table(headers, table) + "\n")
    elif fmt == "json":
        sys.stdout.flush()  # text printed before goes first
        sys.stdout.buffer.write(b"".join(orjson.dumps({k: r.get(k) for k in fields}, default=str) + b"\n" for r in records))
        sys.stdout.buffer.flush()
    else:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(fields)
        writer.writerows([_csv_cell(r.get(k)) for k in fields] for r in records)


def _csv_cell(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return orjson.dumps(value, default=str).decode()
    return "" if value is None else value


def write_result(result: QueryResult, fmt: str, output: str | None, *, limit: int = TABLE_ROWS) -> int:
    """Write ``result`` in ``fmt`` to ``output`` (a local file) or stdout; returns the row count."""
    if fmt == "parquet" and output is None and sys.stdout.isatty():
        raise CliError("parquet is binary: give --output FILE or redirect stdout")
    reader = result.to_arrow_reader(_BATCH_ROWS)
    if fmt == "table":
        return _write_table(reader, output, limit)
    if output is not None:
        with _opened(output, "wb") as handle:
            return _stream(reader, fmt, handle)
    rows = _stream(reader, fmt, sys.stdout.buffer)
    sys.stdout.buffer.flush()
    return rows


def _write_table(reader: pa.RecordBatchReader, output: str | None, rows: int) -> int:
    """An aligned table; on stdout at most ``rows`` rows (the rest only counted), in a file all."""
    limit = rows if output is None else None
    kept: list[pa.RecordBatch] = []
    count = 0
    for batch in reader:
        if limit is None or count < limit:
            kept.append(batch if limit is None else batch.slice(0, limit - count))
        count += batch.num_rows
    table = pa.Table.from_batches(kept, schema=reader.schema)
    text = plain_table(table.column_names, zip(*(c.to_pylist() for c in table.columns)) if table.num_rows else [])
    if limit is not None and count > limit:
        footer = f"({count:,} rows, the first {limit:,} shown — --limit N shows more; --format csv or json, or --output, give all)"
    else:
        footer = f"({count:,} {'row' if count == 1 else 'rows'})"
    _emit_text(f"{text}\n{footer}\n", output)
    return count


def _stream(reader: pa.RecordBatchReader, fmt: str, handle: IO[bytes]) -> int:
    rows = 0
    if fmt == "csv":  # madstream's own CSV: nested values as JSON text, as in CSV results
        for batch in reader:
            if batch.num_rows:
                handle.write(csv_bytes(batch, header=not rows))
            rows += batch.num_rows
        if not rows:  # no rows: still the header
            handle.write(csv_bytes(pa.RecordBatch.from_pylist([], schema=reader.schema), header=True))
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        with pq.ParquetWriter(handle, reader.schema) as writer:
            for batch in reader:
                writer.write_batch(batch)
                rows += batch.num_rows
    else:
        for batch in reader:
            if not batch.num_rows:
                continue
            if all(finite(c) for c in batch.columns):
                handle.write(b"".join(orjson.dumps(r, default=str) + b"\n" for r in batch.to_pylist()))
            else:  # madstream's own JSON lines: NaN and ±infinity as NaN / Infinity tokens, not null
                handle.write(json_bytes(batch))
            rows += batch.num_rows
    return rows


def _emit_text(text: str, output: str | None) -> None:
    if output is None:
        sys.stdout.write(text)
    else:
        with _opened(output, "w") as fh:
            fh.write(text)


def _opened(output: str, mode: str) -> IO[Any]:
    """``output`` opened for writing, or a clear error naming it (no raw ``FileNotFoundError``)."""
    try:
        return open(output, "wb") if "b" in mode else open(output, "w", encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise CliError(f"cannot write --output `{output}`: {reason}; give a path in a folder that exists") from None
