"""The file store: one fsspec filesystem rooted at a base URL, with the blocking primitives the
engine uses.

Paths handed to a :class:`FileStore` are relative to its root. Local storage also exposes native
paths, so pyarrow and DuckDB read and write files without a Python file object in between.
Every fault comes out as a :class:`~madstream.StorageError` naming the URL without secrets;
idempotent operations retry transient faults after a reconnect.
"""

from __future__ import annotations

import datetime as dt
import os
import posixpath
import threading
import zlib
from collections.abc import Callable
from typing import Any, TypeVar

import fsspec
from fsspec.implementations.dirfs import DirFileSystem

from ..base.errors import StorageError
from .faults import classify, redact, scrub, secrets_of, url_password
from .paths import clean, protocols, split_url
from .remote import IOStats, StorageFile
from .retry import RetryPolicy, retrying

__all__ = ["BLOCK_PROTOCOLS", "DEFAULT_URL", "FileStore"]

DEFAULT_URL = "file://./.tmp/storage"
#: Protocols whose files buffer blocks themselves (object stores: one block = one upload part).
BLOCK_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "abfs", "az", "adl", "oss"})
#: Multipart part size for streamed object-store writes: S3's minimum. s3fs holds a part about
#: three times while it uploads it (its buffer, the part read out of it, the request body), and
#: the allocator keeps the freed copies for the next part, so this bounds memory: a 1M-row run
#: peaked ~20 MiB lower with 8 MiB parts than with 16 MiB, and 8-15 MiB lower again with 5 MiB
#: parts, at the same speed on loopback (benches/README.md, "Peak RSS on SFTP and S3").
WRITE_PART = 5 << 20
T = TypeVar("T")


#: SFTP ciphers unless the storage options name others: AES-GCM first (one AEAD call per packet,
#: with the processor's AES instructions), then asyncssh's own list (`^` puts these in front of
#: it), so a server without them still negotiates. asyncssh's first choice, ChaCha20-Poly1305,
#: cost a 1M-row run ~10 % more CPU on each side of a loopback link (benches/README.md).
SFTP_CIPHERS = "^aes128-gcm@openssh.com,aes256-gcm@openssh.com"


