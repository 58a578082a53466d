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
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread

from ..base.errors import DefinitionError, ExtractError, MadstreamError
from ..commit.catalog import RunRecord
from ..commit.crashpoints import crash_point
from ..commit.retention import vacuum
from ..commit.runs import RunFolder
from ..commit.staging import new_transaction_id
from ..commit.versions import Version
from ..commit.view import refresh_view, repair_view
from ..query.mad import mad_protocol_hint
from ..stream.channel import pump
from .contract import contracted
from .incremental import CursorTracker, decode_value
from .observe import RunObserver, observers, progress_enabled, sizing, watch_writes
from .plan import RunPlan
from .results import FEW_STATS, dataset_of, fresh_version, intact, remember, remembered
from .segments import Checkpoints, Segments

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
    if version is not None and not await _intact(plan, version):
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
    """Extract, stream and write the run's files, then commit them as the dataset's next version
    (with ``checkpoint_every``, also every so often on the way; see :mod:`.segments`)."""
    assert run.id is not None and run.runtime is not None
    dataset = dataset_of(plan)
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
    started = 0
    if plan.write_mode in ("merge", "overwrite_partitions"):  # what others commit from now may conflict
        started = (await anyio.to_thread.run_sync(dataset.numbers) or [0])[-1]
    folder = RunFolder(dataset, run.id)
    segments = Segments(
        plan, run, dataset, folder, plan.fragment_dir(run.runtime), cursor=cursor, baseline=baseline,
        checkpoints=Checkpoints(plan.checkpoint_rows, plan.checkpoint_bytes), started=started,
    )
    write = contracted(segments.write, plan.schema_contract, baseline)
    write = watch_writes(write, callbacks) if callbacks else write
    try:
        with sizing(callbacks):  # a yielded asset announces its rows to this run's observers
            data = await _call(plan, args, kwargs)
            await pump(
                data, write, asset=plan.name, path=plan.path, json_lines=segments.json_lines,
                trim_heap=plan.store.local_root is None,
            )
        version = await anyio.to_thread.run_sync(segments.finish)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(segments.abort)
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


async def _intact(plan: RunPlan, version: Version) -> bool:
    """:func:`intact`, on the event loop for a few local files (a stat each: microseconds, less
    than the hop to a worker thread, which is most of a small query's overhead) and in a worker
    thread otherwise."""
    if plan.store.local_root is not None and len(version.results) <= FEW_STATS:
        return intact(plan, version)
    return await anyio.to_thread.run_sync(intact, plan, version)


def _newest_intact(plan: RunPlan) -> Version | None:
    """The dataset's newest version, whichever configuration committed it, if its files are intact."""
    newest = dataset_of(plan).latest()
    return newest if newest is not None and intact(plan, newest) else None


def _committed_cursor(plan: RunPlan) -> Any:
    """The cursor mark committed with the configuration's newest version (blocking), or ``None``."""
    newest = dataset_of(plan).latest(plan.asset_id)
    return None if newest is None else decode_value((newest.state.get("cursor") or {}).get("last_value"))


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
    if isinstance(exc, anyio.get_cancelled_exc_class()):
        # A cancellation carries no message: say what happened, and that nothing was committed.
        run.error = f"{type(exc).__name__}: the run was cancelled before it committed; the previous result is unchanged"
    else:
        run.error = f"{type(exc).__name__}: {exc}" if str(exc) else f"{type(exc).__name__} (no message)"
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
