"""The seed's ``FsspecFileSystem`` helper methods, async, on top of :class:`Storage`'s sync primitives.

Kept apart from the storage core: these are the user-facing conveniences (``get_fs()`` returns a
storage, and the seed's users call ``await fs.write_path(...)`` and friends), each one a worker
thread hop around a blocking primitive.
"""

from __future__ import annotations

import io
import posixpath
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import orjson

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

__all__ = ["SeedHelpers"]


class SeedHelpers:
    """Mixin of :class:`~madstream.Storage`: the seed's async filesystem helpers."""

    if TYPE_CHECKING:  # the primitives Storage provides
        def write_bytes_sync(self, path: str, data: bytes) -> None: ...
        def read_bytes_sync(self, path: str) -> bytes: ...
        def exists_sync(self, path: str) -> bool: ...
        def delete_sync(self, path: str, recursive: bool = False) -> None: ...
        def glob_sync(self, pattern: str) -> list[str]: ...
        def makedirs_sync(self, path: str) -> None: ...
        def move_sync(self, src: str, dst: str) -> None: ...
        def open_sync(self, path: str, mode: str = "rb", **kwargs: Any) -> Any: ...
        def active(self) -> AbstractContextManager[Any]: ...

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
        from ._artifact import DataArtifact

        with self.active():  # this storage, even when it is not the configured one
            await DataArtifact(path, data).persist()

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
