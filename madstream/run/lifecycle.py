"""Run lifecycle: cache check → extract → stream → write → commit → record.

A run writes its files once, in a run folder of its dataset, and becomes visible in one step:
the next version record, created only when the extract function finished and every file
closed. A failure anywhere deletes the run folder, leaves the previous versions as they were,
records the run as failed, and raises a madstream error. Within one process, concurrent calls
of one configuration share one run.
"""

from __future__ import annotations

import datetime as dt
import inspect
import logging
import posixpath
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread

from ..base.errors import DefinitionError, ExtractError, MadstreamError
from ..commit.appends import appended
from ..commit.catalog import RunRecord
from ..commit.crashpoints import crash_point
from ..commit.retention import vacuum
from ..commit.runs import RunFolder
from ..commit.staging import new_transaction_id
from ..commit.versions import FileEntry, Version
from ..commit.view import refresh_view, repair_view
from ..query.mad import mad_protocol_hint
from ..stream.channel import pump
from ..write.writer import Layout, RunWriter, WriteStats
from .contract import check_frozen, contracted
from .incremental import CursorTracker, decode_value, encode_value
from .merge import Merger, merged_version
from .observe import RunObserver, observers, progress_enabled, sizing, watch_writes
from .plan import RunPlan
from .results import dataset_of, fresh_version, intact, remember, remembered

__all__ = ["current", "materialize"]

log = logging.getLogger("madstream")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def current(plan: RunPlan) -> Version:
    """The version to query: this process's last run, a fresh cached version, or a new run.

    An appended dataset is read at its newest version (every writer's parts) once it has one:
    reading never appends the rows again.
    """
    if plan.appends:
        newest = await anyio.to_thread.run_sync(_newest_intact, plan)
        if newest is not None:
            return newest
    version = remembered(plan)
    if version is not None and not await anyio.to_thread.run_sync(intact, plan, version):
        version = None  # its result changed since: never served as the committed data
    if version is None:
        version = await anyio.to_thread.run_sync(fresh_version, plan)
    return version if version is not None else await materialize(plan)


@dataclass
class _Flight:
    """A run in progress in this process, which later calls of its configuration wait for."""

    done: threading.Event = field(default_factory=threading.Event)
    version: Version | None = None
    error: BaseException | None = None


_flights: dict[tuple[str, str], _Flight] = {}
_flights_lock = threading.Lock()


async def materialize(plan: RunPlan) -> Version:
    """Run ``plan`` (unless a fresh cached version exists) and return the version of its result.

    A call while the same configuration is already running in this process waits for that run
    and shares its outcome.
    """
    key = (plan.store.basepath, plan.asset_id)
    with _flights_lock:
        flight = _flights.get(key)
        leader = flight is None
        if flight is None:
            flight = _flights[key] = _Flight()
    if not leader:
        await anyio.to_thread.run_sync(flight.done.wait, abandon_on_cancel=True)
        if flight.error is not None:
            raise flight.error
        assert flight.version is not None
        return flight.version
    try:
        flight.version = await _materialize(plan)
        return flight.version
    except BaseException as exc:
        flight.error = exc
        raise
    finally:
        with _flights_lock:
            del _flights[key]
        flight.done.set()


async def _materialize(plan: RunPlan) -> Version:
    await anyio.to_thread.run_sync(repair_view, dataset_of(plan))
    cached = await anyio.to_thread.run_sync(fresh_version, plan)
    if cached is not None:
        log.info("asset %s: using cached version %d from %s", plan.name, cached.version, cached.committed.isoformat())
        remember(plan, cached)
        return cached
    run = RunRecord(
        id=new_transaction_id(), runtime=_now(), asset_id=plan.asset_id, asset_name=plan.name,
        asset_path=plan.path, parameters=plan.parameters, status="running",
    )
    watchers = _watchers()
    started = time.perf_counter()
    try:
        version = await _execute(plan, run, watchers)
    except BaseException as exc:
        error = _reported(plan, exc)
        with anyio.CancelScope(shield=True):
            await _record_failure(plan, run, error, started)
            _notify(watchers, run)
        if error is exc:
            raise
        raise error from exc
    crash_point("recorded")
    await _record_success(plan, run, version, started)
    _notify(watchers, run)
    remember(plan, version)
    log.info("asset %s: version %d, %d rows, %d ms", plan.name, version.version, version.rows, run.duration_miliseconds)
    return version


