"""Storage: one fsspec filesystem rooted at ``FILESYSTEM_URL``, with the seed's helper methods.

Everything madstream writes or reads goes through a :class:`Storage`. Paths handed to it are
relative to the configured root; local storage also exposes native paths so pyarrow and DuckDB
can read and write files without a Python file object in between.
"""

from __future__ import annotations

import io
import os
import posixpath
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
import fsspec
import orjson
from fsspec.implementations.dirfs import DirFileSystem

from ._errors import PermanentStorageError, StorageError, TransientStorageError

__all__ = ["Storage", "current_storage", "get_fs", "storage_config", "translate_error"]

DEFAULT_URL = "file://./.tmp/storage"
T = TypeVar("T")


def storage_config() -> tuple[str, dict[str, Any], str | None]:
    """Read ``FILESYSTEM_URL``, ``FILESYSTEM_STORAGE_OPTIONS`` and ``FILESYSTEM_BLOCK_NAME``."""
    url = os.environ.get("FILESYSTEM_URL") or DEFAULT_URL
    raw = os.environ.get("FILESYSTEM_STORAGE_OPTIONS")
    options = orjson.loads(raw) if raw else {}
    return url, options, os.environ.get("FILESYSTEM_BLOCK_NAME") or None


def translate_error(exc: Exception, url: str, path: str) -> StorageError:
    """Map a filesystem exception to our tree, naming the redacted URL and path."""
    if isinstance(exc, StorageError):
        return exc
    hint_where = f"storage `{url}`"
    if isinstance(exc, (TimeoutError, ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
        return TransientStorageError(
            f"{type(exc).__name__}: {exc}", path=path, hint=f"{hint_where} timed out or dropped; retry"
        )
    if isinstance(exc, PermissionError):
        return PermanentStorageError(
            f"permission denied: {exc}", path=path, hint=f"check the credentials and rights on {hint_where}"
        )
    if isinstance(exc, FileNotFoundError):
        return PermanentStorageError(
            f"not found: {exc}", path=path, hint=f"check that it exists on {hint_where}"
        )
    return StorageError(f"{type(exc).__name__}: {exc}", path=path, hint=f"check {hint_where}")


def redact(url: str) -> str:
    """Drop any password from a URL before it reaches a message or log."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return url
    userinfo, _, host = rest.partition("@")
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"


class Storage:
    """A filesystem rooted at a base URL, with the seed's ``FsspecFileSystem`` helpers.

    The helper methods are ``async`` as in the seed; blocking fsspec calls run in worker threads.
    """

    def __init__(self, basepath: str = DEFAULT_URL, storage_options: dict[str, Any] | None = None) -> None:
        self.basepath = basepath
        self._storage_options = dict(storage_options or {})
        self._fs: DirFileSystem | None = None
        self._lock = threading.Lock()

    # -- the underlying filesystem ------------------------------------------------------------
    @property
    def url(self) -> str:
        """The base URL with any secret removed."""
        return redact(self.basepath)

    @property
    def fs(self) -> DirFileSystem:
        """An fsspec filesystem whose root is the base path."""
        if self._fs is None:
            with self._lock:
                if self._fs is None:
                    self._fs = self._open()
        return self._fs

    def _open(self) -> DirFileSystem:
        try:
            target, root = fsspec.core.url_to_fs(self.basepath, **self._storage_options)
        except Exception as exc:  # import errors, bad URLs, auth at connect time
            raise translate_error(exc, self.url, "") from exc
        if target.protocol in ("file", ("file", "local")) or "file" in _protocols(target):
            root = os.path.abspath(root)
            os.makedirs(root, exist_ok=True)
        return DirFileSystem(path=root, fs=target)

    @property
    def local_root(self) -> str | None:
        """The native directory of the root when the storage is the local disk, else ``None``."""
        fs = self.fs
        return str(fs.path) if "file" in _protocols(fs.fs) else None

    def native(self, path: str) -> str | None:
        """The native local path of ``path``, or ``None`` for remote storage."""
        root = self.local_root
        return None if root is None else os.path.join(root, clean(path))

    def call(self, what: str, path: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking filesystem call, translating its errors (``what`` names the action)."""
        try:
            return fn(*args, **kwargs)
        except StorageError:
            raise
        except Exception as exc:
            raise translate_error(exc, self.url, path) from exc

    # -- sync primitives the engine uses -------------------------------------------------------
    def exists_sync(self, path: str) -> bool:
        return self.call("exists", path, self.fs.exists, clean(path))

    def open_sync(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        path = clean(path)
        if "w" in mode or "a" in mode:
            self.makedirs_sync(posixpath.dirname(path))
        return self.call("open", path, self.fs.open, path, mode, **kwargs)

    def makedirs_sync(self, path: str) -> None:
        if path and self.local_root is not None:
            os.makedirs(self.native(path) or path, exist_ok=True)
        elif path:
            self.call("mkdirs", path, self.fs.makedirs, clean(path), exist_ok=True)

    def delete_sync(self, path: str, recursive: bool = False) -> None:
        path = clean(path)
        if self.fs.exists(path):
            self.call("delete", path, self.fs.rm, path, recursive=recursive)

    def move_sync(self, src: str, dst: str) -> None:
        """Publish ``src`` at ``dst``, replacing what was there (atomic on local disk)."""
        src, dst = clean(src), clean(dst)
        local_src, local_dst = self.native(src), self.native(dst)
        if local_src is not None and local_dst is not None:
            os.makedirs(os.path.dirname(local_dst), exist_ok=True)
            try:
                os.replace(local_src, local_dst)
            except OSError as exc:
                raise translate_error(exc, self.url, dst) from exc
            return
        self.makedirs_sync(posixpath.dirname(dst))
        recursive = self.fs.isdir(src)
        if recursive and self.fs.exists(dst):
            self.call("delete", dst, self.fs.rm, dst, recursive=True)
        self.call("move", dst, self.fs.mv, src, dst, recursive=recursive)

    def glob_sync(self, pattern: str) -> list[str]:
        return sorted(self.call("glob", pattern, self.fs.glob, clean(pattern)))

    def size_sync(self, path: str) -> int:
        return int(self.call("size", path, self.fs.size, clean(path)))

    def read_bytes_sync(self, path: str) -> bytes:
        return bytes(self.call("read", path, self.fs.cat_file, clean(path)))

    def write_bytes_sync(self, path: str, data: bytes) -> None:
        path = clean(path)
        self.makedirs_sync(posixpath.dirname(path))
        self.call("write", path, self.fs.pipe_file, path, data)

    # -- the seed's async helpers ---------------------------------------------------------------
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

    def __repr__(self) -> str:
        return f"{type(self).__name__}(basepath={self.url!r})"


def _protocols(fs: Any) -> tuple[str, ...]:
    proto = fs.protocol
    return (proto,) if isinstance(proto, str) else tuple(proto)


def clean(path: str) -> str:
    """Normalize a storage-relative path: forward slashes, no leading slash, no ``.`` parts."""
    path = path.replace("\\", "/")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    return "/".join(parts)


_cache: dict[tuple[str, str, str | None], Storage] = {}
_cache_lock = threading.Lock()


def current_storage() -> Storage:
    """The storage configured by the environment right now (cached per configuration)."""
    url, options, block = storage_config()
    key = (url, orjson.dumps(options, option=orjson.OPT_SORT_KEYS).decode(), block)
    with _cache_lock:
        found = _cache.get(key)
    if found is not None:
        return found
    if block:
        from ._prefect_block import load_block_storage

        made: Storage = load_block_storage(block)
    else:
        if url.startswith(("file://", "/")) or "://" not in url:
            # Resolve relative local roots against the working directory once, here.
            local = url[len("file://"):] if url.startswith("file://") else url
            url = "file://" + os.path.abspath(local)
        made = Storage(url, options)
    with _cache_lock:
        _cache.setdefault(key, made)
        return _cache[key]


async def get_fs() -> Storage:
    """The filesystem configured by ``FILESYSTEM_URL`` (default ``file://./.tmp/storage``).

    >>> fs = await get_fs()
    >>> await fs.write_path("hello.txt", b"hi")
    """
    return current_storage()
