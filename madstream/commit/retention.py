"""Retention and vacuum: which versions a dataset keeps, and removing the rest.

A version is kept while it is one of the newest ``keep_versions``, or younger than ``keep_for``,
or the newest version of its configuration (a configuration never loses its last result).
Vacuum deletes the version records past retention first (nobody can pick them any more), then
their run folders, then run folders no version lists and scratch files, once they are older
than :data:`~madstream.commit.staging.STALE_AFTER` (a run that old is not still writing).
"""

from __future__ import annotations

import datetime as dt
import logging
import posixpath
import time
from dataclasses import dataclass, field

from ..base.defaults import DEFAULT_KEEP_FOR, DEFAULT_KEEP_VERSIONS
from .staging import STALE_AFTER, leftover_time
from .versions import Dataset, Version

__all__ = ["Vacuumed", "expired", "vacuum"]

log = logging.getLogger("madstream")


@dataclass
class Vacuumed:
    """What a vacuum removed."""

    versions: list[int] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)


def expired(
    versions: list[Version], *, keep_versions: int, keep_for: dt.timedelta, now: dt.datetime,
) -> list[Version]:
    """The versions (oldest first in, oldest first out) that retention no longer keeps."""
    newest_of: dict[str, int] = {}
    for v in versions:
        newest_of[v.asset_id] = max(newest_of.get(v.asset_id, 0), v.version)
    recent = {v.version for v in versions[-keep_versions:]} if keep_versions > 0 else set()
    return [
        v for v in versions
        if v.version not in recent and now - v.committed > keep_for and newest_of[v.asset_id] != v.version
    ]


def vacuum(
    dataset: Dataset, *, keep_versions: int = DEFAULT_KEEP_VERSIONS, keep_for: dt.timedelta = DEFAULT_KEEP_FOR,
    grace: float = STALE_AFTER,
) -> Vacuumed:
    """Remove versions past retention, their files, and what killed runs left (blocking)."""
    store, done = dataset.store, Vacuumed()
    history = dataset.history()
    gone = expired(history, keep_versions=keep_versions, keep_for=keep_for, now=dt.datetime.now(dt.UTC))
    for version in gone:
        store.delete_sync(dataset.version_path(version.version))
        done.versions.append(version.version)
    # A run folder stays while a kept version lists a file in it (appended versions list the
    # parts of earlier runs).
    dropped = {v.version for v in gone}
    listed: set[str] = set().union(*(v.runs_referenced() for v in history if v.version not in dropped))
    removed = {v.run_id for v in gone} - listed
    cutoff = time.time() - grace
    for folder in store.glob_sync(posixpath.join(dataset.root, "runs", "*")):
        name = posixpath.basename(folder)
        born = leftover_time(name)
        if name not in listed and (name in removed or (born is not None and born < cutoff)):
            store.delete_sync(folder, recursive=True)
            done.folders.append(folder)
    for scratch in store.glob_sync(posixpath.join(dataset.root, "scratch", "*")):
        born = leftover_time(posixpath.basename(scratch).split("-", 1)[0])
        if born is not None and born < cutoff:
            store.delete_sync(scratch, recursive=True)
            done.folders.append(scratch)
    if done.versions or done.folders:
        log.info("vacuum %s: removed %d version(s) and %d folder(s)", dataset.result_path, len(done.versions), len(done.folders))
    return done
