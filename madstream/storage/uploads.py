"""Background uploads: whole small files (a run's fragments) sent while the run goes on.

A run writes one fragment per batch. On remote storage each one costs round trips (an S3 PUT;
an SFTP open, write and close) that the writer thread would otherwise wait out for every batch
while the batches behind it queue up. A fragment is small (one batch), so the writer encodes it
in memory, takes its checksum there, and hands the bytes to a few upload threads; it waits only
when too many are in flight, and for all of them before the run commits. Each upload writes a
whole file from memory, so a transient fault is retried like any idempotent operation.
"""

from __future__ import annotations

import contextlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

from .store import FileStore

__all__ = ["UPLOADS_IN_FLIGHT", "Uploads"]

#: Uploads running at once; twice as many may wait their turn (each holds one fragment's bytes).
UPLOADS_IN_FLIGHT = 4


class Uploads:
    """Files uploaded in the background to one store; :meth:`wait` before relying on them."""

    def __init__(self, store: FileStore, limit: int = UPLOADS_IN_FLIGHT) -> None:
        self._store = store
        self._limit = limit
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[Future[None]] = deque()

    def put(self, path: str, data: bytes) -> None:
        """Start uploading ``data`` as the whole file ``path``.

        Raises the error of an earlier upload that failed, so a run stops at its first lost file.
        """
        while self._pending and (self._pending[0].done() or len(self._pending) >= 3 * self._limit):
            self._pending.popleft().result()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._limit, thread_name_prefix="madstream-upload")
        self._pending.append(self._pool.submit(self._store.upload_sync, path, data))

    def wait(self) -> None:
        """Block until every upload has finished; raises the first failure."""
        try:
            while self._pending:
                self._pending.popleft().result()
        finally:
            self._close()

    def cancel(self) -> None:
        """After a failure: let the running uploads end (their errors are not the run's) and stop."""
        for future in self._pending:
            future.cancel()
        while self._pending:
            with contextlib.suppress(Exception):
                self._pending.popleft().result()
        self._close()

    def _close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