def _watchers() -> tuple[RunObserver, ...]:
    """The run's observers: the registered ones, plus the progress display on a terminal."""
    found = observers()
    if progress_enabled() and not any(getattr(o, "draws_progress", False) for o in found):
        from .progress import shared_display  # imports rich only when a terminal will show it

        found = (*found, shared_display())
    return found


async def _execute(plan: RunPlan, run: RunRecord, watchers: tuple[RunObserver, ...]) -> Version:
    """Extract, stream and write the run's files, then commit them as the dataset's next version."""
    assert run.id is not None and run.runtime is not None
    dataset = dataset_of(plan)
    fragment_dir = plan.fragment_dir(run.runtime)
    results = plan.part_paths(run.id) if plan.in_folder else plan.results
    layout = Layout(results=results, fragment_dir=fragment_dir, fragment_type=plan.fragment_type, extras=plan.extras,
                    detect_text=plan.detect_types and plan.fragment_type != "parquet", reader_options=plan.reader_options,
                    partition_by=plan.partition_by, max_open_files=plan.max_open_files)
    callbacks = [cb for cb in (o.run_started(run) for o in watchers) if cb is not None]
    await anyio.to_thread.run_sync(_check_targets, plan)
    args, kwargs, cursor = plan.args, dict(plan.kwargs), None
    if plan.cursor is not None:
        name, spec = plan.cursor
        committed = await anyio.to_thread.run_sync(_committed_cursor, plan)
        bound = inspect.signature(plan.fn).bind(*args, **kwargs)
        bound.arguments[name] = spec.for_run(committed)
        args, kwargs = bound.args, bound.kwargs
        cursor = (CursorTracker(spec), committed)
    baseline = None
    if plan.schema_contract != "evolve":
        newest = await anyio.to_thread.run_sync(dataset.latest)  # the dataset's schema, whoever wrote it
        baseline = newest.columns if newest is not None else None
    folder = RunFolder(dataset, run.id)
    writer = RunWriter(plan.store, folder, layout)
    write = contracted(writer.write, plan.schema_contract, baseline)
    write = write if cursor is None else _tracking(write, cursor[0])
    write = watch_writes(write, callbacks) if callbacks else write
    try:
        with sizing(callbacks):  # a yielded asset announces its rows to this run's observers
            data = await _call(plan, args, kwargs)
            await pump(data, write, asset=plan.name, path=plan.path, json_lines=writer.json_lines)
        stats = await anyio.to_thread.run_sync(writer.close)
        if baseline and plan.schema_contract == "freeze":
            check_frozen(baseline, stats.column_types)
        crash_point("written")
        draft = await anyio.to_thread.run_sync(_draft, plan, run, stats, fragment_dir, folder)
        if cursor is not None:
            tracker, before = cursor
            mark = tracker.spec.advance(before, tracker.value)
            draft.state["cursor"] = {"column": tracker.spec.cursor_path, "last_value": encode_value(mark)}
        rebase = (lambda newest: appended(draft, newest)) if plan.appends else None
        if plan.write_mode == "merge":
            rebase = await anyio.to_thread.run_sync(_merging, plan, run.id, folder, draft)
        crash_point("committing")
        version = await anyio.to_thread.run_sync(dataset.commit, draft, rebase)
        crash_point("committed")
    except BaseException:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(writer.abort)
            await anyio.to_thread.run_sync(folder.discard)
        raise
    await anyio.to_thread.run_sync(_after_commit, plan, version)
    return version


def _check_targets(plan: RunPlan) -> None:
    """Fail before anything runs if a result path is a folder: its view could never be shown there."""
    for path in plan.results:
        if plan.store.isdir_sync(path):
            raise DefinitionError(
                f"the result path `{path}` is a folder", asset=plan.name, path=path,
                hint="move the folder away or give the asset another path",
            )


