"""Remote file handles: big pipelined writes, and every fault translated to a storage error.

pyarrow's parquet writer and the text sinks write many small pieces (page headers, one CSV
chunk per batch). On SFTP each ``write`` of an sshfs file is a round trip through fsspec's
event loop, so those are gathered here into large chunks that asyncssh then sends as many
parallel (pipelined) requests. Object-store files (s3fs, gcsfs, ...) already buffer and upload
each block as one multipart part, so they only get the error translation.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

from fsspec.spec import AbstractBufferedFile

from ..base.errors import StorageError
from .paths import protocols

__all__ = ["WRITE_CHUNK", "IOStats", "StorageFile"]

#: Bytes gathered before one write reaches an unbuffered remote file (SFTP). asyncssh sends a
#: write as parallel 256 KiB requests but holds several copies of it while they are out (its
#: slices, packets and their encryption): 2 MiB still keeps eight requests in flight, and a
#: 1M-row run peaked at 247 MiB against 299 MiB with 8 MiB writes.
WRITE_CHUNK = 2 << 20


@dataclass
class IOStats:
    """Bytes moved through remote file handles of one storage (to check pushdown, to bench).

    Many threads move bytes at once (DuckDB's readers, a run's writer, parallel publishes), so
    every update goes through :meth:`add` under a lock.
    """

    #: Bytes handed to readers (DuckDB, pyarrow).
    bytes_read: int = 0
    #: Bytes actually transferred for those reads, read-ahead included.
    bytes_fetched: int = 0
    bytes_written: int = 0
    files_opened: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, *, read: int = 0, fetched: int = 0, written: int = 0, opened: int = 0) -> None:
        with self._lock:
            self.bytes_read += read
            self.bytes_fetched += fetched
            self.bytes_written += written
            self.files_opened += opened

    def reset(self) -> None:
        with self._lock:
            self.bytes_read = self.bytes_fetched = self.bytes_written = self.files_opened = 0


class StorageFile:
    """An fsspec file whose errors are madstream storage errors, with large writes."""

    def __init__(
        self, inner: Any, translate: Callable[[BaseException], StorageError], *, path: str, stats: IOStats
    ) -> None:
        self._inner = inner
        self._stats = stats
        stats.add(opened=1)
        self._translate = translate
        self.path = path
        # Buffered files (object stores) gather blocks themselves; SFTP files do not.
        self._gather = not isinstance(inner, AbstractBufferedFile) and "w" in getattr(inner, "mode", "")
        self._pending = bytearray()
        self._pos = 0
        #: CRC-32 of every byte written so far (recorded with the file when it is committed).
        self.crc32 = 0
        self._fetched = 0
        self._lock = threading.Lock()
        self._where = threading.local()
        # sshfs files read at an offset natively (SFTP requests carry one).
        self._positional = "sftp" in protocols(getattr(inner, "fs", None))

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except StorageError:
            raise
        except Exception as exc:
            raise self._translate(exc) from exc

    # -- writing -------------------------------------------------------------------------------
    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        size = view.nbytes
        self._pos += size
        self.crc32 = zlib.crc32(view, self.crc32)
        self._stats.add(written=size)
        if not self._gather:
            self._call(self._inner.write, view)
            return size
        self._pending += view
        if len(self._pending) >= WRITE_CHUNK:
            self._drain()
        return size

    def _drain(self) -> None:
        if self._pending:
            chunk, self._pending = bytes(self._pending), bytearray()
            self._call(self._inner.write, chunk)

    def flush(self) -> None:
        # An explicit flush must not turn a big pipelined write into many small ones.
        if not self._gather:
            self._call(self._inner.flush)

    def tell(self) -> int:
        if "w" in getattr(self._inner, "mode", ""):
            return self._pos
        pos = getattr(self._where, "pos", None)
        return int(self._call(self._inner.tell)) if pos is None else int(pos)

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._drain()
        finally:
            self._call(self._inner.close)

    @property
    def closed(self) -> bool:
        return bool(getattr(self._inner, "closed", False))

    # -- reading -------------------------------------------------------------------------------
    # DuckDB shares one handle between its threads and reads with `seek` then `read`; each
    # thread therefore keeps its own position, and a read moves the shared file under a lock
    # (or, on SFTP, asks for the bytes at an offset: no shared position at all).
    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 0:
            self._where.pos = offset
            return offset
        with self._lock:
            self._call(self._inner.seek, offset, whence)
            self._where.pos = int(self._call(self._inner.tell))
        return int(self._where.pos)

    def read(self, size: int = -1) -> bytes:
        pos = getattr(self._where, "pos", None)
        if self._positional and pos is not None and size >= 0:
            data = bytes(self._call(self._inner.read, size, pos))
        else:
            with self._lock:
                if pos is not None:
                    self._call(self._inner.seek, pos)
                data = bytes(self._call(self._inner.read, size))
                pos = int(self._call(self._inner.tell)) - len(data)
        self._where.pos = pos + len(data)
        self._stats.add(read=len(data), fetched=self._fetched_for(len(data)))
        return data

    def _fetched_for(self, served: int) -> int:
        """Bytes really downloaded for a read that served ``served`` bytes.

        Object-store caches know what they fetched (read-ahead included); SFTP reads fetch
        exactly what was asked.
        """
        cache = getattr(self._inner, "cache", None)
        total = getattr(cache, "total_requested_bytes", None)
        if total is None or getattr(cache, "name", "") == "none":
            return served
        with self._lock:
            fetched, self._fetched = int(total) - self._fetched, int(total)
        return fetched

    def readinto(self, buffer: Any) -> int:
        data = self.read(memoryview(buffer).nbytes)
        memoryview(buffer)[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return "r" in getattr(self._inner, "mode", "rb")

    def writable(self) -> bool:
        return not self.readable()

    def seekable(self) -> bool:
        return self.readable()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

