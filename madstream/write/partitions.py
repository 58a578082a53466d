"""Partitions: a result written as a hive-partitioned folder, rows routed as the batches pass.

``@asset("sales/orders.parquet", partition_by=["day"])`` publishes
``sales/orders/day=2024-01-02/part-<run>-0001.parquet``: each batch is split by the values of
the partition columns (one vectorized sort, no row-by-row Python), each piece is appended to its
partition's open file, and the partition columns live in the folder names, not in the files
(readers take them from the path, so a query on ``day`` reads only that day's files).

Batches are gathered up to :data:`SPLIT_ROWS` rows before they are split: a page of 5,000 rows
over 30 partitions would otherwise be cut into pieces of ~170 rows, and the per-piece costs (a
take of every nested column, a chunk more for the parquet encoder to walk) outweigh the rows.

Memory and handles stay bounded whatever the number of partitions: rows held across all
partitions never pass :data:`BUFFER_BYTES` (the largest holding is written early), the same
budget a plain result's row group has, and at most ``max_open_files`` files are open (the least
recently written is closed, and its partition continues in a new file).

Values are written into folder names reversibly: every character other than ``A-Z a-z 0-9 _ . -``
is percent-encoded (``a/b`` → ``a%2Fb``), so is the first character of a value that reads as a
null marker (``NULL``), and a null value is the folder ``__HIVE_DEFAULT_PARTITION__`` (Hive's
convention, which DuckDB, Spark and pyarrow all read as null).
"""

from __future__ import annotations

import datetime as dt
import decimal
import posixpath
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from ..base.defaults import MAX_OPEN_FILES
from ..base.errors import BatchError
from ..storage.store import FileStore
from .sinks import ROW_GROUP_BYTES, ROW_GROUP_ROWS, ParquetSink, Sink, open_sink
from .typenames import duckdb_types

__all__ = ["BUFFER_BYTES", "NULL_PARTITION", "PartitionedResult", "partition_dir", "split"]

#: Parquet row-group bytes held across every open partition file.
BUFFER_BYTES = 16 << 20
#: Rows (or Arrow bytes) gathered before a split: few large pieces rather than many small ones.
SPLIT_ROWS = 65_536
SPLIT_BYTES = 4 << 20
#: The folder name of a null partition value (Hive's, read as null by DuckDB).
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"

_SAFE = re.compile(r"[^A-Za-z0-9_.\-]")
_NULL_WORDS = {"null", NULL_PARTITION.lower()}


def _text(value: Any, column: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time, int, float, decimal.Decimal, str)):
        return value.isoformat() if isinstance(value, (dt.date, dt.time)) else str(value)
    raise BatchError(
        f"cannot partition by a value of type {type(value).__name__}", column=column,
        hint="partition by text, numbers, booleans, dates or timestamps",
    )


def _encode(value: Any, column: str) -> str:
    if value is None:
        return NULL_PARTITION
    text = _SAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), _text(value, column))
    if text.lower() in _NULL_WORDS:  # the literal text, not a null: its first letter encoded
        text = f"%{ord(text[0]):02X}{text[1:]}"
    return text


def partition_dir(columns: Sequence[str], values: Sequence[Any]) -> str:
    """``day=2024-01-02/region=eu`` for these values (encoded reversibly)."""
    return "/".join(f"{_encode(c, c)}={_encode(v, c)}" for c, v in zip(columns, values))


def check_partition_columns(schema: pa.Schema, columns: Sequence[str]) -> None:
    """Raise ``BatchError`` unless ``schema`` has every partition column, each of a kind a folder
    name can hold (checked per batch, before its rows are gathered for a later split)."""
    missing = [c for c in columns if c not in schema.names]
    if missing:
        raise BatchError(
            f"has no partition column(s) {', '.join(f'`{c}`' for c in missing)}",
            hint="every row needs the partition_by columns (a null value goes to its own partition)",
        )
    for name in columns:
        kind = schema.field(name).type
        if pa.types.is_nested(kind) or pa.types.is_binary(kind) or pa.types.is_large_binary(kind) \
                or pa.types.is_fixed_size_binary(kind) or pa.types.is_duration(kind) or pa.types.is_interval(kind):
            raise BatchError(f"cannot partition by a {kind} column", column=name,
                             hint="partition by text, numbers, booleans, dates or timestamps")


def split(batch: pa.RecordBatch, columns: Sequence[str]) -> list[tuple[str, pa.RecordBatch]]:
    """``batch`` cut into one piece per partition (partition columns dropped), in first-seen order."""
    import pyarrow.compute as pc  # on first use: it adds to `import madstream`

    check_partition_columns(batch.schema, columns)
    ids: np.ndarray | None = None
    dictionaries = []
    for name in columns:
        encoded = pc.dictionary_encode(batch.column(name), null_encoding="encode")
        dictionaries.append(encoded.dictionary.to_pylist())
        indices = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        ids = indices if ids is None else ids * len(dictionaries[-1]) + indices
    assert ids is not None
    keep = [n for n in batch.schema.names if n not in columns]
    data = batch.select(keep)
    order_groups: list[tuple[int, np.ndarray | None]]
    if len(ids) and (ids == ids[0]).all():  # the common case: a page of one partition
        order_groups = [(int(ids[0]), None)]
    else:
        order = np.argsort(ids, kind="stable")
        groups, starts = np.unique(ids[order], return_index=True)
        bounds = [*starts.tolist(), len(order)]
        order_groups = [(int(g), order[bounds[i]:bounds[i + 1]]) for i, g in enumerate(groups.tolist())]
    pieces = []
    for group, rows in order_groups:
        values = []
        for dictionary in reversed(dictionaries):
            group, index = divmod(group, len(dictionary))
            values.append(dictionary[index])
        piece = data if rows is None else data.take(pa.array(rows))
        pieces.append((partition_dir(columns, values[::-1]), piece))
    return pieces


