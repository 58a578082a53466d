"""Run lifecycle: cache check → execute (source → normalize → write) → commit → record.

A run writes everything under temporary names and publishes only when the extract function
finished and every file closed. A failure anywhere discards the run's files, leaves the previous
result as it was, records the run as failed, and raises a madstream error.
"""

from __future__ import annotations

import datetime as dt
import inspect
import logging
import posixpath
import threading
import time
import uuid
from typing import Any

import anyio
import anyio.to_thread

from ._artifact import DataArtifact
from ._asset import DataAsset, Spec
from ._catalog import (
    DataAssetRun,
    Manifest,
    claim_results,
    owns_results,
    read_manifest,
    verify_claims,
    write_manifest,
)
from ._commit import Transaction
from ._errors import ExtractError, MadstreamError
from ._observe import RunObserver, observers, watch_writes
from ._pipeline import pump
from ._storage import Storage, current_storage, translate_error
from ._write import Layout, RunWriter

__all__ = ["current_result", "latest_result", "materialize"]

log = logging.getLogger("madstream")

# Configurations materialized by this process: (storage root, asset id) → manifest.
_done: dict[tuple[str, str], Manifest] = {}
_done_lock = threading.Lock()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _artifact(asset: DataAsset, manifest: Manifest) -> DataArtifact:
    return DataArtifact(
        manifest.results[0], None, asset.read_json_options, asset.read_csv_options,
        columns=manifest.columns, rows=manifest.rows, asset=manifest.asset_name,
    )


def _fresh(asset: DataAsset, spec: Spec, storage: Storage) -> Manifest | None:
    """A cached result of this configuration still within ``cache_expiration``, if any."""
    if not asset.cache_expiration:
        return None
    manifest = read_manifest(storage, spec.name, spec.asset_id)
    if manifest is None or _now() - manifest.materialized > asset.cache_expiration:
        return None
    # Another configuration sharing the path may have overwritten the file since (the owner
    # record says), or someone outside madstream may have changed or removed it (the size says).
    if not owns_results(storage, manifest):
        return None
    try:
        sizes = [storage.size_sync(p) for p in manifest.results]
    except Exception:  # a result is gone
        return None
    return manifest if sizes == manifest.result_sizes else None


async def current_result(asset: DataAsset) -> DataArtifact:
    """The result to query: this process's last run, a fresh cached run, or a new run."""
    spec = asset._spec()
    storage = current_storage()
    with _done_lock:
        manifest = _done.get((storage.basepath, spec.asset_id))
    if manifest is None:
        manifest = await anyio.to_thread.run_sync(_fresh, asset, spec, storage)
    if manifest is not None:
        return _artifact(asset, manifest)
    return await materialize(asset)


async def latest_result(asset: DataAsset) -> DataArtifact | None:
    """The last successful result on storage however old, or ``None`` (the CLI queries it as is)."""
    spec = asset._spec()
    storage = current_storage()
    manifest = await anyio.to_thread.run_sync(read_manifest, storage, spec.name, spec.asset_id)
    if manifest is None or not await anyio.to_thread.run_sync(storage.exists_sync, manifest.results[0]):
        return None
    return _artifact(asset, manifest)


