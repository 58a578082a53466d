"""The transaction: files are written under temporary names and published together when a run succeeds.

A :class:`Transaction` hands out staging paths (named by :mod:`.staging`), publishes them on
commit and deletes them all on discard. Used as ``async with``, it commits when the block ends
normally and discards when it raises, in a worker thread either way (both may sleep in retries or
close remote files), shielded from cancellation so a cancelled run still cleans up::

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
from ..storage.transfer import delete_many, move_many
from .catalog import claim_results, verify_claims
from .staging import STALE_AFTER, leftover_time, new_transaction_id, staged_file, staging_folder

log = logging.getLogger("madstream.storage")

__all__ = ["Transaction"]


@dataclass
class Transaction:
    """The files one run is writing, and where each goes when the run succeeds.

    Args:
        store: where the files are written.
        claims: results published by this transaction whose owner record then names ``owner``
            (see :func:`~madstream.commit.catalog.claim_results`).
        owner: the run id the claims name.
        sweep: extra folders (catalog records) whose old leftovers a commit deletes.
    """

    store: FileStore
    claims: tuple[str, ...] = ()
    owner: str | None = None
    sweep: tuple[str, ...] = ()
    txn_id: str = field(default_factory=new_transaction_id)
    staged: list[tuple[str, str]] = field(default_factory=list)
    #: Files to delete after publishing (fragments of the previous run that this run did not replace).
    stale: list[str] = field(default_factory=list)
    #: Working files that are never published (result parts before a merge).
    scratch: list[str] = field(default_factory=list)
    _cancelled: bool = False

    # -- naming --------------------------------------------------------------------------------
    def stage(self, final: str) -> str:
        """A hidden temporary path beside ``final``; published there on commit."""
        temp = staged_file(final, self.txn_id)
        self.staged.append((temp, clean(final)))
        return temp

    def stage_in(self, folder: str, name: str) -> str:
        """A temporary path in a hidden staging folder under ``folder``, published as ``folder/name``."""
        temp = posixpath.join(staging_folder(folder, self.txn_id), name)
        self.staged.append((temp, posixpath.join(clean(folder), name)))
        return temp

    def scratch_file(self, final: str, tag: str) -> str:
        """A hidden working file beside ``final`` that is deleted, never published, at the end."""
        temp = staged_file(final, self.txn_id, tag)
        self.scratch.append(temp)
        return temp

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
        """Claim the results, publish fragments then results, drop stale and scratch files.

        Results go last so that a reader who sees a new result also finds its fragments.
        Claiming first means a run that fails while publishing leaves a claim no manifest
        matches, so no configuration trusts a result that may not be its own.
        """
        if self.claims and self.owner:
            claim_results(self.store, list(self.claims), self.owner)
        published = {final for _, final in self.staged}
        marker = f"/.staging-{self.txn_id}/"
        fragments = [move for move in self.staged if marker in "/" + move[0]]
        results = [move for move in self.staged if marker not in "/" + move[0]]
        move_many(self.store, fragments)
        move_many(self.store, results)
        if self.claims and self.owner:
            verify_claims(self.store, list(self.claims), self.owner)
        delete_many(self.store, [path for path in self.stale if path not in published])
        self._drop(self.scratch)
        self._sweep({posixpath.dirname(final) for _, final in self.staged} | set(self.sweep))

    def discard(self) -> None:
        """Delete everything staged; what was published before stays as it was.

        Best effort, and quick to give up: when the storage is unreachable (often why the run
        failed) the hidden temporary files stay behind, which no reader or glob ever picks up.
        """
        self._drop([temp for temp, _ in self.staged] + self.scratch)

    def _sweep(self, folders: set[str]) -> None:
        """Delete leftovers of other runs in ``folders`` older than :data:`STALE_AFTER` (best effort)."""
        cutoff = time.time() - STALE_AFTER
        try:
            old = [
                path
                for folder in sorted(folders)
                for path in self.store.glob_sync(posixpath.join(folder, ".*"))
                if (born := leftover_time(posixpath.basename(path))) is not None and born < cutoff
            ]
            for path in old:
                self.store.delete_sync(path, recursive=True)
        except Exception as exc:  # noqa: BLE001 - leftovers are hidden; the run has succeeded
            log.warning("transaction %s: could not sweep old temporary files (%s)", self.txn_id, exc)
            return
        if old:
            log.info("transaction %s: deleted %d temporary file(s) left by earlier runs", self.txn_id, len(old))

    def _drop(self, paths: list[str]) -> None:
        marker = f".staging-{self.txn_id}"
        folders = sorted({posixpath.dirname(temp) for temp, _ in self.staged if marker in temp})
        try:
            delete_many(self.store, paths)
            for folder in folders:
                self.store.delete_sync(folder, recursive=True)
        except Exception as exc:  # noqa: BLE001 - the run's own outcome matters more than its cleanup
            log.warning("transaction %s: could not delete temporary files (%s); they are hidden and never read", self.txn_id, exc)
