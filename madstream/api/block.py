"""``FsspecFileSystem``: the seed's Prefect storage block, a thin shell over :class:`Storage`.

This module imports prefect, so nothing imports it until the block is needed:
``madstream.FsspecFileSystem`` (a lazy attribute of the package) or ``FILESYSTEM_BLOCK_NAME``
(:func:`~madstream.api.config.current_storage`). Importing madstream and materializing on local
storage therefore never pays for prefect. The block keeps ``storage_options`` in a Prefect
``SecretDict``: encrypted at rest by the Prefect server, obfuscated in reprs and logs.
"""

from __future__ import annotations

import os
from typing import Any

import anyio.to_thread

try:
    from prefect.filesystems import WritableDeploymentStorage, WritableFileSystem
    from prefect.types import SecretDict
    from prefect.utilities.filesystem import filter_files
    from pydantic import Field, PrivateAttr
except ImportError as exc:  # pragma: no cover - prefect is a dependency
    raise ImportError("FsspecFileSystem needs prefect: pip install 'prefect>=3.9'") from exc

from ..base.errors import PermanentStorageError
from ..storage.faults import redact
from ..storage.store import DEFAULT_URL
from .storage import OpenFile, Storage

__all__ = ["FsspecFileSystem", "load_block_storage"]


class FsspecFileSystem(WritableFileSystem, WritableDeploymentStorage):  # type: ignore[misc]
    """A Prefect block: an fsspec URL (``basepath``) plus secret fsspec ``storage_options``.

    >>> FsspecFileSystem(basepath="sftp://etl@files.example.com:22/data",
    ...                  storage_options={"password": "..."}).save("warehouse")
    >>> # FILESYSTEM_BLOCK_NAME=warehouse makes get_fs() and every asset use it
    """

    _block_type_name = "Fsspec File System"
    _description = "Any fsspec filesystem (local, SFTP, S3, ...) rooted at a base URL, for madstream assets."

    basepath: str = Field(default=DEFAULT_URL, description="fsspec URL of the storage root")
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

    def __getstate__(self) -> dict[Any, Any]:
        # The open connection stays behind: an unpickled block connects again on first use.
        state = super().__getstate__()
        private = state.get("__pydantic_private__")
        if private:
            state["__pydantic_private__"] = {**private, "_storage": None}
        return state

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
        for path in await anyio.to_thread.run_sync(storage.glob, f"{source}/**" if source else "**"):
            rel = path[len(source):].lstrip("/") if source else path
            if rel and not await anyio.to_thread.run_sync(storage.fs.isdir, path):
                await anyio.to_thread.run_sync(_save_local, os.path.join(target, rel), await storage.read_path(path))

    async def put_directory(  # type: ignore[override]
        self, local_path: str | None = None, to_path: str | None = None, ignore_file: str | None = None
    ) -> int:
        """Upload the local folder ``local_path`` to ``to_path``; returns the number of files.

        ``ignore_file`` names a file of ``.gitignore``-style patterns (as Prefect's own blocks
        take it, e.g. ``.prefectignore``): matching files are not uploaded.
        """
        storage = self.as_storage()
        base = os.path.abspath(local_path or ".")
        files = await anyio.to_thread.run_sync(_local_files, base, ignore_file)
        for rel in files:
            content = await anyio.to_thread.run_sync(_read_local, os.path.join(base, rel))
            await storage.write_path(f"{to_path or ''}/{rel}".lstrip("/"), content)
        return len(files)

    # -- the seed's helpers: glob, exists and mkdirs are synchronous, the rest awaited ----------
    def glob(self, pattern: str) -> list[str]:
        """Paths matching ``pattern``, relative to ``basepath``, sorted."""
        return self.as_storage().glob(pattern)

    def exists(self, path: str) -> bool:
        """Whether ``path`` exists."""
        return self.as_storage().exists(path)

    def mkdirs(self, path: str, exist_ok: bool = False) -> None:
        """Create ``path`` and its parents (an existing folder raises unless ``exist_ok``)."""
        self.as_storage().mkdirs(path, exist_ok=exist_ok)

    async def delete_path(self, path: str, recursive: bool = False) -> None:
        """Delete ``path`` (a folder needs ``recursive=True``)."""
        await self.as_storage().delete_path(path, recursive)

    async def move_path(self, src: str, dst: str) -> None:
        """Move ``src`` to ``dst``."""
        await self.as_storage().move_path(src, dst)

    async def write_data(self, path: str, data: object, indent: bool = True, **kwargs: Any) -> str:
        """Write rows as json, parquet or csv (by extension); ``path`` is templated as in the seed."""
        return await self.as_storage().write_data(path, data, indent, **kwargs)

    async def read_data(self, path: str, encoding: str = "utf-8") -> Any:
        """Read a parquet or csv file back as row dicts, anything else as JSON."""
        return await self.as_storage().read_data(path, encoding)

    def open(self, path: str, mode: str = "rb", auto_mkdir: bool = False, **kwargs: Any) -> OpenFile:
        """Open ``path``: await it as in the seed, or use it as a context manager."""
        return self.as_storage().open(path, mode, auto_mkdir, **kwargs)


def _local_files(base: str, ignore_file: str | None) -> list[str]:
    """Every file under ``base`` (relative, ``/``-separated), less those ``ignore_file`` excludes."""
    found = sorted(
        os.path.relpath(os.path.join(folder, name), base).replace(os.sep, "/")
        for folder, _, names in os.walk(base) for name in names
    )
    if not ignore_file:
        return found
    with open(ignore_file, encoding="utf-8") as fh:
        patterns = fh.read().splitlines()
    kept = filter_files(base, patterns, include_dirs=False, as_posix=True)
    return [rel for rel in found if rel in kept]


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
    try:
        block: Any = FsspecFileSystem.load(name, _sync=True)  # type: ignore[call-arg]
    except ValueError as exc:  # Prefect's "Unable to find block document named ..."
        raise PermanentStorageError(
            f"FILESYSTEM_BLOCK_NAME names `{name}`, and Prefect has no FsspecFileSystem block of that name",
            hint=f'save one with FsspecFileSystem(basepath=...).save("{name}"), or fix FILESYSTEM_BLOCK_NAME',
        ) from exc
    return block.as_storage()  # type: ignore[no-any-return]
