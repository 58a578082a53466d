"""Which committed result a configuration reads: this process's last run, or a fresh cached one.

A cache check is one small read (the manifest), plus the owner record and the result sizes, so
a result that another configuration or someone outside madstream has since replaced is never
taken for this configuration's own.
"""

from __future__ import annotations

import datetime as dt
import threading

from ..commit.catalog import Manifest, owns_results, read_manifest
from .plan import RunPlan

__all__ = ["fresh_manifest", "latest_manifest", "remember", "remembered"]

# Configurations materialized by this process: (storage root, asset id) → manifest.
_done: dict[tuple[str, str], Manifest] = {}
_done_lock = threading.Lock()


def remembered(plan: RunPlan) -> Manifest | None:
    """The manifest of this process's last run of ``plan``'s configuration, if any."""
    with _done_lock:
        return _done.get((plan.store.basepath, plan.asset_id))


def remember(plan: RunPlan, manifest: Manifest) -> None:
    """Record ``manifest`` as the configuration's current result in this process."""
    with _done_lock:
        # A configuration that shares a result path no longer has its result there.
        for key, other in list(_done.items()):
            if key[0] == plan.store.basepath and key[1] != plan.asset_id and set(other.results) & set(manifest.results):
                del _done[key]
        _done[(plan.store.basepath, plan.asset_id)] = manifest


def fresh_manifest(plan: RunPlan) -> Manifest | None:
    """A cached result of this configuration still within ``cache_expiration`` (blocking), if any."""
    if not plan.cache_expiration:
        return None
    store = plan.store
    manifest = read_manifest(store, plan.name, plan.asset_id)
    if manifest is None or dt.datetime.now(dt.UTC) - manifest.materialized > plan.cache_expiration:
        return None
    # Another configuration sharing the path may have overwritten the file since (the owner
    # record says), or someone outside madstream may have changed or removed it (the size says).
    if not owns_results(store, manifest):
        return None
    try:
        sizes = [store.size_sync(p) for p in manifest.results]
    except Exception:  # a result is gone
        return None
    return manifest if sizes == manifest.result_sizes else None


def latest_manifest(plan: RunPlan) -> Manifest | None:
    """The last successful result on storage however old (blocking), or ``None``."""
    manifest = read_manifest(plan.store, plan.name, plan.asset_id)
    if manifest is None or not plan.store.exists_sync(manifest.results[0]):
        return None
    return manifest
