"""Commit: files are written under temporary names and published together when a run succeeds.

A :class:`Transaction` hands out staging paths next to their final place (hidden names, so
globs and readers never pick them up), publishes them in order on :meth:`commit`, and deletes
them all on :meth:`discard`. On local disk each publish is an atomic ``os.replace``.

A transaction's id starts with its creation time (8 hex digits of Unix seconds). A run that was
killed, or whose storage was unreachable when it tried to clean up, leaves hidden files behind;
the next commit in the same folders deletes those older than :data:`STALE_AFTER`, which no run
still writing can be (a run that long would be writing them itself).
"""

from __future__ import annotations

import logging
import posixpath
import re
import secrets
import time
from dataclasses import dataclass, field

from ._storage import Storage, clean

log = logging.getLogger("madstream.storage")

__all__ = ["STALE_AFTER", "Transaction", "new_transaction_id"]

#: Age after which another run's leftover temporary files are deleted (seconds).
STALE_AFTER = 24 * 3600
#: A leftover's transaction id in its name: `.staging-<id>` or `.<name>.<id>[.partN].tmp`.
_LEFTOVER_ID = re.compile(r"^\.(?:staging-|.+\.)([0-9a-f]{8})[0-9a-f]{8}(?:\.part\d+)?(?:\.tmp)?$")


def new_transaction_id() -> str:
    """A unique id whose first 8 hex digits are the current Unix time."""
    return f"{int(time.time()):08x}{secrets.token_hex(4)}"


@dataclass
class Transaction:
    """The files one run is writing, and where each goes when the run succeeds."""

    storage: Storage
    run_id: str = field(default_factory=new_transaction_id)
    staged: list[tuple[str, str]] = field(default_factory=list)
    #: Files to delete after publishing (fragments of the previous run that this run did not replace).
    stale: list[str] = field(default_factory=list)
    #: Working files that are never published (result parts before a merge).
    scratch: list[str] = field(default_factory=list)

    def stage(self, final: str) -> str:
        """A hidden temporary path beside ``final``; published there on commit."""
        final = clean(final)
        folder, name = posixpath.split(final)
        temp = posixpath.join(folder, f".{name}.{self.run_id}.tmp")
        self.staged.append((temp, final))
        return temp

    def stage_in(self, folder: str, name: str) -> str:
        """A temporary path in a hidden staging folder under ``folder``, published as ``folder/name``."""
        folder = clean(folder)
        temp = posixpath.join(folder, f".staging-{self.run_id}", name)
        self.staged.append((temp, posixpath.join(folder, name)))
        return temp

    def commit(self) -> None:
        """Publish fragments, then results, then drop stale files and staging folders.

        Results go last so that a reader who sees a new result also finds its fragments. Each
        group is published concurrently on remote storage (moves are independent round trips).
        """
        published = {final for _, final in self.staged}
        marker = f".staging-{self.run_id}/"
        fragments = [move for move in self.staged if marker in move[0]]
        results = [move for move in self.staged if marker not in move[0]]
        self.storage.move_many(fragments)
        self.storage.move_many(results)
        self.storage.delete_many([path for path in self.stale if path not in published])
        self._drop_scratch()
        self._sweep({posixpath.dirname(final) for _, final in self.staged})

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
                for path in self.storage.glob_sync(posixpath.join(folder, ".*"))
                if (m := _LEFTOVER_ID.match(posixpath.basename(path))) and int(m.group(1), 16) < cutoff
            ]
            for path in old:
                self.storage.delete_sync(path, recursive=True)
        except Exception as exc:  # noqa: BLE001 - leftovers are hidden; the run has succeeded
            log.warning("run %s: could not sweep old temporary files (%s)", self.run_id, exc)
            return
        if old:
            log.info("run %s: deleted %d temporary file(s) left by earlier runs", self.run_id, len(old))

    def _drop_scratch(self) -> None:
        self._drop(self.scratch)

    def _drop(self, paths: list[str]) -> None:
        dirs = sorted({posixpath.dirname(t) for t, _ in self.staged if f".staging-{self.run_id}" in t})
        try:
            self.storage.delete_many(paths)
            for folder in dirs:
                self.storage.delete_sync(folder, recursive=True)
        except Exception as exc:  # noqa: BLE001 - the run's own outcome matters more than its cleanup
            log.warning("run %s: could not delete temporary files (%s); they are hidden and never read", self.run_id, exc)
