"""Which committed version a configuration reads: this process's last run, or a fresh cached one.

A cache check lists the dataset's versions and reads the newest of this configuration, then
checks that its result files are still what the version recorded (size and modification time),
so a result someone changed is never served as the committed data: the run goes again instead.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import threading

from ..commit.versions import Dataset, Version
from .plan import RunPlan

__all__ = ["FEW_STATS", "dataset_of", "fresh_version", "intact", "latest_version", "remember", "remembered"]

# Configurations materialized by this process: (storage root, asset id) → version.
_done: dict[tuple[str, str], Version] = {}
_done_lock = threading.Lock()


def dataset_of(plan: RunPlan) -> Dataset:
    """The dataset a configuration publishes: everything at its first result path."""
    return Dataset(plan.store, plan.results[0])


def remembered(plan: RunPlan) -> Version | None:
    """The version of this process's last run of ``plan``'s configuration, if any."""
    with _done_lock:
        return _done.get((plan.store.basepath, plan.asset_id))


def remember(plan: RunPlan, version: Version) -> None:
    """Record ``version`` as the configuration's current result in this process."""
    with _done_lock:
        _done[(plan.store.basepath, plan.asset_id)] = version


def intact(plan: RunPlan, version: Version) -> bool:
    """Whether every result file of ``version`` is as it was committed (blocking)."""
    files = [entry.file for entry in version.results]
    try:
        if len(files) > FEW_STATS and plan.store.native(files[0]) is None:
            # Remote, many parts (an appended or partitioned dataset): one listing per run folder.
            dataset = dataset_of(plan)
            listed: dict[str, tuple[int, float | None]] = {}
            for folder in sorted({dataset.run_dir_of(f) or posixpath.dirname(f) for f in files}):
                listed.update(plan.store.stats_under_sync(folder))
            if any(f not in listed for f in files):
                return False
            stats = [listed[f] for f in files]
        else:
            stats = [plan.store.stat_sync(f) for f in files]
    except Exception:  # noqa: BLE001 - a result file is gone
        return False
    return all(
        size == entry.size and (entry.mtime is None or mtime is None or abs(mtime - entry.mtime) < 1e-3)
        for (size, mtime), entry in zip(stats, version.results)
    )


#: Up to this many result files are checked one stat each; more are listed by folder.
FEW_STATS = 4


def fresh_version(plan: RunPlan) -> Version | None:
    """The configuration's newest version if still within ``cache_expiration`` and intact (blocking)."""
    if not plan.cache_expiration:
        return None
    version = dataset_of(plan).latest(plan.asset_id)
    if version is None or dt.datetime.now(dt.UTC) - version.committed > plan.cache_expiration:
        return None
    return version if intact(plan, version) else None


def latest_version(plan: RunPlan) -> Version | None:
    """The configuration's newest intact version however old (blocking), or ``None``."""
    version = dataset_of(plan).latest(plan.asset_id)
    return version if version is not None and intact(plan, version) else None