@dataclass
class _Open:
    sink: Sink
    stored: str
    final: str
    schema: pa.Schema


@dataclass
class PartitionFile:
    """One closed file of a partitioned result."""

    final: str
    stored: str
    size: int
    crc32: int
    rows: int
    columns: dict[str, str]


@dataclass
class _Held:
    """A partition's rows not yet in a file: written as one row group (or run of lines) at once."""

    pieces: list[pa.RecordBatch] = field(default_factory=list)
    rows: int = 0
    bytes: int = 0


@dataclass
class PartitionedResult:
    """The files of one partitioned result of a run (the writer's thread calls it).

    Each partition's rows are held apart from its file, so the bound on held bytes and the bound
    on open files are independent: with more partitions than ``max_open_files``, a partition's
    file is opened only when its rows are written out (a row group's worth, or the largest
    holding when all of them pass :data:`BUFFER_BYTES`), not for every piece of every batch.
    """

    store: FileStore
    staging: Any
    final: str
    filetype: str
    partition_by: tuple[str, ...]
    max_open_files: int = MAX_OPEN_FILES
    files: list[PartitionFile] = field(default_factory=list)
    _open: OrderedDict[str, _Open] = field(default_factory=OrderedDict)
    _counts: dict[str, int] = field(default_factory=dict)
    _pending: list[pa.RecordBatch] = field(default_factory=list)
    _pending_rows: int = 0
    _pending_bytes: int = 0
    _held: dict[str, _Held] = field(default_factory=dict)
    _held_bytes: int = 0

    def write(self, batch: pa.RecordBatch) -> int:
        """Take ``batch``'s rows for their partitions; returns the bytes of files closed meanwhile."""
        check_partition_columns(batch.schema, self.partition_by)  # fails at its own batch
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        self._pending_bytes += batch.nbytes
        if self._pending_rows >= SPLIT_ROWS or self._pending_bytes >= SPLIT_BYTES:
            return self._route()
        return 0

    def roll(self) -> int:
        """Write out and close everything (the schema widened: new files take the new schema)."""
        closed = self._route()
        for part in list(self._held):
            closed += self._write_out(part)
        while self._open:
            closed += self._close(next(iter(self._open)))
        return closed

    def close(self) -> list[PartitionFile]:
        self.roll()
        return self.files

    def abort(self) -> None:
        self._pending.clear()
        self._held.clear()
        for current in self._open.values():
            try:
                current.sink.close()
            except Exception:  # noqa: BLE001, S112 - the run's own error is the one to report
                continue
        self._open.clear()

    def _route(self) -> int:
        """Split the gathered batches (one schema) at once and hold each piece for its partition."""
        if not self._pending:
            return 0
        pending, self._pending, self._pending_rows, self._pending_bytes = self._pending, [], 0, 0
        whole = pending[0] if len(pending) == 1 else pa.Table.from_batches(pending).combine_chunks().to_batches()[0]
        del pending
        closed = 0
        for part, piece in split(whole, self.partition_by):
            held = self._held.setdefault(part, _Held())
            held.pieces.append(piece)
            held.rows += piece.num_rows
            held.bytes += piece.nbytes
            self._held_bytes += piece.nbytes
            if held.rows >= ROW_GROUP_ROWS or held.bytes >= ROW_GROUP_BYTES:
                closed += self._write_out(part)
        while self._held_bytes > BUFFER_BYTES and self._held:
            closed += self._write_out(self._to_write_out())
        return closed

    def _to_write_out(self) -> str:
        """The partition whose held rows go first when all of them pass the bound: the largest,
        or the largest with an open file if it holds at least half as much (with more partitions
        than open files, always taking the largest would close a file at nearly every write)."""
        size = lambda part: self._held[part].bytes  # noqa: E731
        largest = max(self._held, key=size)
        opened = [part for part in self._held if part in self._open]
        if opened and largest not in self._open:
            best = max(opened, key=size)
            if 2 * size(best) >= size(largest):
                return best
        return largest

    def _write_out(self, part: str) -> int:
        """Write a partition's held rows to its file (opened, least recently written closed, if need be)."""
        held = self._held.pop(part)
        self._held_bytes -= held.bytes
        closed = 0
        current = self._open.get(part)
        if current is None:
            closed += self._make_room()
            current = self._open[part] = self._start(part, held.pieces[0].schema)
        else:
            self._open.move_to_end(part)
        for piece in held.pieces:
            current.sink.write(piece)
        if isinstance(current.sink, ParquetSink):
            current.sink.flush()  # one row group of everything held
        return closed

    def _start(self, part: str, schema: pa.Schema) -> _Open:
        number = self._counts[part] = self._counts.get(part, 0) + 1
        stem, ext = posixpath.splitext(posixpath.basename(self.final))
        final = posixpath.join(posixpath.dirname(self.final), part, f"{stem}-{number:04d}{ext}")
        stored = self.staging.stage_partition(part, final)
        sink = open_sink(self.store, stored, self.filetype, schema)
        return _Open(sink, stored, final, schema)

    def _close(self, part: str) -> int:
        current = self._open.pop(part)
        written = current.sink.close()
        self.files.append(PartitionFile(
            final=current.final, stored=current.stored, size=written.size, crc32=written.crc32,
            rows=current.sink.rows, columns=duckdb_types(current.schema),
        ))
        return written.size

    def _make_room(self) -> int:
        closed = 0
        while len(self._open) >= max(self.max_open_files, 1):
            closed += self._close(next(iter(self._open)))  # the least recently written
        return closed
