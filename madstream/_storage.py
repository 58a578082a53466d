"""Storage: one fsspec filesystem rooted at ``FILESYSTEM_URL``, with the seed's helper methods.

Everything madstream writes or reads goes through a :class:`Storage`. Paths handed to it are
relative to the configured root; local storage also exposes native paths so pyarrow and DuckDB
can read and write files without a Python file object in between.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import posixpath
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import fsspec
import orjson
from fsspec.implementations.dirfs import DirFileSystem

from ._errors import PermanentStorageError, StorageError
from ._faults import classify, redact, secrets_of
from ._helpers import SeedHelpers
from ._remote import IOStats, StorageFile
from ._retry import RetryPolicy, retrying

__all__ = ["Storage", "current_storage", "get_fs", "storage_config", "translate_error"]

DEFAULT_URL = "file://./.tmp/storage"
#: Protocols whose files buffer blocks themselves (object stores: one block = one upload part).
_BLOCK_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "abfs", "az", "adl", "oss"})
#: Concurrent publishes (renames on SFTP, server-side copies on object stores) per commit.
PUBLISH_THREADS = 16
#: Multipart part size for streamed object-store writes (S3's minimum is 5 MiB).
WRITE_PART = 16 << 20
T = TypeVar("T")


def storage_config() -> tuple[str, dict[str, Any], str | None]:
    """Read ``FILESYSTEM_URL``, ``FILESYSTEM_STORAGE_OPTIONS`` (JSON) and ``FILESYSTEM_BLOCK_NAME``."""
    url = os.environ.get("FILESYSTEM_URL") or DEFAULT_URL
    raw = os.environ.get("FILESYSTEM_STORAGE_OPTIONS")
    try:
        options = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError as exc:
        raise PermanentStorageError(
            f"FILESYSTEM_STORAGE_OPTIONS is not valid JSON ({exc})",
            hint='set it to a JSON object, e.g. {"password": "...", "known_hosts": null}',
        ) from None
    if not isinstance(options, dict):
        raise PermanentStorageError(
            "FILESYSTEM_STORAGE_OPTIONS must be a JSON object", hint='e.g. {"key": "...", "secret": "..."}'
        )
    return url, options, os.environ.get("FILESYSTEM_BLOCK_NAME") or None


def split_url(url: str) -> tuple[str, dict[str, Any]]:
    """``s3://b/p?endpoint_url=http://h:9000&anon=false`` → (``s3://b/p``, options from the query).

    Query values that parse as JSON (numbers, booleans, null) take that type; others stay text.
    """
    base, q, query = url.partition("?")
    if not q or "://" not in base:
        return url, {}
    options: dict[str, Any] = {}
    for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        try:
            options[key] = orjson.loads(value)
        except orjson.JSONDecodeError:
            options[key] = value
    return base, options


def translate_error(exc: BaseException, url: str, path: str) -> StorageError:
    """Map a filesystem exception to madstream's tree, naming the (already redacted) URL and path."""
    return classify(exc, url, path)


