"""One Prefect task run per asset configuration: its body, its retries and its assets.

The task takes the storage the caller resolved along with the asset: a worker on another
machine (a Dask worker, say) writes where the flow was told to, whatever its own environment
says (``Storage`` pickles its URL and options; the connection is made anew on the worker).
"""

from __future__ import annotations

import time
from typing import Any

from prefect.assets import Asset, AssetProperties
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun
from prefect.logging import get_run_logger
from prefect.states import Completed
from prefect.tasks import MaterializingTask, Task

from ..api.artifact import DataArtifact
from ..api.asset import DataAsset
from ..api.storage import Storage
from ..base.errors import MadstreamError
from ..run.observe import RunCollector, observe
from ..run.summary import summary
from .events import report_cached, report_failure, report_success
from .keys import asset_key
from .logs import forwarding_logs

__all__ = ["is_transient", "task_for"]


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


async def _materialize_task(asset: DataAsset, storage: Storage) -> DataArtifact | State[Any]:
    """The body of one task run: materialize ``asset`` on ``storage`` and describe it to Prefect."""
    logger = get_run_logger()
    collector = RunCollector()
    started = time.perf_counter()
    with storage.active(), observe(collector), forwarding_logs():
        try:
            artifact = await asset()
        except Exception as exc:
            report_failure(asset, storage, collector.last(asset.id), exc)
            raise
        run = collector.last(asset.id)
        if run is None:
            logger.info("asset %s: reused the cached result %s", asset.name, artifact.path)
            report_cached(asset, artifact)
            return Completed(data=artifact, name="Cached", message="madstream reused a fresh cached result")
        history = await asset.schema_history()
        changes = next((h.changes for h in reversed(history) if h.run_id == run.id), [])
    report_success(run, artifact, changes)
    logger.info(summary(run, artifact.path, time.perf_counter() - started))
    return artifact


def task_for(
    asset: DataAsset, storage: Storage, retries: int, retry_delay_seconds: float,
) -> MaterializingTask[Any, Any]:
    """The task that materializes ``asset`` on ``storage`` (call ``.submit(asset, storage)``)."""
    with storage.active():
        spec = asset._plan()
        keys = [asset_key(asset, path) for path in spec.results]
    props = AssetProperties(name=spec.name, description=f"madstream asset `{spec.name}` ({spec.path})")
    return MaterializingTask(
        _materialize_task,
        assets=[Asset(key=key, properties=props) for key in keys],
        materialized_by="madstream",
        name=spec.name,
        task_run_name=spec.name,
        retries=retries,
        retry_delay_seconds=retry_delay_seconds,
        retry_condition_fn=_retry_condition,
        cache_policy=NO_CACHE,
        persist_result=False,
    )
