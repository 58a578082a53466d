"""Prefect at the top level: run assets as one flow run, one task run per asset configuration.

The engine never imports Prefect; this module is the only way in, and it imports Prefect when
it is imported. Each task run materializes one configuration and reports every result file to
Prefect as an asset materialization (``prefect.assets``), keyed by the storage URL and path and
carrying rows, bytes, batches, columns and duration, so lineage and history show in Prefect's UI.
A result reused from madstream's cache ends the task run as ``Cached`` and reports nothing (as
Prefect does for its own cached tasks). Transient storage errors are retried through Prefect's
task retries; terminal errors (bad input, schema, auth) fail at once.

The fan-out runs on whatever task runner the flow has: Prefect's thread pool by default, or a
Dask cluster through ``prefect_dask.DaskTaskRunner`` (``pip install 'madstream[dask]'``). Workers
read the same ``FILESYSTEM_URL``, so point a Dask cluster at shared object storage.

>>> from madstream.prefect import materialize
>>> artifacts = await materialize(*(listing.with_arguments(page=p) for p in range(10)))
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import anyio.to_thread
from prefect import Flow
from prefect.assets import Asset, AssetProperties
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun
from prefect.context import AssetContext, FlowRunContext, TaskRunContext
from prefect.futures import PrefectFuture, wait
from prefect.logging import get_run_logger
from prefect.states import Completed
from prefect.task_runners import TaskRunner
from prefect.tasks import MaterializingTask, Task

from .api.artifact import DataArtifact
from .api.asset import DataAsset
from .base.errors import MadstreamError
from .commit.catalog import RunRecord
from .run.observe import RunCollector, observe
from .run.summary import summary
from .storage.paths import clean

__all__ = ["asset_key", "is_transient", "materialize", "materialize_sync"]

#: Prefect's limit on an asset key's length.
_MAX_KEY = 512
_RESTRICTED = re.compile(r"[\s#?&%\"'<>\[\]{}|\\^`\x00]")


def asset_key(asset: DataAsset, path: str | None = None) -> str:
    """The Prefect asset key of ``path`` (default: the asset's first result) on the current storage.

    Stable across runs and machines that share the storage: the redacted storage URL joined with
    the result path, characters Prefect refuses replaced by ``_``.

    >>> asset_key(orders)
    'file:///data/storage/sales/orders.parquet'
    """
    plan = asset._plan()
    where = path if path is not None else plan.results[0]
    scheme, sep, rest = plan.store.url.partition("://")
    scheme = re.sub(r"[^a-z0-9]", "", scheme.lower()) or "file"
    key = f"{scheme}://{rest.rstrip('/')}/{clean(where)}" if sep else f"file://{scheme.rstrip('/')}/{clean(where)}"
    key = _RESTRICTED.sub("_", key)
    if len(key) > _MAX_KEY:  # keep the readable start, make the end unique
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        key = f"{key[: _MAX_KEY - 18]}--{digest}"
    return key


def is_transient(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or an error it was raised from) is a madstream error a retry may fix."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, MadstreamError) and exc.transient:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _retry_condition(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
    error = state.data if isinstance(state.data, BaseException) else None
    retry = is_transient(error)
    if not retry and error is not None:
        get_run_logger().info("not retrying %s: %s is terminal", task_run.name, type(error).__name__)
    return retry


def _metadata(run: RunRecord, artifact: DataArtifact) -> dict[str, Any]:
    return {
        "rows": run.rows, "bytes": run.bytes, "batches": run.batches,
        "duration_ms": run.duration_miliseconds, "columns": dict(artifact.columns or {}),
        "run_id": run.id, "asset_id": run.asset_id, "parameters": run.parameters,
    }


async def _materialize_task(asset: DataAsset) -> DataArtifact | State[Any]:
    """The body of one task run: materialize ``asset`` and describe it to Prefect."""
    logger = get_run_logger()
    collector = RunCollector()
    started = time.perf_counter()
    with observe(collector), _forwarding_logs():
        artifact = await asset()
    run = collector.last(asset.id)
    if run is None:
        logger.info("asset %s: reused the cached result %s", asset.name, artifact.path)
        return Completed(data=artifact, name="Cached", message="madstream reused a fresh cached result")
    context = AssetContext.get()
    if context is not None:
        metadata = _metadata(run, artifact)
        for item in context.downstream_assets:
            context.add_asset_metadata(item.key, metadata)
    logger.info(summary(run, artifact.path, time.perf_counter() - started))
    return artifact


def _task_for(asset: DataAsset, retries: int, retry_delay_seconds: float) -> MaterializingTask[Any, Any]:
    spec = asset._plan()
    props = AssetProperties(name=spec.name, description=f"madstream asset `{spec.name}` ({spec.path})")
    return MaterializingTask(
        _materialize_task,
        assets=[Asset(key=asset_key(asset, path), properties=props) for path in spec.results],
        materialized_by="madstream",
        name=spec.name,
        task_run_name=spec.name,
        retries=retries,
        retry_delay_seconds=retry_delay_seconds,
        retry_condition_fn=_retry_condition,
        cache_policy=NO_CACHE,
        persist_result=False,
    )


def _fan_out(assets: Sequence[DataAsset], retries: int, retry_delay_seconds: float) -> list[DataArtifact]:
    """Submit one task run per configuration to the current flow's runner; results in order."""
    futures: list[PrefectFuture[Any]] = [
        _task_for(a, retries, retry_delay_seconds).submit(a) for a in assets
    ]
    wait(futures)
    return [f.result() for f in futures]


def _run(
    assets: Sequence[DataAsset], task_runner: TaskRunner[Any] | None, retries: int,
    retry_delay_seconds: float, flow_name: str | None,
) -> list[DataArtifact]:
    for item in assets:
        if not isinstance(item, DataAsset):
            raise TypeError(f"materialize() takes DataAsset objects, got {type(item).__name__}")
    if not assets:
        return []
    if FlowRunContext.get() is not None or TaskRunContext.get() is not None:
        # Already inside a run: the task runs become part of it, on its task runner.
        return _fan_out(assets, retries, retry_delay_seconds)
    names = sorted({a.name for a in assets})

    def materialize_assets() -> list[DataArtifact]:
        return _fan_out(assets, retries, retry_delay_seconds)

    run_flow: Flow[[], list[DataArtifact]] = Flow(
        materialize_assets,
        name=flow_name or "madstream-materialize",
        flow_run_name=", ".join(names)[:100],
        task_runner=task_runner,
        validate_parameters=False,
        persist_result=False,
    )
    return run_flow()


async def materialize(
    *assets: DataAsset,
    task_runner: TaskRunner[Any] | None = None,
    retries: int = 2,
    retry_delay_seconds: float = 1.0,
    flow_name: str | None = None,
) -> list[DataArtifact]:
    """Materialize ``assets`` as one Prefect flow run; returns their first result artifacts in order.

    Args:
        assets: configurations to run, e.g. every ``with_arguments`` variant of a listing asset.
        task_runner: where the task runs go (default Prefect's thread pool); a
            ``prefect_dask.DaskTaskRunner`` spreads them over a Dask cluster. Inside an existing
            flow run, that run's own task runner is used and this is ignored.
        retries: attempts after the first when a transient storage error occurs.
        retry_delay_seconds: pause between attempts.
        flow_name: the flow's name (default ``madstream-materialize``).

    Raises:
        MadstreamError: the first configuration that failed (after its retries).

    >>> [artifact] = await materialize(orders)
    >>> artifact.rows
    3
    """
    return await anyio.to_thread.run_sync(_run, assets, task_runner, retries, retry_delay_seconds, flow_name)


def materialize_sync(
    *assets: DataAsset,
    task_runner: TaskRunner[Any] | None = None,
    retries: int = 2,
    retry_delay_seconds: float = 1.0,
    flow_name: str | None = None,
) -> list[DataArtifact]:
    """The blocking twin of :func:`materialize`, for scripts and synchronous flows.

    >>> artifacts = materialize_sync(orders, customers)
    """
    return _run(assets, task_runner, retries, retry_delay_seconds, flow_name)


class _ForwardToRunLogger(logging.Handler):
    """Sends the engine's log records to the Prefect run logger when a run is active."""

    def emit(self, record: logging.LogRecord) -> None:
        if TaskRunContext.get() is None and FlowRunContext.get() is None:
            return  # outside a run: standard logging handles it as usual
        try:
            get_run_logger().log(record.levelno, record.getMessage())
        except Exception:  # noqa: BLE001 - logging must never raise into the engine
            self.handleError(record)


_forwarders = 0
_forwarders_lock = threading.Lock()


@contextlib.contextmanager
def _forwarding_logs() -> Iterator[None]:
    """Send the engine's log records to Prefect's run logger while a task run materializes.

    Installed for the task run's duration (counted, since task runs overlap in threads), never
    at import: importing this module leaves the ``madstream`` logger as it was.
    """
    global _forwarders
    engine_log = logging.getLogger("madstream")
    with _forwarders_lock:
        _forwarders += 1
        if _forwarders == 1:
            engine_log.addHandler(_FORWARDER)
    try:
        yield
    finally:
        with _forwarders_lock:
            _forwarders -= 1
            if _forwarders == 0:
                engine_log.removeHandler(_FORWARDER)


_FORWARDER = _ForwardToRunLogger()
