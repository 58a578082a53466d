"""``materialize``: many asset configurations as one Prefect flow run, one task run each.

The flow never raises for a failed configuration: it waits for every task run and ends
``Failed`` with a one-line message when any failed, so Prefect logs no traceback of its own
for it, and the caller decides what to raise with every outcome in hand.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any, Literal, overload

import anyio.to_thread
from prefect import Flow
from prefect.client.schemas.objects import State
from prefect.context import FlowRunContext, TaskRunContext
from prefect.futures import PrefectFuture, wait
from prefect.states import Failed
from prefect.task_runners import TaskRunner

from ..api.artifact import DataArtifact
from ..api.asset import DataAsset
from ..api.config import current_storage
from ..api.storage import Storage
from .cluster import owned_cluster, settle_cluster, share_api
from .errors import MaterializeError, summarize
from .logs import quiet_console
from .task import task_for

__all__ = ["materialize", "materialize_sync"]

Outcome = DataArtifact | Exception


def _outcomes(assets: Sequence[DataAsset], storage: Storage, retries: int, retry_delay_seconds: float) -> list[Outcome]:
    """Submit one task run per configuration to the current flow's runner; each one's artifact or error, in order."""
    futures: list[PrefectFuture[Any]] = [
        task_for(a, storage, retries, retry_delay_seconds).submit(a, storage) for a in assets
    ]
    wait(futures)
    outcomes: list[Outcome] = []
    for future in futures:
        try:
            outcomes.append(future.result())
        except Exception as exc:  # noqa: BLE001 - kept: the caller raises it with the others' artifacts
            outcomes.append(exc)
    return outcomes


def _in_a_flow(
    assets: Sequence[DataAsset], storage: Storage, task_runner: TaskRunner[Any] | None, retries: int,
    retry_delay_seconds: float, flow_name: str | None,
) -> list[Outcome]:
    names = sorted({a.name for a in assets})

    def materialize_assets() -> list[Outcome] | State[Any]:
        context = FlowRunContext.get()
        runner = context.task_runner if context is not None else None
        owned = owned_cluster(runner)  # asked before the first task starts the cluster
        if context is not None:
            share_api(runner, str(context.client.api_url))
        try:
            outcomes = _outcomes(assets, storage, retries, retry_delay_seconds)
        finally:
            settle_cluster(runner, close=owned)
        if not any(isinstance(o, Exception) for o in outcomes):
            return outcomes
        return Failed(message=summarize(outcomes, [a.name for a in assets]), data=outcomes)

    run_flow: Flow[[], list[Outcome] | State[Any]] = Flow(
        materialize_assets,
        name=flow_name or "madstream-materialize",
        flow_run_name=", ".join(names)[:100],
        task_runner=task_runner,
        validate_parameters=False,
        persist_result=False,
    )
    state: State[Any] = run_flow(return_state=True)
    found = state.result(raise_on_failure=False)
    if isinstance(found, BaseException):  # the flow itself failed (a cluster that would not start, say)
        raise found
    if not isinstance(found, list):
        raise TypeError(f"the madstream flow returned {type(found).__name__}, not its outcomes")  # pragma: no cover
    return found


def _run(
    assets: Sequence[DataAsset], task_runner: TaskRunner[Any] | None, retries: int,
    retry_delay_seconds: float, flow_name: str | None, return_exceptions: bool, quiet: bool,
) -> list[Outcome]:
    for item in assets:
        if not isinstance(item, DataAsset):
            raise TypeError(f"materialize() takes DataAsset objects, got {type(item).__name__}")
    if not assets:
        return []
    # Resolved here, in the caller's context, and handed to every task run (see .task).
    storage = current_storage()
    with quiet_console() if quiet else contextlib.nullcontext():
        if FlowRunContext.get() is not None or TaskRunContext.get() is not None:
            # Already inside a run: the task runs become part of it, on its task runner.
            outcomes = _outcomes(assets, storage, retries, retry_delay_seconds)
        else:
            outcomes = _in_a_flow(assets, storage, task_runner, retries, retry_delay_seconds, flow_name)
    failed = [o for o in outcomes if isinstance(o, Exception)]
    if not failed or return_exceptions:
        return outcomes
    if len(assets) == 1:
        raise failed[0]
    raise MaterializeError(outcomes, [a.name for a in assets])


@overload
async def materialize(
    *assets: DataAsset, task_runner: TaskRunner[Any] | None = ..., retries: int = ...,
    retry_delay_seconds: float = ..., flow_name: str | None = ..., return_exceptions: Literal[False] = ...,
    quiet: bool = ...,
) -> list[DataArtifact]: ...
@overload
async def materialize(
    *assets: DataAsset, task_runner: TaskRunner[Any] | None = ..., retries: int = ...,
    retry_delay_seconds: float = ..., flow_name: str | None = ..., return_exceptions: Literal[True],
    quiet: bool = ...,
) -> list[DataArtifact | Exception]: ...
async def materialize(
    *assets: DataAsset,
    task_runner: TaskRunner[Any] | None = None,
    retries: int = 2,
    retry_delay_seconds: float = 1.0,
    flow_name: str | None = None,
    return_exceptions: bool = False,
    quiet: bool = False,
) -> list[DataArtifact] | list[DataArtifact | Exception]:
    """Materialize ``assets`` as one Prefect flow run; returns their first result artifacts in order.

    Every configuration runs to its end even when others fail.

    Args:
        assets: configurations to run, e.g. every ``with_arguments`` variant of a listing asset.
        task_runner: where the task runs go (default Prefect's thread pool); a
            ``prefect_dask.DaskTaskRunner`` spreads them over a Dask cluster. Inside an existing
            flow run, that run's own task runner is used and this is ignored.
        retries: attempts after the first when a transient storage error occurs.
        retry_delay_seconds: pause between attempts.
        flow_name: the flow's name (default ``madstream-materialize``).
        return_exceptions: put a failed configuration's error in the returned list, in its
            place, instead of raising.
        quiet: keep Prefect's tracebacks off the console for this call (the run's logs in
            Prefect keep them); its one-line messages stay.

    Raises:
        MadstreamError: the one configuration given failed (after its retries).
        MaterializeError: some of several configurations failed; it carries the artifacts of
            the others (``.artifacts``, ``.succeeded``) and each error (``.exceptions``).

    >>> [artifact] = await materialize(orders)
    >>> artifact.rows
    3
    """
    return await anyio.to_thread.run_sync(
        _run, assets, task_runner, retries, retry_delay_seconds, flow_name, return_exceptions, quiet,
    )


@overload
def materialize_sync(
    *assets: DataAsset, task_runner: TaskRunner[Any] | None = ..., retries: int = ...,
    retry_delay_seconds: float = ..., flow_name: str | None = ..., return_exceptions: Literal[False] = ...,
    quiet: bool = ...,
) -> list[DataArtifact]: ...
@overload
def materialize_sync(
    *assets: DataAsset, task_runner: TaskRunner[Any] | None = ..., retries: int = ...,
    retry_delay_seconds: float = ..., flow_name: str | None = ..., return_exceptions: Literal[True],
    quiet: bool = ...,
) -> list[DataArtifact | Exception]: ...
def materialize_sync(
    *assets: DataAsset,
    task_runner: TaskRunner[Any] | None = None,
    retries: int = 2,
    retry_delay_seconds: float = 1.0,
    flow_name: str | None = None,
    return_exceptions: bool = False,
    quiet: bool = False,
) -> list[DataArtifact] | list[DataArtifact | Exception]:
    """The blocking twin of :func:`materialize`, for scripts, synchronous flows and the CLI.

    >>> artifacts = materialize_sync(orders, customers)
    """
    return _run(assets, task_runner, retries, retry_delay_seconds, flow_name, return_exceptions, quiet)