class Storage(SeedHelpers):
    """A filesystem rooted at a base URL, with the seed's ``FsspecFileSystem`` helpers.

    Args:
        basepath: any fsspec URL; options may ride in its query string (``?endpoint_url=...``).
        storage_options: fsspec options (credentials, ports, ``known_hosts``); never shown.
        retry: how transient faults of idempotent operations are retried.

    The helper methods are ``async`` as in the seed; blocking fsspec calls run in worker threads.
    Every fault is raised as a :class:`~madstream.StorageError` naming the URL without secrets.
    """

    def __init__(
        self,
        basepath: str = DEFAULT_URL,
        storage_options: dict[str, Any] | None = None,
        *,
        retry: RetryPolicy | None = None,
    ) -> None:
        base, from_url = split_url(basepath)
        self.basepath = base
        self._storage_options = {**from_url, **(storage_options or {})}
        self._secrets = secrets_of(self._storage_options) + _url_password(base)
        self.retry = retry or RetryPolicy.from_env()
        self._fs: DirFileSystem | None = None
        self._fresh = False
        #: Bytes read and written through remote file handles (not counted on local disk).
        self.io = IOStats()
        self._lock = threading.Lock()

    # -- the underlying filesystem ------------------------------------------------------------
    @property
    def url(self) -> str:
        """The base URL with any secret removed."""
        return redact(self.basepath)

    @property
    def protocol(self) -> str:
        """The URL scheme of the root (``file``, ``memory``, ``sftp``, ``s3``, ...)."""
        return self.basepath.partition("://")[0] if "://" in self.basepath else "file"

    @property
    def fs(self) -> DirFileSystem:
        """An fsspec filesystem whose root is the base path (connects on first use)."""
        found = self._fs
        if found is None:
            with self._lock:
                if self._fs is None:
                    self._fs = self._open()
                found = self._fs
        return found

    def _open(self) -> DirFileSystem:
        options = dict(self._storage_options)
        if self.protocol in ("sftp", "ssh"):
            options.setdefault("connect_timeout", 10)
        if self._fresh:  # after a fault: never reuse fsspec's cached (broken) instance
            options["skip_instance_cache"] = True
        try:
            target, root = fsspec.core.url_to_fs(self.basepath, **options)
        except Exception as exc:  # import errors, bad URLs, auth at connect time
            raise self.translate(exc, "") from exc
        if "file" in _protocols(target):
            root = os.path.abspath(root)
            os.makedirs(root, exist_ok=True)
        return DirFileSystem(path=root, fs=target)

    def reconnect(self) -> None:
        """Drop the current connection; the next operation opens a fresh one."""
        with self._lock:
            self._fs, self._fresh = None, True

    def translate(self, exc: BaseException, path: str) -> StorageError:
        """The madstream error for ``exc`` raised while using ``path`` (secrets scrubbed)."""
        return classify(exc, self.url, path, self._secrets)

    @property
    def local_root(self) -> str | None:
        """The native directory of the root when the storage is the local disk, else ``None``."""
        if self.protocol != "file":
            return None
        fs = self.fs
        return str(fs.path) if "file" in _protocols(fs.fs) else None

    def native(self, path: str) -> str | None:
        """The native local path of ``path``, or ``None`` for remote storage."""
        root = self.local_root
        return None if root is None else os.path.join(root, clean(path))

    def run(self, what: str, path: str, op: Callable[[DirFileSystem], T]) -> T:
        """Run an idempotent operation on the filesystem, retrying transient faults after a reconnect."""
        return retrying(
            lambda: op(self.fs), lambda exc: self.translate(exc, path),
            policy=self.retry, reconnect=self.reconnect, what=f"{what} `{path}`",
        )

    def call(self, what: str, path: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one blocking call once, translating its errors (``what`` names the action)."""
        try:
            return fn(*args, **kwargs)
        except StorageError:
            raise
        except Exception as exc:
            raise self.translate(exc, path) from exc

    # -- sync primitives the engine uses -------------------------------------------------------
    def exists_sync(self, path: str) -> bool:
        path = clean(path)
        return self.run("exists", path, lambda fs: bool(fs.exists(path)))

    def open_sync(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        """Open ``path``; remote files come back wrapped (big writes, translated errors)."""
        path = clean(path)
        writing = "w" in mode or "a" in mode
        if self.local_root is not None:
            if writing:
                self.makedirs_sync(posixpath.dirname(path))
            return self.call("open", path, self.fs.open, path, mode, **kwargs)
        if self.protocol in _BLOCK_PROTOCOLS:
            # Object stores: streamed writes upload multipart parts of WRITE_PART bytes. Reads
            # fetch exactly the ranges asked for (no read-ahead): DuckDB and pyarrow already
            # ask for whole column chunks, so a projection or a pruned row group is never fetched.
            if writing:
                kwargs.setdefault("block_size", WRITE_PART)
            else:
                kwargs.setdefault("cache_type", "none")

        def open_file(fs: DirFileSystem) -> Any:
            try:
                return fs.open(path, mode, **kwargs)
            except FileNotFoundError:
                # Make the folder only when it is missing: on SFTP that saves a round trip per
                # component of the path for every file (and a run writes one per fragment).
                if not writing or not posixpath.dirname(path):
                    raise
                fs.makedirs(posixpath.dirname(path), exist_ok=True)
                return fs.open(path, mode, **kwargs)

        inner = self.run("open", path, open_file)
        return StorageFile(inner, lambda exc: self.translate(exc, path), path=path, stats=self.io)

    def makedirs_sync(self, path: str) -> None:
        path = clean(path)
        if not path:
            return
        if self.local_root is not None:
            os.makedirs(self.native(path) or path, exist_ok=True)
        elif self.protocol not in _BLOCK_PROTOCOLS:  # object stores have no folders to make
            self.run("mkdirs", path, lambda fs: fs.makedirs(path, exist_ok=True))

    def delete_sync(self, path: str, recursive: bool = False) -> None:
        path = clean(path)

        def delete(fs: DirFileSystem) -> None:
            try:
                fs.rm(path, recursive=recursive)
            except FileNotFoundError:
                pass  # already gone (or deleted by an attempt whose reply was lost)

        if self.exists_sync(path):
            self.run("delete", path, delete)

    def delete_many(self, paths: Sequence[str]) -> None:
        """Delete files (missing ones are fine): one bulk request on object stores."""
        paths = [clean(p) for p in paths]
        if not paths:
            return
        if self.local_root is not None:
            for path in paths:
                self.delete_sync(path)
            return

        def delete(fs: DirFileSystem) -> None:
            if self.protocol in _BLOCK_PROTOCOLS:  # bulk delete; absent keys are no error
                fs.rm(paths)
                return
            present = [p for p in paths if fs.exists(p)]
            if present:
                fs.rm(present)

        self.run("delete", paths[0], delete)

    def move_sync(self, src: str, dst: str) -> None:
        """Publish ``src`` at ``dst``, replacing what was there.

        Atomic on local disk (``os.replace``) and SFTP (``posix-rename``); on object stores a
        server-side copy, which readers see all at once (an object is never half-visible).
        """
        src, dst = clean(src), clean(dst)
        local_src, local_dst = self.native(src), self.native(dst)
        if local_src is not None and local_dst is not None:
            os.makedirs(os.path.dirname(local_dst), exist_ok=True)
            try:
                os.replace(local_src, local_dst)
            except OSError as exc:
                raise self.translate(exc, dst) from exc
            return
        self.makedirs_sync(posixpath.dirname(dst))
        self._move_remote(src, dst)

    def move_many(self, moves: Sequence[tuple[str, str]]) -> None:
        """Publish several files; remote moves run concurrently (each is a round trip or a copy)."""
        if self.local_root is not None or len(moves) < 2:
            for src, dst in moves:
                self.move_sync(src, dst)
            return
        for folder in sorted({posixpath.dirname(clean(dst)) for _, dst in moves}):
            self.makedirs_sync(folder)
        with ThreadPoolExecutor(max_workers=min(PUBLISH_THREADS, len(moves))) as pool:
            if self.protocol not in _BLOCK_PROTOCOLS:
                list(pool.map(lambda move: self._move_remote(*move), moves))
                return
            # Object stores: server-side copies side by side, then one bulk delete of the sources.
            pairs = [(clean(src), clean(dst)) for src, dst in moves]
            list(pool.map(lambda p: self.run("publish", p[1], lambda fs: fs.copy(p[0], p[1])), pairs))
        sources = [src for src, _ in pairs]
        self.run("delete", sources[0], lambda fs: fs.rm(sources))

    def _move_remote(self, src: str, dst: str) -> None:
        src, dst = clean(src), clean(dst)
        self.run("move", dst, lambda fs: _move(fs, src, dst))

    def glob_sync(self, pattern: str) -> list[str]:
        pattern = clean(pattern)
        return sorted(self.run("glob", pattern, lambda fs: list(fs.glob(pattern))))

    def size_sync(self, path: str) -> int:
        path = clean(path)
        return int(self.run("size", path, lambda fs: fs.size(path)))

    def read_bytes_sync(self, path: str) -> bytes:
        path = clean(path)
        return bytes(self.run("read", path, lambda fs: fs.cat_file(path)))

    def write_bytes_sync(self, path: str, data: bytes) -> None:
        path = clean(path)
        self.makedirs_sync(posixpath.dirname(path))
        self.run("write", path, lambda fs: fs.pipe_file(path, data))

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

    def __repr__(self) -> str:
        return f"{type(self).__name__}(basepath={self.url!r})"


def _move(fs: DirFileSystem, src: str, dst: str) -> None:
    """Move one file or folder; a retry after a lost reply finds the move already done."""
    recursive = fs.isdir(src)
    if recursive and fs.exists(dst):
        fs.rm(dst, recursive=True)
    try:
        fs.mv(src, dst, recursive=recursive)
    except FileNotFoundError:
        if fs.exists(src) or not fs.exists(dst):
            raise


def _url_password(url: str) -> list[str]:
    netloc = url.partition("://")[2].split("/", 1)[0]
    userinfo = netloc.rpartition("@")[0]
    return [userinfo.split(":", 1)[1]] if ":" in userinfo else []


def _protocols(fs: Any) -> tuple[str, ...]:
    proto = fs.protocol
    return (proto,) if isinstance(proto, str) else tuple(proto)


def clean(path: str) -> str:
    """Normalize a storage-relative path: forward slashes, no leading slash, no ``.`` parts."""
    path = path.replace("\\", "/")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    return "/".join(parts)


_active: contextvars.ContextVar[Storage | None] = contextvars.ContextVar("madstream_storage", default=None)
_cache: dict[tuple[str, str, str | None], Storage] = {}
_cache_lock = threading.Lock()


def current_storage() -> Storage:
    """The storage in use right now: one made active by :meth:`Storage.active`, else the one
    configured by the environment (cached per configuration)."""
    chosen = _active.get()
    if chosen is not None:
        return chosen
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
            local = url.removeprefix("file://")
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
