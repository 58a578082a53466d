"""Sinks: one output file each, fed record batches, in parquet, JSON lines or CSV.

Sinks are synchronous and run in worker threads. A parquet sink buffers small batches into
large row groups (fewer, bigger row groups read faster and compress better); JSON and CSV sinks
append encoded bytes. On local disk files are opened natively, so pyarrow writes without going
through a Python file object.
"""

from __future__ import annotations

import os
import posixpath
import zlib
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from ..base.types import Encoded
from ..storage.store import FileStore
from ..storage.uploads import Uploads
from .encode import csv_bytes, json_bytes

__all__ = ["Sink", "Written", "filetype_of", "open_sink", "write_fragment"]

T = TypeVar("T")

#: Rows buffered into one parquet row group ...
ROW_GROUP_ROWS = 65_536
#: ... unless the buffered Arrow data reaches this many bytes first. The buffer is the run's
#: largest allocation, and pyarrow's encoder needs about as much again while it writes the
#: group, so this pair bounds a run's memory whatever the row width. 64k-row groups keep most
#: of the size benefit of larger ones and give readers more row groups to scan in parallel.
ROW_GROUP_BYTES = 16 << 20
#: Bytes buffered on the Arrow side before a remote (Python) file is written: enough to call
#: Python rarely (a call a MiB), small because every layer under it (the storage file's own
#: gathering, s3fs's part buffer, asyncssh's packets) holds copies of what it is handed.
_REMOTE_BUFFER = 1 << 20


class Written(NamedTuple):
    """A closed file: its size and CRC-32, recorded in the version that lists it."""

    size: int
    crc32: int


def filetype_of(path: str) -> str:
    """The file type named by ``path``'s extension (``parquet``, ``json`` or ``csv``)."""
    return posixpath.splitext(path)[1].lstrip(".").lower()


class Sink(Protocol):
    path: str
    rows: int

    def write(self, batch: pa.RecordBatch, encoded: Encoded | None = None) -> None:
        """Append ``batch``; ``encoded``, if given, is ``encode(batch, filetype)`` to reuse."""

    def close(self) -> Written: ...


def _crc_after(store: FileStore, path: str, remote: Any) -> int:
    """The CRC-32 of a closed file: counted as it streamed out (remote), or read back (local)."""
    if remote is not None:
        return int(remote.crc32)
    return store.crc32_sync(path)[1]  # local: from the page cache


def _local(native: str, opener: Callable[[str], T]) -> T:
    """``opener(native)``, making the parent folders first if they are missing.

    Trying first spares a run its hundreds of folder checks (one per fragment).
    """
    try:
        return opener(native)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(native), exist_ok=True)
        return opener(native)


def _open_binary(store: FileStore, path: str) -> Any:
    native = store.native(path)
    if native is not None:
        return _local(native, lambda p: open(p, "wb", buffering=1 << 20))
    return store.open_sync(path, "wb")


def _open_arrow(store: FileStore, path: str) -> tuple[pa.NativeFile, Any]:
    """An Arrow output stream for ``path`` that pyarrow can write without taking the GIL.

    Writing through a Python file object makes pyarrow take the GIL for every page it writes;
    while another thread converts rows (which holds the GIL), each of those writes waits out a
    GIL switch interval. A native file, or a large Arrow-side buffer in front of a remote file,
    keeps the encoder off the GIL. Returns the stream and, for a remote file, the storage file
    under it (which counts the CRC-32 of what passes).
    """
    native = store.native(path)
    if native is not None:
        return _local(native, lambda p: pa.OSFile(p, "wb")), None
    remote = store.open_sync(path, "wb")
    return pa.BufferedOutputStream(pa.PythonFile(remote, mode="w"), _REMOTE_BUFFER), remote


