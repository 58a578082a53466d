"""Run lifecycle: cache check → extract → stream → write → commit → record.

A run writes everything under temporary names and publishes only when the extract function
finished and every file closed. A failure anywhere discards the run's files, leaves the previous
result as it was, records the run as failed, and raises a madstream error.
"""

from __future__ import annotations

import datetime as dt
import inspect
import logging
import time
import uuid
from typing import Any

import anyio
import anyio.to_thread

from ..base.errors import ExtractError, MadstreamError
from ..commit.catalog import Manifest, RunRecord, record_folders, write_manifest
from ..commit.transaction import Transaction
from ..stream.channel import pump
from ..write.writer import Layout, RunWriter, WriteStats
from .observe import RunObserver, observers, progress_enabled, watch_writes
from .plan import RunPlan
from .results import fresh_manifest, remember, remembered

__all__ = ["current", "materialize"]

log = logging.getLogger("madstream")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def current(plan: RunPlan) -> Manifest:
    """The result to query: this process's last run, a fresh cached run, or a new run."""
    manifest = remembered(plan)
    if manifest is None:
        manifest = await anyio.to_thread.run_sync(fresh_manifest, plan)
    return manifest if manifest is not None else await materialize(plan)


async def materialize(plan: RunPlan) -> Manifest:
    """Run ``plan`` (unless a fresh cached result exists) and return the manifest of its result."""
    cached = await anyio.to_thread.run_sync(fresh_manifest, plan)
    if cached is not None:
        log.info("asset %s: using cached result from %s", plan.name, cached.materialized.isoformat())
        remember(plan, cached)
        return cached
    run = RunRecord(
        id=uuid.uuid4().hex, runtime=_now(), asset_id=plan.asset_id, asset_name=plan.name,
        asset_path=plan.path, parameters=plan.parameters, status="running",
    )
    watchers = _watchers()
    started = time.perf_counter()
    try:
        stats, sizes = await _execute(plan, run, watchers)
    except BaseException as exc:
        error = _reported(plan, exc)
        with anyio.CancelScope(shield=True):
            await _record_failure(plan, run, error, started)
            _notify(watchers, run)
        if error is exc:
            raise
        raise error from exc
    manifest = await _record_success(plan, run, stats, sizes, started)
    _notify(watchers, run)
    remember(plan, manifest)
    log.info("asset %s: %d rows in %d batches, %d ms", plan.name, stats.rows, stats.batches, run.duration_miliseconds)
    return manifest


def _watchers() -> tuple[RunObserver, ...]:
    """The run's observers: the registered ones, plus the progress display on a terminal."""
    found = observers()
    if progress_enabled() and not any(getattr(o, "draws_progress", False) for o in found):
        from .progress import shared_display  # imports rich only when a terminal will show it

        found = (*found, shared_display())
    return found


async def _execute(plan: RunPlan, run: RunRecord, watchers: tuple[RunObserver, ...]) -> tuple[WriteStats, list[int]]:
    """Extract, stream and write the run's files, then publish them together; returns what was written."""
    assert run.id is not None and run.runtime is not None
    fragment_dir = plan.fragment_dir(run.runtime)
    layout = Layout(results=plan.results, fragment_dir=fragment_dir, fragment_type=plan.fragment_type, extras=plan.extras)
    callbacks = [cb for cb in (o.run_started(run) for o in watchers) if cb is not None]
    store = plan.store
    async with Transaction(store, claims=plan.results, owner=run.id, sweep=record_folders(plan.name, plan.asset_id)) as txn:
        writer = RunWriter(store, txn, layout)
        write = watch_writes(writer.write, callbacks) if callbacks else writer.write
        try:
            data = await _call(plan)
            await pump(data, write, asset=plan.name, path=plan.path, json_lines=writer.json_lines)
            stats = await anyio.to_thread.run_sync(writer.close)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(writer.abort)
            raise
        if not plan.snapshot:
            # The previous run's fragments are replaced: drop any this run did not rewrite.
            txn.stale = await anyio.to_thread.run_sync(store.glob_sync, f"{fragment_dir}/fragment=*")
    sizes = [await anyio.to_thread.run_sync(store.size_sync, p) for p in plan.results]
    return stats, sizes


async def _call(plan: RunPlan) -> Any:
    """Call the extract function; a plain sync function runs in a worker thread (it may block)."""
    fn, args, kwargs = plan.fn, plan.args, plan.kwargs
    try:
        if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn) or inspect.isgeneratorfunction(fn):
            return fn(*args, **kwargs)
        return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))
    except MadstreamError:
        raise
    except Exception as exc:
        raise ExtractError(
            f"the extract function raised {type(exc).__name__}: {exc}", asset=plan.name, path=plan.path,
            hint="fix the function or its input; the previous result is unchanged",
        ) from exc


def _reported(plan: RunPlan, exc: BaseException) -> BaseException:
    """The error a failed run raises: always a madstream error naming the asset (cancellation as is)."""
    if isinstance(exc, MadstreamError):
        return exc if exc.asset is not None else exc.at(asset=plan.name, path=plan.path)
    if isinstance(exc, OSError):
        return plan.store.translate(exc, plan.path).at(asset=plan.name)
    if isinstance(exc, Exception):
        return MadstreamError(
            f"materializing failed: {type(exc).__name__}: {exc}", asset=plan.name, path=plan.path,
            hint="the previous result is unchanged; please report this with its traceback",
        )
    return exc


async def _record_success(
    plan: RunPlan, run: RunRecord, stats: WriteStats, sizes: list[int], started: float,
) -> Manifest:
    assert run.id is not None
    run.materialized = _now()
    run.duration_miliseconds = int((time.perf_counter() - started) * 1000)
    run.status, run.rows, run.batches, run.bytes = "succeeded", stats.rows, stats.batches, stats.bytes
    manifest = Manifest(
        asset_id=plan.asset_id, asset_name=plan.name, run_id=run.id, materialized=run.materialized,
        results=list(plan.results), result_sizes=sizes, fragments=stats.fragments, fragment_type=plan.fragment_type,
        columns=stats.column_types, rows=stats.rows, bytes=stats.bytes, parameters=plan.parameters,
        schema_changes=stats.schema_changes,
    )

    def record() -> None:
        run.persist_sync(plan.store)
        write_manifest(plan.store, manifest)

    await anyio.to_thread.run_sync(record)
    return manifest


async def _record_failure(plan: RunPlan, run: RunRecord, exc: BaseException, started: float) -> None:
    run.status = "failed"
    run.error = f"{type(exc).__name__}: {exc}"
    run.duration_miliseconds = int((time.perf_counter() - started) * 1000)
    try:
        await anyio.to_thread.run_sync(run.persist_sync, plan.store)
    except Exception:  # the original failure matters more than its record
        log.warning("asset %s: could not record the failed run", run.asset_name, exc_info=True)


def _notify(watchers: tuple[RunObserver, ...], run: RunRecord) -> None:
    for watcher in watchers:
        try:
            watcher.run_finished(run)
        except Exception:  # a display or hook must never fail the run it watches
            log.warning("asset %s: a run observer failed", run.asset_name, exc_info=True)
