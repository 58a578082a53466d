"""The two atomic steps a version protocol needs, on every backend that can give them.

- :func:`create_exclusive` writes a small file only if nothing is at its path, so two writers
  can never both create it: a link on local disk (``link`` fails when the target exists), an
  SFTP version-3 ``rename`` (which never overwrites), a conditional put (``If-None-Match: *``) on
  S3, an existence check under a process lock for ``memory://``.
- :func:`place` makes a path show a file's content, replacing what was there in one step: a hard
  link renamed over the path on local disk and SFTP (no bytes copied), a server-side copy on
  object stores (an object is never half-visible), a copy then a rename elsewhere.
  :func:`place_many` does that for many files at once (each one atomic, not all together).

Both take a ``scratch`` path for their temporary file: it must be outside the user's folders
(madstream's own area) and on the same filesystem as the target.
"""

from __future__ import annotations

import errno
import os
import posixpath
import threading
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from fsspec.asyn import sync

from .paths import clean, protocols
from .store import FileStore
from .together import Job, async_target, full_path, run_together

__all__ = ["Placement", "copy_many", "create_exclusive", "place", "place_many"]

#: S3's largest single-request copy; a larger object is copied in parts.
_BASIC_COPY_MAX = 5 << 30

_memory_lock = threading.Lock()


def create_exclusive(store: FileStore, path: str, data: bytes, scratch: str) -> bool:
    """Write ``data`` at ``path`` unless something is there; ``True`` if this call created it."""
    path, scratch = clean(path), clean(scratch)
    local_path, local_scratch = store.native(path), store.native(scratch)
    if local_path is not None and local_scratch is not None:
        return _create_local(store, local_path, local_scratch, data)
    if store.is_object_store:
        return _create_object(store, path, data)
    if store.protocol == "memory":
        with _memory_lock:
            if store.exists_sync(path):
                return False
            store.write_bytes_sync(path, data)
            return True
    sftp = _sftp(store)
    store.write_bytes_sync(scratch, data)
    try:
        if sftp is not None:
            return _sftp_rename(store, sftp, scratch, path)
        if store.exists_sync(path):  # other backends: check, then move (not atomic; see README)
            return False
        store.move_sync(scratch, path)
        return True
    finally:
        store.delete_sync(scratch)


def place(store: FileStore, src: str, dst: str, scratch: str) -> None:
    """Make ``dst`` hold the content of ``src`` (which stays), replacing ``dst`` in one step."""
    src, dst, scratch = clean(src), clean(dst), clean(scratch)
    local_src, local_dst, local_scratch = store.native(src), store.native(dst), store.native(scratch)
    if local_src is not None and local_dst is not None and local_scratch is not None:
        os.makedirs(os.path.dirname(local_scratch), exist_ok=True)
        os.makedirs(os.path.dirname(local_dst), exist_ok=True)
        store.call(dst, _link_over, local_src, local_scratch, local_dst)
        return
    if store.is_object_store:
        store.run("copy", dst, lambda fs: fs.copy(src, dst))
        return
    sftp = _sftp(store)
    store.makedirs_sync(os.path.dirname(scratch))
    if sftp is not None:
        store.makedirs_sync(os.path.dirname(dst))
        store.run("link", dst, lambda fs: _sftp_link_over(fs, sftp, src, scratch, dst))
        return
    store.run("copy", scratch, lambda fs: fs.copy(src, scratch))
    store.move_sync(scratch, dst)


class Placement(NamedTuple):
    """One file for :func:`place_many`: ``dst`` is to show the content of ``src``."""

    src: str
    dst: str
    #: ``src``'s size when known: an object store then copies it without asking for it first.
    size: int | None = None


def place_many(store: FileStore, files: Sequence[Placement], scratch: Callable[[str], str]) -> None:
    """:func:`place` every file, many at once; ``scratch(dst)`` names each one's temporary file.

    Object stores and SFTP send every copy, or every link and rename, together (see
    :mod:`.together`), after making each destination folder once.
    """
    sftp = _sftp(store)
    if store.local_root is not None or len(files) < 2 or async_target(store) is None or (
        sftp is None and not store.is_object_store
    ):
        for file in files:
            place(store, file.src, file.dst, scratch(file.dst))
        return
    if store.is_object_store:
        copy_many(store, files)
        return
    temps = [clean(scratch(f.dst)) for f in files]
    for folder in sorted({posixpath.dirname(clean(f.dst)) for f in files} | {posixpath.dirname(t) for t in temps}):
        store.makedirs_sync(folder)
    jobs = [_link(*(full_path(store, p) for p in (f.src, temp, f.dst))) for f, temp in zip(files, temps)]
    run_together(store, "publish", files[0].dst, jobs)