async def materialize(asset: DataAsset) -> DataArtifact:
    """Run ``asset`` (unless a fresh cached result exists) and return its first result artifact."""
    spec = asset._spec()
    storage = current_storage()
    cached = await anyio.to_thread.run_sync(_fresh, asset, spec, storage)
    if cached is not None:
        log.info("asset %s: using cached result from %s", spec.name, cached.materialized.isoformat())
        with _done_lock:
            _done[(storage.basepath, spec.asset_id)] = cached
        return _artifact(asset, cached)

    started = time.perf_counter()
    run = DataAssetRun(
        id=uuid.uuid4().hex, runtime=_now(), asset_id=spec.asset_id, asset_name=spec.name,
        asset_path=spec.path, parameters=spec.parameters, status="running",
    )
    assert run.id is not None and run.runtime is not None
    fragment_dir = spec.fragment_base
    if asset.snapshot_artifacts:
        r = run.runtime
        fragment_dir = posixpath.join(
            fragment_dir, f"year={r.year}", f"month={r.month}", f"day={r.day}",
            f"runtime={r.replace(tzinfo=None).isoformat()}",
        )
    layout = Layout(
        results=spec.results, fragment_dir=fragment_dir,
        fragment_type=asset.artifact_filetype, extras=spec.extras,
    )
    txn = Transaction(storage)
    writer = RunWriter(storage, txn, layout)
    watchers = observers()
    callbacks = [cb for cb in (o.run_started(run) for o in watchers) if cb is not None]
    write = watch_writes(writer.write, callbacks) if callbacks else writer.write
    try:
        data = await _call(asset, spec)
        await pump(data, write, asset=spec.name, path=spec.path, json_lines=writer.json_lines)
        stats = await anyio.to_thread.run_sync(writer.close)
        if not asset.snapshot_artifacts:
            # The previous run's fragments are replaced: drop any this run did not rewrite.
            txn.stale = await anyio.to_thread.run_sync(storage.glob_sync, posixpath.join(fragment_dir, "fragment=*"))
        await anyio.to_thread.run_sync(_publish, storage, txn, list(spec.results), run.id)
        sizes = [await anyio.to_thread.run_sync(storage.size_sync, p) for p in spec.results]
    except BaseException as exc:
        writer.abort()
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(txn.discard)
            await _record_failure(run, exc, started, storage)
            _notify(watchers, run)
        if isinstance(exc, OSError):
            raise translate_error(exc, storage.url, spec.path) from exc
        if isinstance(exc, Exception) and not isinstance(exc, MadstreamError):
            # Errors of the extract function are already ExtractErrors; this is ours.
            raise MadstreamError(
                f"materializing failed: {type(exc).__name__}: {exc}", asset=spec.name, path=spec.path,
                hint="the previous result is unchanged; please report this with its traceback",
            ) from exc
        raise

    run.materialized = _now()
    run.duration_miliseconds = int((time.perf_counter() - started) * 1000)
    run.status, run.rows, run.batches, run.bytes = "succeeded", stats.rows, stats.batches, stats.bytes
    manifest = Manifest(
        asset_id=spec.asset_id, asset_name=spec.name, run_id=run.id, materialized=run.materialized,
        results=list(spec.results), result_sizes=sizes, fragments=stats.fragments, fragment_type=asset.artifact_filetype,
        columns=stats.column_types, rows=stats.rows, bytes=stats.bytes, parameters=spec.parameters,
        schema_changes=stats.schema_changes,
    )

    def record() -> None:
        run.persist_sync(storage)
        write_manifest(storage, manifest)

    await anyio.to_thread.run_sync(record)
    _notify(watchers, run)
    with _done_lock:
        # A configuration that shares a result path no longer has its result there.
        for key, other in list(_done.items()):
            if key[0] == storage.basepath and set(other.results) & set(manifest.results):
                del _done[key]
        _done[(storage.basepath, spec.asset_id)] = manifest
    log.info("asset %s: %d rows in %d batches, %d ms", spec.name, stats.rows, stats.batches, run.duration_miliseconds)
    return _artifact(asset, manifest)


def _publish(storage: Storage, txn: Transaction, results: list[str], run_id: str) -> None:
    claim_results(storage, results, run_id)
    txn.commit()
    verify_claims(storage, results, run_id)


def _notify(watchers: tuple[RunObserver, ...], run: DataAssetRun) -> None:
    for watcher in watchers:
        try:
            watcher.run_finished(run)
        except Exception:  # a display or hook must never fail the run it watches
            log.warning("asset %s: a run observer failed", run.asset_name, exc_info=True)


async def _call(asset: DataAsset, spec: Spec) -> Any:
    """Call the extract function; a plain sync function runs in a worker thread (it may block)."""
    fn = asset.fn
    args, kwargs = spec.arguments.args, spec.arguments.kwargs
    try:
        if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn) or inspect.isgeneratorfunction(fn):
            return fn(*args, **kwargs)
        return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))
    except MadstreamError:
        raise
    except Exception as exc:
        raise ExtractError(
            f"the extract function raised {type(exc).__name__}: {exc}", asset=spec.name, path=spec.path,
            hint="fix the function or its input; the previous result is unchanged",
        ) from exc


async def _record_failure(run: DataAssetRun, exc: BaseException, started: float, storage: Storage) -> None:
    run.status = "failed"
    run.error = f"{type(exc).__name__}: {exc}"
    run.duration_miliseconds = int((time.perf_counter() - started) * 1000)
    try:
        await anyio.to_thread.run_sync(run.persist_sync, storage)
    except Exception:  # the original failure matters more than its record
        log.warning("asset %s: could not record the failed run", run.asset_name, exc_info=True)
