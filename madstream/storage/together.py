"""Many small remote operations at once, as coroutines on the filesystem's own event loop.

sshfs and s3fs are asynchronous underneath: each blocking call hands one coroutine to their
event loop and waits for it. Publishing a version's files (a server-side copy each on S3, a link
and a rename each on SFTP) is hundreds of such calls; sent together on the loop they overlap
their round trips without a thread per call, and on SFTP they share one channel instead of
opening many.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fsspec.asyn import sync

from .paths import clean
from .store import FileStore

__all__ = ["TOGETHER", "Job", "async_target", "full_path", "run_together"]

#: Operations in flight at once on one filesystem.
TOGETHER = 32

#: One operation: given the asynchronous filesystem under the store, do one thing.
Job = Callable[[Any], Awaitable[None]]


def async_target(store: FileStore) -> Any | None:
    """The asynchronous fsspec filesystem under ``store`` (sshfs, s3fs, ...), else ``None``."""
    inner = store.fs.fs
    return inner if getattr(inner, "async_impl", False) and getattr(inner, "loop", None) is not None else None


def full_path(store: FileStore, path: str) -> str:
    """``path`` as the filesystem under ``store`` names it (with the store's root in front)."""
    return str(store.fs._join(clean(path)))


def run_together(store: FileStore, what: str, path: str, jobs: Sequence[Job], *, limit: int = TOGETHER) -> None:
    """Run ``jobs`` on the store's event loop, ``limit`` at a time, and wait for all of them.

    Every job must be idempotent: after a transient fault the whole batch runs again (on a
    fresh connection). The first failure is raised once every job has ended, so no job of a
    failed batch still runs when a retry starts. ``path`` names the batch in errors.
    """

    async def batch(inner: Any) -> None:
        # ``limit`` workers take the jobs in turn: a version of 2,000 files then has 32 coroutines
        # at a time, not 2,000 tasks queued on a semaphore (memory a long run's end would add).
        queue = iter(enumerate(jobs))
        failures: dict[int, BaseException] = {}

        async def worker() -> None:
            for index, job in queue:
                try:
                    await job(inner)
                except Exception as exc:  # noqa: BLE001 - every job runs; the first failure is raised below
                    failures[index] = exc

        ended = await asyncio.gather(*(worker() for _ in range(min(limit, len(jobs)))), return_exceptions=True)
        for outcome in ended:  # a worker cancelled, or a job's BaseException
            if isinstance(outcome, BaseException):
                raise outcome
        if failures:
            raise failures[min(failures)]

    def attempt(_: Any) -> None:
        inner = async_target(store)  # after a reconnect: the new connection's filesystem
        if inner is None:
            raise RuntimeError(f"{store.url} is not an asynchronous filesystem")
        sync(inner.loop, batch, inner)

    if jobs:
        store.run(what, path, attempt)
