"""``FsspecFileSystem``: the seed's Prefect storage block, a thin shell over :class:`Storage`.

Only this module imports prefect, and only when the block class is first touched
(``madstream.FsspecFileSystem`` or ``FILESYSTEM_BLOCK_NAME``), so importing madstream and
materializing on local storage never pays for prefect. The block keeps ``storage_options`` in a
Prefect ``SecretDict``: encrypted at rest by the Prefect server, obfuscated in reprs and logs.
"""

from __future__ import annotations

import os
from typing import Any

import anyio.to_thread

from ._faults import redact
from ._storage import Storage

__all__ = ["block_class", "load_block_storage"]

_cls: type | None = None


def block_class() -> type:
    """The ``FsspecFileSystem`` block class (built on first use; imports prefect)."""
    global _cls
    if _cls is None:
        _cls = _build()
    return _cls


def _build() -> type:
    try:
        from prefect.filesystems import WritableDeploymentStorage, WritableFileSystem
        from prefect.types import SecretDict
        from pydantic import Field, PrivateAttr
    except ImportError as exc:  # pragma: no cover - prefect is a dependency
        raise ImportError("FsspecFileSystem needs prefect: pip install 'prefect>=3.9'") from exc

    class FsspecFileSystem(WritableFileSystem, WritableDeploymentStorage):  # type: ignore[misc]
        """A Prefect block: an fsspec URL (``basepath``) plus secret fsspec ``storage_options``.

        >>> FsspecFileSystem(basepath="sftp://etl@files.example.com:22/data",
        ...                  storage_options={"password": "..."}).save("warehouse")
        >>> # FILESYSTEM_BLOCK_NAME=warehouse makes get_fs() and every asset use it
        """

        _block_type_name = "Fsspec File System"
        _description = "Any fsspec filesystem (local, SFTP, S3, ...) rooted at a base URL, for madstream assets."

        basepath: str = Field(default="file://./.tmp/storage", description="fsspec URL of the storage root")
        storage_options: SecretDict = Field(
            default_factory=lambda: SecretDict({}),
            description="fsspec options (credentials, endpoint_url, port, known_hosts, ...)",
        )
        _storage: Storage | None = PrivateAttr(default=None)

        def as_storage(self) -> Storage:
            """The madstream :class:`Storage` this block describes (one connection per block)."""
            if self._storage is None:
                options = dict(self.storage_options.get_secret_value())
                basepath = self.basepath
                if basepath.startswith("file://") and not basepath.startswith("file:///"):
                    basepath = "file://" + os.path.abspath(basepath[len("file://"):])
                self._storage = Storage(basepath, options)
            return self._storage

        def __repr__(self) -> str:
            return f"FsspecFileSystem(basepath={redact(self.basepath)!r}, storage_options=SecretDict('**********'))"

        __str__ = __repr__

        # -- Prefect's WritableFileSystem / WritableDeploymentStorage ----------------------------
        async def read_path(self, path: str) -> bytes:
            """The bytes of ``path`` (relative to ``basepath``)."""
            return await self.as_storage().read_path(path)

        async def write_path(self, path: str, content: bytes) -> str:  # type: ignore[override]
            """Write ``content`` to ``path``; returns ``path``."""
            return await self.as_storage().write_path(path, content)

        async def get_directory(self, from_path: str | None = None, local_path: str | None = None) -> None:
            """Copy the folder ``from_path`` (default: the root) to the local ``local_path``."""
            storage = self.as_storage()
            source = (from_path or "").strip("/")
            target = os.path.abspath(local_path or ".")
            for path in await storage.glob(f"{source}/**" if source else "**"):
                rel = path[len(source):].lstrip("/") if source else path
                if rel and not await anyio.to_thread.run_sync(storage.fs.isdir, path):
                    await anyio.to_thread.run_sync(_save_local, os.path.join(target, rel), await storage.read_path(path))

        async def put_directory(  # type: ignore[override]
            self, local_path: str | None = None, to_path: str | None = None, ignore_file: str | None = None
        ) -> int:
            """Upload the local folder ``local_path`` to ``to_path``; returns the number of files."""
            storage = self.as_storage()
            base = os.path.abspath(local_path or ".")
            files = [os.path.join(d, f) for d, _, names in os.walk(base) for f in names]
            for file in files:
                rel = os.path.relpath(file, base).replace(os.sep, "/")
                content = await anyio.to_thread.run_sync(_read_local, file)
                await storage.write_path(f"{to_path or ''}/{rel}".lstrip("/"), content)
            return len(files)

        # -- the seed's helpers ------------------------------------------------------------------
        async def exists(self, path: str) -> bool:
            """Whether ``path`` exists."""
            return await self.as_storage().exists(path)

        async def delete_path(self, path: str, recursive: bool = False) -> None:
            """Delete ``path`` (a folder needs ``recursive=True``)."""
            await self.as_storage().delete_path(path, recursive)

        async def glob(self, pattern: str) -> list[str]:
            """Paths matching ``pattern``, relative to ``basepath``."""
            return await self.as_storage().glob(pattern)

        async def mkdirs(self, path: str) -> None:
            """Create ``path`` and its parents."""
            await self.as_storage().mkdirs(path)

        async def move_path(self, src: str, dst: str) -> None:
            """Move ``src`` to ``dst``."""
            await self.as_storage().move_path(src, dst)

        async def write_data(self, path: str, data: object) -> None:
            """Write rows as json, parquet or csv (by extension)."""
            await self.as_storage().write_data(path, data)

        async def read_data(self, path: str) -> Any:
            """Read a json, parquet or csv file back."""
            return await self.as_storage().read_data(path)

        def open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
            """Open ``path`` as a file object (a context manager)."""
            return self.as_storage().open(path, mode, **kwargs)

    return FsspecFileSystem


def _save_local(path: str, content: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(content)


def _read_local(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def load_block_storage(name: str) -> Storage:
    """The storage of the saved ``FsspecFileSystem`` block ``name`` (``FILESYSTEM_BLOCK_NAME``).

    Loads synchronously even when called on an event loop: it happens once per process and
    configuration, and the engine needs the storage before anything else can run.
    """
    block: Any = block_class().load(name, _sync=True)  # type: ignore[attr-defined]
    return block.as_storage()  # type: ignore[no-any-return]
