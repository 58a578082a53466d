"""The transaction of a one-off write: files staged in madstream's own folder, published together.

``DataArtifact.persist``, the seed's ``write_data`` and ``DataArtifactCollector`` write through a
:class:`Transaction`: every file goes to the transaction's staging folder (named by
:mod:`.staging`, never inside the user's folders), and is moved into place on commit, each file
atomically (fragments first, then results), or deleted on discard. Used as ``async with``, it
commits when the block ends normally and discards when it raises, in a worker thread either way
(both may sleep in retries or close remote files), shielded from cancellation::

    async with Transaction(store) as txn:
        path = txn.stage("sales/orders.parquet")
        ...                                  # write `path`; an error here discards it
    # published at sales/orders.parquet
"""

from __future__ import annotations

import logging
import posixpath
import time
from dataclasses import dataclass, field
from types import TracebackType

import anyio
import anyio.to_thread

from ..storage.paths import clean
from ..storage.store import FileStore
from ..storage.transfer import move_many
from .staging import STALE_AFTER, leftover_time, new_transaction_id, scratch_path, staged_path, staging_root, transaction_folder

log = logging.getLogger("madstream.storage")

__all__ = ["Transaction"]


@dataclass
class Transaction:
    """The files one write is staging, and where each goes when it succeeds."""

    store: FileStore
    txn_id: str = field(default_factory=new_transaction_id)
    #: (staged path, final path) of files published as results, and of fragments.
    results: list[tuple[str, str]] = field(default_factory=list)
    fragments: list[tuple[str, str]] = field(default_factory=list)
    _cancelled: bool = False

    # -- naming (the writer's Staging protocol) ------------------------------------------------
    def stage(self, final: str) -> str:
        """Where to write the file published as ``final``."""
        temp = staged_path(self.txn_id, final)
        self.results.append((temp, clean(final)))
        return temp

    def stage_partition(self, partition: str, final: str) -> str:
        """One-off writes are never partitioned; a partition's file is staged like any other."""
        return self.stage(final)

    def stage_in(self, folder: str, name: str) -> str:
        """Where to write the fragment published as ``folder/name``."""
        final = posixpath.join(clean(folder), name)
        temp = staged_path(self.txn_id, final)
        self.fragments.append((temp, final))
        return temp

    def scratch_file(self, final: str, tag: str) -> str:
        """A working file for ``final``, deleted with the staging folder, never published."""
        return scratch_path(self.txn_id, final, tag)

    # -- as a context manager ------------------------------------------------------------------
    def cancel(self) -> None:
        """Publish nothing: the ``async with`` block discards everything staged when it ends."""
        self._cancelled = True

    async def __aenter__(self) -> Transaction:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None,
    ) -> None:
        if exc_type is None and not self._cancelled:
            try:
                await anyio.to_thread.run_sync(self.commit)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(self.discard)
                raise
            return
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(self.discard)

    # -- blocking steps ------------------------------------------------------------------------
    def commit(self) -> None:
        """Publish fragments, then results (a reader who sees a new result finds its fragments)."""
        move_many(self.store, self.fragments)
        move_many(self.store, self.results)
        self.discard()
        self._sweep()

    def discard(self) -> None:
        """Delete the staging folder; what was published before stays as it was.

        Best effort, and quick to give up: when the storage is unreachable (often why the write
        failed) the folder stays behind in madstream's staging area, where nothing reads it.
        """
        try:
            self.store.delete_sync(transaction_folder(self.txn_id), recursive=True)
        except Exception as exc:  # noqa: BLE001 - the write's own outcome matters more than its cleanup
            log.warning("transaction %s: could not delete its staging folder (%s)", self.txn_id, exc)

    def _sweep(self) -> None:
        """Delete other transactions' staging folders older than :data:`STALE_AFTER` (best effort)."""
        cutoff = time.time() - STALE_AFTER
        try:
            old = [
                path for path in self.store.glob_sync(posixpath.join(staging_root(), "*"))
                if (born := leftover_time(posixpath.basename(path))) is not None and born < cutoff
            ]
            for path in old:
                self.store.delete_sync(path, recursive=True)
        except Exception as exc:  # noqa: BLE001 - leftovers are outside the user's folders; the write succeeded
            log.warning("transaction %s: could not sweep old staging folders (%s)", self.txn_id, exc)