def _draft(plan: RunPlan, run: RunRecord, stats: WriteStats, fragment_dir: str, folder: RunFolder) -> Version:
    """The version record of a finished run, before it has a number (blocking: stats the results)."""
    assert run.id is not None
    folder.drop_work()
    results = []
    for path in stats.results:
        stored = stats.files[path]
        _, mtime = plan.store.stat_sync(stored.file)
        results.append(FileEntry(
            path=path, file=stored.file, size=stored.size, crc32=stored.crc32, rows=stored.rows, mtime=mtime,
            columns=stats.file_columns.get(path, stats.column_types) if plan.in_folder else None,
        ))
    if plan.appends and stats.rows == 0:
        results = []  # an append of nothing adds no part (the run folder goes with retention)
    fragments = [
        FileEntry(path=path, file=stored.file, size=stored.size, crc32=stored.crc32, rows=stored.rows)
        for path in stats.fragments for stored in (stats.files[path],)
    ]
    return Version(
        run_id=run.id, asset_id=plan.asset_id, asset_name=plan.name, parameters=plan.parameters, committed=_now(),
        results=results, fragments=fragments, fragment_type=plan.fragment_type, fragment_dir=fragment_dir,
        snapshot=plan.snapshot, columns=stats.column_types, rows=stats.rows, batches=stats.batches, bytes=stats.bytes,
        schema_changes=stats.schema_changes, text_types=stats.text_types, write_mode=plan.write_mode,
        partition_by=list(plan.partition_by),
    )


def _after_commit(plan: RunPlan, version: Version) -> None:
    """Show the new version at the seed's paths, then apply retention (both best effort: the run is committed)."""
    dataset = dataset_of(plan)
    try:
        refresh_view(dataset, version)
    except Exception as exc:  # noqa: BLE001 - the next call on the dataset repairs the view
        log.warning("asset %s: version %d is committed, but its files could not be shown at %s (%s)",
                    plan.name, version.version, plan.path, exc)
    try:
        vacuum(dataset, keep_versions=plan.keep_versions, keep_for=plan.keep_for)
    except Exception as exc:  # noqa: BLE001 - retention can wait for the next run or `vacuum`
        log.warning("asset %s: could not apply retention (%s)", plan.name, exc)


def _merging(plan: RunPlan, run_id: str, folder: RunFolder, draft: Version) -> Callable[[Version | None], Version]:
    """Prepare a merge (blocking): the run's own duplicate keys resolved, each part's key range
    recorded; returns the rebase that merges the parts into whichever version is newest."""
    base = posixpath.splitext(plan.results[0])[0]

    def stage(final: str) -> str:
        if plan.partition_by:
            return folder.stage_partition(posixpath.relpath(posixpath.dirname(final), base), final)
        return folder.stage(final)

    merger = Merger(plan.store, plan.primary_key, stage, run_id)
    parts = []
    for part in merger.dedupe(draft.results):
        found = merger.key_range(part)
        parts.append(part.model_copy(update={"key_range": [list(found.low), list(found.high)]}) if found else part)
    draft.results = parts
    draft.primary_key = list(plan.primary_key)
    return lambda newest: merged_version(draft, newest, merger, parts)


def _newest_intact(plan: RunPlan) -> Version | None:
    """The dataset's newest version, whichever configuration committed it, if its files are intact."""
    newest = dataset_of(plan).latest()
    return newest if newest is not None and intact(plan, newest) else None


def _committed_cursor(plan: RunPlan) -> Any:
    """The cursor mark committed with the configuration's newest version (blocking), or ``None``."""
    newest = dataset_of(plan).latest(plan.asset_id)
    return None if newest is None else decode_value((newest.state.get("cursor") or {}).get("last_value"))


def _tracking(write: Callable[[Any, Any], None], tracker: CursorTracker) -> Callable[[Any, Any], None]:
    def tracked(batch: Any, json: Any = None) -> None:
        write(batch, json)
        tracker.observe(batch)

    return tracked


async def _call(plan: RunPlan, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Call the extract function; a plain sync function runs in a worker thread (it may block)."""
    fn = plan.fn
    try:
        if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn) or inspect.isgeneratorfunction(fn):
            return fn(*args, **kwargs)
        return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))
    except MadstreamError:
        raise
    except Exception as exc:
        raise ExtractError(
            f"the extract function raised {type(exc).__name__}: {exc}", asset=plan.name, path=plan.path,
            hint=mad_protocol_hint(exc) or "fix the function or its input; the previous result is unchanged",
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


async def _record_success(plan: RunPlan, run: RunRecord, version: Version, started: float) -> None:
    run.materialized = version.committed
    run.duration_miliseconds = int((time.perf_counter() - started) * 1000)
    run.status, run.rows, run.batches, run.bytes = "succeeded", version.rows, version.batches, version.bytes
    await anyio.to_thread.run_sync(run.persist_sync, plan.store)


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