class ParquetSink:
    """A parquet file written row group by row group."""

    def __init__(self, store: FileStore, path: str, schema: pa.Schema) -> None:
        self.path = path
        self.rows = 0
        self._store = store
        self._file, self._remote = _open_arrow(store, path)
        self._writer = pq.ParquetWriter(self._file, schema)
        self._schema = schema
        self._buffer: list[pa.RecordBatch] = []
        self._buffered_rows = 0
        self._buffered_bytes = 0

    def write(self, batch: pa.RecordBatch, encoded: Encoded | None = None) -> None:
        self._buffer.append(batch)
        self._buffered_rows += batch.num_rows
        self._buffered_bytes += batch.nbytes
        self.rows += batch.num_rows
        if self._buffered_rows >= ROW_GROUP_ROWS or self._buffered_bytes >= ROW_GROUP_BYTES:
            self._flush()

    @property
    def buffered(self) -> int:
        """Bytes of Arrow data held for the next row group."""
        return self._buffered_bytes

    def flush(self) -> None:
        """Write what is buffered as a row group now (a partitioned writer bounds its memory)."""
        self._flush()

    def _flush(self) -> None:
        if self._buffer:
            table = pa.Table.from_batches(self._buffer, schema=self._schema)
            self._writer.write_table(table, row_group_size=max(table.num_rows, 1))
            self._buffer, self._buffered_rows, self._buffered_bytes = [], 0, 0

    def close(self) -> Written:
        self._flush()
        self._writer.close()
        size = self._file.tell()
        self._file.close()
        return Written(int(size), _crc_after(self._store, self.path, self._remote))


class TextSink:
    """A JSON-lines or CSV file, appended batch by batch."""

    def __init__(self, store: FileStore, path: str, filetype: str) -> None:
        self.path = path
        self.rows = 0
        self._csv = filetype == "csv"
        self._file = _open_binary(store, path)
        self._size = 0
        self._crc = 0

    def write(self, batch: pa.RecordBatch, encoded: Encoded | None = None) -> None:
        """Append ``batch``; ``encoded`` is its whole-file encoding when the caller has one."""
        data: Encoded | None = encoded
        if encoded is not None and self._csv and self.rows:
            data = _body(encoded, batch.schema.names)
        if data is None:
            data = csv_bytes(batch, header=self.rows == 0) if self._csv else json_bytes(batch)
        self._file.write(data)
        self._size += len(data)
        self._crc = zlib.crc32(data, self._crc)
        self.rows += batch.num_rows

    def close(self) -> Written:
        self._file.close()
        return Written(self._size, self._crc)


def _body(csv: Encoded, names: list[str]) -> memoryview | None:
    """A whole CSV file's bytes without its header line (``None`` if the header spans lines)."""
    if not names or any("\n" in n or "\r" in n for n in names):
        return None
    if not isinstance(csv, bytes):  # CSV encodings are bytes; anything else is re-encoded
        return None
    return memoryview(csv)[csv.index(b"\n") + 1:]


def open_sink(store: FileStore, path: str, filetype: str, schema: pa.Schema) -> Sink:
    """A sink writing ``filetype`` at ``path``."""
    if filetype == "parquet":
        return ParquetSink(store, path, schema)
    return TextSink(store, path, filetype)


def encode(batch: pa.RecordBatch, filetype: str) -> bytes | None:
    """The bytes of a whole JSON/CSV file holding ``batch`` (``None`` for parquet)."""
    if filetype == "json":
        return json_bytes(batch)
    if filetype == "csv":
        return csv_bytes(batch, header=True)
    return None


def write_fragment(
    store: FileStore, path: str, batch: pa.RecordBatch, filetype: str, encoded: Encoded | None, uploads: Uploads | None = None,
) -> Written:
    """Write ``batch`` as one whole file; returns its size and CRC-32.

    With ``uploads`` (remote storage), the file is made in memory and uploaded in the background.
    """
    if uploads is not None and store.native(path) is None:
        whole = _fragment_bytes(batch, filetype, encoded)
        uploads.put(path, whole)
        return Written(len(whole), zlib.crc32(whole))
    if filetype == "parquet":
        # A native stream: pyarrow then resolves no filesystem and writes off the GIL.
        out, remote = _open_arrow(store, path)
        with out:
            pq.write_table(pa.Table.from_batches([batch]), out)
            size = int(out.tell())
        return Written(size, _crc_after(store, path, remote))
    data = encoded if encoded is not None else encode(batch, filetype)
    assert data is not None
    with _open_binary(store, path) as fh:
        fh.write(data)
    return Written(len(data), zlib.crc32(data))


def _fragment_bytes(batch: pa.RecordBatch, filetype: str, encoded: Encoded | None) -> bytes:
    """The whole file holding ``batch``, in memory."""
    if filetype == "parquet":
        out = pa.BufferOutputStream()
        pq.write_table(pa.Table.from_batches([batch]), out)
        return out.getvalue().to_pybytes()
    data = encoded if encoded is not None else encode(batch, filetype)
    assert data is not None
    return data if isinstance(data, bytes) else bytes(data)
