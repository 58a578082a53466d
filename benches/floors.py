"""The hand-written plain-pyarrow floor: the same files madstream writes, with nothing around it.

What a careful engineer would write by hand for one known workload, single-threaded:
``RecordBatch.from_pylist`` per page, one fragment file per page, and one result file fed as
the pages pass (parquet row groups buffered to 64k rows, as madstream does). No schema
evolution, no staging or commit, no run records: the cost of the bytes alone.
"""

from __future__ import annotations

import io
import os
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from workload import pages

__all__ = ["FLOORS"]

#: The row-group size madstream writes for this workload (its 64k-row cap), so files match.
ROW_GROUP_ROWS = 65_536


def _dirs(workdir: str) -> tuple[str, str]:
    frags = os.path.join(workdir, "bench", "_artifacts", "asset=orders")
    os.makedirs(frags, exist_ok=True)
    return frags, os.path.join(workdir, "bench")


class _ParquetResult:
    """A parquet file fed record batches, written in 64k-row row groups."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.writer: pq.ParquetWriter | None = None
        self.buffer: list[pa.RecordBatch] = []
        self.rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        self.buffer.append(batch)
        self.rows += batch.num_rows
        if self.rows >= ROW_GROUP_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.buffer:
            return
        table = pa.Table.from_batches(self.buffer)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema)
        self.writer.write_table(table, row_group_size=table.num_rows)
        self.buffer, self.rows = [], 0

    def close(self) -> None:
        self.flush()
        if self.writer is not None:
            self.writer.close()


def floor_parquet(rows: int, workdir: str) -> None:
    """(a) parquet fragments + parquet result."""
    frags, out = _dirs(workdir)
    result = _ParquetResult(os.path.join(out, "orders.parquet"))
    for i, page in enumerate(pages(rows), 1):
        batch = pa.RecordBatch.from_pylist(page)
        pq.write_table(pa.Table.from_batches([batch]), os.path.join(frags, f"fragment={i:06d}.parquet"))
        result.write(batch)
    result.close()


def floor_json(rows: int, workdir: str) -> None:
    """(b) JSON-lines fragments (orjson, row by row) + parquet result."""
    frags, out = _dirs(workdir)
    result = _ParquetResult(os.path.join(out, "orders.parquet"))
    dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    for i, page in enumerate(pages(rows), 1):
        # One write per row into a buffered file: joining a page of orjson results first is
        # ~4x slower (keeping 5,000 fresh bytes objects alive is what costs).
        with open(os.path.join(frags, f"fragment={i:06d}.json"), "wb", buffering=1 << 20) as fh:
            write = fh.write
            for row in page:
                write(dumps(row, option=newline))
        result.write(pa.RecordBatch.from_pylist(page))
    result.close()


def _csv_page(page: list[dict[str, Any]], header: bool) -> bytes:
    batch = pa.RecordBatch.from_pylist(page)
    cols = []
    for f, col in zip(batch.schema, batch.columns):
        if pa.types.is_nested(f.type):  # CSV cannot nest: nested cells as JSON text
            col = pa.array([orjson.dumps(r.get(f.name)).decode() for r in page], pa.string())
        cols.append(col)
    flat = pa.RecordBatch.from_arrays(cols, names=batch.schema.names)
    sink = io.BytesIO()
    pacsv.write_csv(flat, sink, pacsv.WriteOptions(include_header=header))
    return sink.getvalue()


def floor_csv(rows: int, workdir: str) -> None:
    """(c) CSV fragments + CSV result (nested cells as JSON text)."""
    frags, out = _dirs(workdir)
    with open(os.path.join(out, "orders.csv"), "wb", buffering=1 << 20) as result:
        for i, page in enumerate(pages(rows), 1):
            data = _csv_page(page, header=True)
            with open(os.path.join(frags, f"fragment={i:06d}.csv"), "wb") as fh:
                fh.write(data)
            result.write(data if i == 1 else data[data.index(b"\n") + 1:])


FLOORS = {"parquet": floor_parquet, "json": floor_json, "csv": floor_csv}
