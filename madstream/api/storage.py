"""``Storage``: the public face of a file store, with the seed's async helper methods.

``get_fs()`` returns a :class:`Storage`, and the seed's users call ``await fs.write_path(...)``
and friends: each helper is a worker-thread hop around a blocking primitive of the
:class:`~madstream.storage.store.FileStore` below. :meth:`Storage.active` makes a storage the
current one for a block of code (see :func:`~madstream.api.config.current_storage`).
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import posixpath
from collections.abc import Iterator
from typing import Any

import anyio.to_thread
import orjson

from ..run.persist import persist_rows
from ..storage.store import FileStore

__all__ = ["Storage", "active_storage"]

_active: contextvars.ContextVar[Storage | None] = contextvars.ContextVar("madstream_storage", default=None)


def active_storage() -> Storage | None:
    """The storage made active by :meth:`Storage.active` in this context, if any."""
    return _active.get()


class Storage(FileStore):
    """A filesystem rooted at a base URL, with the seed's ``FsspecFileSystem`` helpers.

    Args:
        basepath: any fsspec URL; options may ride in its query string (``?endpoint_url=...``).
        storage_options: fsspec options (credentials, ports, ``known_hosts``); never shown.
        retry: how transient faults of idempotent operations are retried.

    The helper methods are ``async`` as in the seed; blocking fsspec calls run in worker threads.
    Every fault is raised as a :class:`~madstream.StorageError` naming the URL without secrets.
    """

    @contextlib.contextmanager
    def active(self) -> Iterator[Storage]:
        """Make this the storage that assets and artifacts use inside the ``with`` block.

        Context-local (a ``ContextVar``), so concurrent tasks and worker threads started inside
        the block see it and nothing else does.

        >>> with Storage("s3://bucket/prefix", {"profile": "etl"}).active():
        ...     await orders()
        """
        token = _active.set(self)
        try:
            yield self
        finally:
            _active.reset(token)

    async def write_path(self, path: str, content: bytes) -> str:
        """Write ``content`` to ``path`` (relative to the root); returns the path."""
        await anyio.to_thread.run_sync(self.write_bytes_sync, path, content)
        return path

    async def read_path(self, path: str) -> bytes:
        """Read the whole file at ``path``."""
        return await anyio.to_thread.run_sync(self.read_bytes_sync, path)

    async def exists(self, path: str) -> bool:
        """Whether ``path`` exists."""
        return await anyio.to_thread.run_sync(self.exists_sync, path)

    async def delete_path(self, path: str, recursive: bool = False) -> None:
        """Delete ``path`` (a folder needs ``recursive=True``); a missing path is not an error."""
        await anyio.to_thread.run_sync(self.delete_sync, path, recursive)

    async def glob(self, pattern: str) -> list[str]:
        """Paths matching ``pattern``, relative to the root."""
        return await anyio.to_thread.run_sync(self.glob_sync, pattern)

    async def mkdirs(self, path: str) -> None:
        """Create ``path`` and its parents."""
        await anyio.to_thread.run_sync(self.makedirs_sync, path)

    async def move_path(self, src: str, dst: str) -> None:
        """Move ``src`` to ``dst``."""
        await anyio.to_thread.run_sync(self.move_sync, src, dst)

    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        """Open ``path`` as an fsspec file (a context manager)."""
        return self.open_sync(path, mode, **kwargs)

    async def write_data(self, path: str, data: object) -> None:
        """Write rows (anything madstream accepts as a batch) as json, parquet or csv by extension."""
        await persist_rows(self, path, data, asset=path)

    async def read_data(self, path: str) -> Any:
        """Read a json, parquet or csv file back: a list of row dicts (json) or a pyarrow Table."""
        raw = await self.read_path(path)
        ext = posixpath.splitext(path)[1].lower()
        if ext == ".json":
            try:
                return orjson.loads(raw)
            except orjson.JSONDecodeError:
                return [orjson.loads(line) for line in raw.splitlines() if line.strip()]
        if ext == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_table(io.BytesIO(raw))
        if ext == ".csv":
            import pyarrow.csv as pacsv

            return pacsv.read_csv(io.BytesIO(raw))
        return raw