def copy_many(store: FileStore, files: Sequence[Placement]) -> None:
    """Server-side copies on an object store (asynchronous, as s3fs is), all sent together."""
    jobs = [_copy(full_path(store, f.src), full_path(store, f.dst), f.size) for f in files]
    run_together(store, "copy", files[0].dst if files else "", jobs)


def _copy(src: str, dst: str, size: int | None) -> Job:
    async def job(fs: Any) -> None:
        basic = getattr(fs, "_copy_basic", None)  # s3fs: one request (its `_cp_file` asks the size first)
        if basic is not None and size is not None and size < _BASIC_COPY_MAX:
            await basic(src, dst)
        else:
            await fs._cp_file(src, dst)

    return job


def _link(src: str, scratch: str, dst: str) -> Job:
    async def job(sftp: Any) -> None:
        async with sftp._pool.get() as channel:
            try:
                await channel.link(src, scratch)
            except Exception:
                if not await channel.exists(scratch):
                    raise
                await channel.remove(scratch)  # left by an attempt whose reply was lost
                await channel.link(src, scratch)
            # When `dst` already is `src` (a view shown again), a rename between two links of one
            # file does nothing and the scratch link stays: vacuum sweeps old scratch files.
            await channel.posix_rename(scratch, dst)

    return job


def _create_local(store: FileStore, final: str, scratch: str, data: bytes) -> bool:
    os.makedirs(os.path.dirname(scratch), exist_ok=True)
    os.makedirs(os.path.dirname(final), exist_ok=True)
    with open(scratch, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())  # the commit point must survive a crash of the machine, not just the process
    try:
        os.link(scratch, final)
    except FileExistsError:
        return False
    except OSError as exc:
        raise store.translate(exc, final) from exc
    finally:
        os.unlink(scratch)
    return True


def _create_object(store: FileStore, path: str, data: bytes) -> bool:
    def put(fs: Any) -> bool:
        try:
            fs.pipe_file(path, data, mode="create")
        except (FileExistsError, OSError) as exc:
            if _precondition_failed(exc):
                return False
            raise
        return True

    # Not retried: after a lost reply a retry would find its own record and report it taken.
    return store.call(path, put, store.fs)


def _precondition_failed(exc: BaseException) -> bool:
    if isinstance(exc, FileExistsError):
        return True
    text = f"{exc} {exc.__cause__ or ''}"
    return "PreconditionFailed" in text or "412" in text or "At least one of the pre-conditions" in text


def _link_over(src: str, scratch: str, dst: str) -> None:
    try:
        os.link(src, scratch)
    except FileExistsError:
        os.unlink(scratch)
        os.link(src, scratch)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
            raise
        import shutil  # a filesystem without hard links: copy instead

        shutil.copyfile(src, scratch)
    os.replace(scratch, dst)


def _sftp(store: FileStore) -> Any | None:
    """The sshfs filesystem under ``store``, when the store is on SFTP."""
    inner = store.fs.fs
    return inner if "sftp" in protocols(inner) or "ssh" in protocols(inner) else None


def _sftp_rename(store: FileStore, sftp: Any, scratch: str, path: str) -> bool:
    full_scratch, full_path = store.fs._join(scratch), store.fs._join(path)

    async def rename() -> bool:
        async with sftp._pool.get() as channel:
            if await channel.exists(full_path):
                return False
            try:
                await channel.rename(full_scratch, full_path)  # version 3 rename: never overwrites
            except Exception:
                if await channel.exists(full_path):
                    return False
                raise
            return True

    store.makedirs_sync(os.path.dirname(path))
    return bool(store.call(path, sync, sftp.loop, rename))  # not retried, as for object stores


def _sftp_link_over(fs: Any, sftp: Any, src: str, scratch: str, dst: str) -> None:
    full = [fs._join(p) for p in (src, scratch, dst)]

    async def link() -> None:
        async with sftp._pool.get() as channel:
            if await channel.exists(full[1]):
                await channel.remove(full[1])
            await channel.link(full[0], full[1])
            await channel.posix_rename(full[1], full[2])

    sync(sftp.loop, link)
