"""Remote file handles: big pipelined writes, and every fault translated to a storage error.

pyarrow's parquet writer and the text sinks write many small pieces (page headers, one CSV
chunk per batch). On SFTP each ``write`` of an sshfs file is a round trip through fsspec's
event loop, so those are gathered here into large chunks that asyncssh then sends as many
parallel (pipelined) requests. Object-store files (s3fs, gcsfs, ...) already buffer and upload
each block as one multipart part, so they only get the error translation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fsspec.spec import AbstractBufferedFile

from ._errors import StorageError

__all__ = ["StorageFile", "WRITE_CHUNK"]

#: Bytes gathered before one write reaches an unbuffered remote file (SFTP).
WRITE_CHUNK = 8 << 20


class StorageFile:
    """An fsspec file whose errors are madstream storage errors, with large writes."""

    def __init__(self, inner: Any, translate: Callable[[BaseException], StorageError], *, path: str) -> None:
        self._inner = inner
        self._translate = translate
        self.path = path
        # Buffered files (object stores) gather blocks themselves; SFTP files do not.
        self._gather = not isinstance(inner, AbstractBufferedFile) and "w" in getattr(inner, "mode", "")
        self._pending = bytearray()
        self._pos = 0

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
        return self._pos if "w" in getattr(self._inner, "mode", "") else int(self._call(self._inner.tell))

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
    def read(self, size: int = -1) -> bytes:
        return bytes(self._call(self._inner.read, size))

    def readinto(self, buffer: Any) -> int:
        data = self.read(memoryview(buffer).nbytes)
        memoryview(buffer)[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        return int(self._call(self._inner.seek, offset, whence))

    def readable(self) -> bool:
        return "r" in getattr(self._inner, "mode", "rb")

    def writable(self) -> bool:
        return not self.readable()

    def seekable(self) -> bool:
        return self.readable()

    def __enter__(self) -> StorageFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
