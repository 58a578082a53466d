"""``FsspecFileSystem``: the seed's Prefect storage block, built on madstream's :class:`Storage`.

Only this module imports prefect, and only when the block is used.
"""

from __future__ import annotations

from typing import Any

from ._storage import Storage

__all__ = ["block_class", "load_block_storage"]

_cls: type | None = None


def block_class() -> type:
    """The ``FsspecFileSystem`` block class (created on first use; imports prefect)."""
    global _cls
    if _cls is not None:
        return _cls
    try:
        from prefect.filesystems import WritableDeploymentStorage, WritableFileSystem
        from pydantic import Field, SecretStr
    except ImportError as exc:  # pragma: no cover - prefect is a dependency
        raise ImportError("FsspecFileSystem needs prefect: pip install 'prefect>=3'") from exc

    class FsspecFileSystem(WritableFileSystem, WritableDeploymentStorage):  # type: ignore[misc]
        """A Prefect block holding a storage URL and secret fsspec options."""

        _block_type_name = "madstream fsspec filesystem"
        basepath: str = Field(default="file://./.tmp/storage", description="fsspec URL of the root")
        storage_options: dict[str, SecretStr | Any] = Field(default_factory=dict, description="fsspec options")

        def _storage(self) -> Storage:
            options = {
                k: v.get_secret_value() if isinstance(v, SecretStr) else v for k, v in self.storage_options.items()
            }
            return Storage(self.basepath, options)

        async def read_path(self, path: str) -> bytes:
            return await self._storage().read_path(path)

        async def write_path(self, path: str, content: bytes) -> str:
            return await self._storage().write_path(path, content)

        async def get_directory(self, from_path: str | None = None, local_path: str | None = None) -> None:
            storage = self._storage()
            storage.fs.get(from_path or "", local_path or ".", recursive=True)

        async def put_directory(self, local_path: str | None = None, to_path: str | None = None, ignore_file: str | None = None) -> None:
            storage = self._storage()
            storage.fs.put(local_path or ".", to_path or "", recursive=True)

        def as_storage(self) -> Storage:
            return self._storage()

    _cls = FsspecFileSystem
    return _cls


def load_block_storage(name: str) -> Storage:
    """The storage described by the saved ``FsspecFileSystem`` block ``name``."""
    block = block_class().load(name)
    if hasattr(block, "__await__"):
        import anyio.from_thread

        raise RuntimeError("load FILESYSTEM_BLOCK_NAME blocks from synchronous code")
    return block.as_storage()  # type: ignore[no-any-return]