class FileStore:
    """A filesystem rooted at a base URL.

    Args:
        basepath: any fsspec URL; options may ride in its query string (``?endpoint_url=...``).
        storage_options: fsspec options (credentials, ports, ``known_hosts``); never shown.
        retry: how transient faults of idempotent operations are retried.
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
        self._secrets = secrets_of(self._storage_options) + url_password(base)
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
    def is_object_store(self) -> bool:
        """Whether files are objects uploaded in parts (no folders, no renames)."""
        return self.protocol in BLOCK_PROTOCOLS

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
            options.setdefault("encryption_algs", SFTP_CIPHERS)
        if self._fresh:  # after a fault: never reuse fsspec's cached (broken) instance
            options["skip_instance_cache"] = True
        try:
            target, root = fsspec.core.url_to_fs(self.basepath, **options)
        except Exception as exc:  # import errors, bad URLs, auth at connect time
            raise self.translate(exc, "") from exc
        if "file" in protocols(target):
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

    def scrub(self, text: str) -> str:
        """``text`` with this store's secrets (password, keys, tokens) replaced by ``***``."""
        return scrub(text, self._secrets)

    @property
    def local_root(self) -> str | None:
        """The native directory of the root when the storage is the local disk, else ``None``."""
        if self.protocol != "file":
            return None
        fs = self.fs
        return str(fs.path) if "file" in protocols(fs.fs) else None

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

    def call(self, path: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one blocking call once (not idempotent: no retry), translating its errors."""
        try:
            return fn(*args, **kwargs)
        except StorageError:
            raise
        except Exception as exc:
            raise self.translate(exc, path) from exc

    # -- primitives ----------------------------------------------------------------------------
    def exists_sync(self, path: str) -> bool:
        path = clean(path)
        return self.run("exists", path, lambda fs: bool(fs.exists(path)))

    def isdir_sync(self, path: str) -> bool:
        path = clean(path)
        native = self.native(path)
        if native is not None:
            return os.path.isdir(native)
        return self.run("isdir", path, lambda fs: bool(fs.isdir(path)))

    def open_sync(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        """Open ``path``; remote files come back wrapped (big writes, translated errors)."""
        path = clean(path)
        writing = "w" in mode or "a" in mode
        if self.local_root is not None:
            if writing:
                self.makedirs_sync(posixpath.dirname(path))
            return self.call(path, self.fs.open, path, mode, **kwargs)
        if self.is_object_store:
            # Object stores: streamed writes upload multipart parts of WRITE_PART bytes. Reads
            # fetch exactly the ranges asked for (no read-ahead): DuckDB and pyarrow already
            # ask for whole column chunks, so a projection or a pruned row group is never fetched.
            if writing:
                kwargs.setdefault("block_size", WRITE_PART)
            else:
                kwargs.setdefault("cache_type", "none")

        inner = self.run("open", path, lambda fs: _open(fs, path, mode, **kwargs))
        return StorageFile(inner, lambda exc: self.translate(exc, path), path=path, stats=self.io)

    def upload_sync(self, path: str, data: bytes) -> None:
        """Write ``data`` as the whole remote file ``path``, retried on transient faults
        (the file is written from memory, so an attempt can be repeated whole)."""
        path = clean(path)
        size = len(data)
        options = {"block_size": WRITE_PART} if self.is_object_store else {}

        def upload(fs: DirFileSystem) -> None:
            with _open(fs, path, "wb", **options) as fh:
                fh.write(data)

        self.run("write", path, upload)
        self.io.add(written=size, opened=1)

    def makedirs_sync(self, path: str) -> None:
        path = clean(path)
        if not path:
            return
        if self.local_root is not None:
            os.makedirs(self.native(path) or path, exist_ok=True)
        elif not self.is_object_store:  # object stores have no folders to make
            # One look first: making folders on SFTP tries every component of the path in turn.
            self.run("mkdirs", path, lambda fs: fs.isdir(path) or fs.makedirs(path, exist_ok=True))

    def delete_sync(self, path: str, recursive: bool = False) -> None:
        """Delete ``path`` (a folder needs ``recursive``); a missing path is not an error."""
        path = clean(path)

        def delete(fs: DirFileSystem) -> None:
            try:
                fs.rm(path, recursive=recursive)
            except FileNotFoundError:
                pass  # already gone (or deleted by an attempt whose reply was lost)

        if self.exists_sync(path):
            self.run("delete", path, delete)

    def move_sync(self, src: str, dst: str) -> None:
        """Publish ``src`` at ``dst``, replacing what was there.

        Atomic on local disk (``os.replace``) and SFTP (``posix-rename``); on object stores a
        server-side copy, which readers see all at once (an object is never half-visible).
        """
        src, dst = clean(src), clean(dst)
        local_src, local_dst = self.native(src), self.native(dst)
        if local_src is not None and local_dst is not None:
            os.makedirs(os.path.dirname(local_dst), exist_ok=True)
            self.call(dst, os.replace, local_src, local_dst)
            return
        self.makedirs_sync(posixpath.dirname(dst))
        self.move_remote(src, dst)

    def move_remote(self, src: str, dst: str) -> None:
        """Move one remote file or folder (a retry after a lost reply finds the move done)."""
        src, dst = clean(src), clean(dst)
        self.run("move", dst, lambda fs: _move(fs, src, dst))

    def glob_sync(self, pattern: str) -> list[str]:
        pattern = clean(pattern)
        return sorted(self.run("glob", pattern, lambda fs: list(fs.glob(pattern))))

    def stat_sync(self, path: str) -> tuple[int, float | None]:
        """The size and modification time (Unix seconds; ``None`` if the backend has none) of ``path``."""
        path = clean(path)
        native = self.native(path)
        if native is not None:
            found = self.call(path, os.stat, native)
            return found.st_size, found.st_mtime
        return _size_and_time(self.run("stat", path, lambda fs: fs.info(path)))

    def stats_under_sync(self, folder: str) -> dict[str, tuple[int, float | None]]:
        """:meth:`stat_sync` of every file under ``folder``, from one recursive listing (one paged
        request on an object store, one per folder on SFTP: not one round trip per file)."""
        folder = clean(folder)
        found = self.run("list", folder, lambda fs: fs.find(folder, detail=True))
        return {clean(path): _size_and_time(info) for path, info in found.items()}

    def crc32_sync(self, path: str) -> tuple[int, int]:
        """The size and CRC-32 of ``path``, read whole (local files straight from the disk)."""
        path = clean(path)
        native = self.native(path)
        crc = size = 0
        with open(native, "rb") if native is not None else self.open_sync(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                crc = zlib.crc32(chunk, crc)  # releases the GIL for large chunks
                size += len(chunk)
        return size, crc

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

    def __repr__(self) -> str:
        return f"{type(self).__name__}(basepath={self.url!r})"

    def __getstate__(self) -> dict[str, Any]:
        # What configures the store crosses processes (Dask returns artifacts bound to it); its
        # connection, lock and counters are made anew on the other side.
        return {"basepath": self.basepath, "storage_options": self._storage_options, "retry": self.retry}

    def __setstate__(self, state: dict[str, Any]) -> None:
        FileStore.__init__(self, state["basepath"], state["storage_options"], retry=state["retry"])


def _open(fs: DirFileSystem, path: str, mode: str, **kwargs: Any) -> Any:
    try:
        return fs.open(path, mode, **kwargs)
    except FileNotFoundError:
        # Make the folder only when it is missing: on SFTP that saves a round trip per
        # component of the path for every file (and a run writes one per fragment).
        if not ("w" in mode or "a" in mode) or not posixpath.dirname(path):
            raise
        fs.makedirs(posixpath.dirname(path), exist_ok=True)
        return fs.open(path, mode, **kwargs)


def _move(fs: DirFileSystem, src: str, dst: str) -> None:
    recursive = fs.isdir(src)
    if recursive and fs.exists(dst):
        fs.rm(dst, recursive=True)
    try:
        fs.mv(src, dst, recursive=recursive)
    except FileNotFoundError:
        if fs.exists(src) or not fs.exists(dst):
            raise


def _size_and_time(info: dict[str, Any]) -> tuple[int, float | None]:
    """Size and modification time (Unix seconds, or ``None``) from an fsspec ``info`` record."""
    when = info.get("mtime") or info.get("LastModified") or info.get("last_modified") or info.get("created")
    if isinstance(when, dt.datetime):
        when = when.timestamp()
    return int(info.get("size") or 0), float(when) if isinstance(when, (int, float)) else None
