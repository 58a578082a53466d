"""Dask clusters: a cluster started for a flow run is closed cleanly at its end.

``prefect_dask.DaskTaskRunner`` closes a local cluster it started with distributed's default
close, which gives each worker process 4 seconds to exit before killing it ("Worker process
still alive after 4.0 seconds, killing", once per worker). A worker that ran task runs exits
slower than that on a busy machine: it still sends Prefect's queued events and logs, and its
interpreter tears down pyarrow, DuckDB and Prefect. So, before the runner closes the cluster,
every worker first hands its Prefect queues over, then is closed with time to exit on its own.
A cluster the runner connected to (``address=``) is left running; only its queues are drained.

Without a configured ``PREFECT_API_URL`` (Prefect's ephemeral mode) each worker process of a
local cluster would start a temporary Prefect server of its own and time out doing so; the
workers of a local cluster started for the flow run use the flow's server instead.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any

__all__ = ["CLOSE_TIMEOUT", "owned_cluster", "settle_cluster", "share_api"]

log = logging.getLogger(__name__)

#: Seconds a worker process of a cluster started for the flow run gets to exit on its own.
CLOSE_TIMEOUT = 30.0


def owned_cluster(runner: Any) -> bool:
    """Whether ``runner`` is a Dask task runner that will start its own cluster (not yet started)."""
    # prefect_dask is optional: its runner is recognized by what it has, without importing it.
    return hasattr(runner, "cluster_kwargs") and getattr(runner, "address", None) is None and getattr(runner, "_cluster", None) is None


def share_api(runner: Any, api_url: str) -> None:
    """Point the workers of the local cluster ``runner`` will start at ``api_url``, unless one is configured."""
    from prefect.settings import PREFECT_API_URL

    if not owned_cluster(runner) or getattr(runner, "cluster_class", None) is not None or PREFECT_API_URL.value():
        return  # a configured URL reaches the workers through their environment as it is
    env = {"PREFECT_API_URL": api_url, **(runner.cluster_kwargs.get("env") or {})}
    runner.cluster_kwargs = {**runner.cluster_kwargs, "env": env}  # a copy: the caller's dict stays as it was


def settle_cluster(runner: Any, *, close: bool) -> None:
    """Drain Prefect's queues on every worker of ``runner``'s Dask cluster, then (``close``) close them."""
    client = getattr(runner, "_client", None)
    if client is None or not hasattr(client, "run"):
        return  # not Dask, or no task was ever submitted
    try:
        client.run(_drain_prefect)
    except Exception as exc:  # noqa: BLE001 - the results are in; a worker that went away has nothing to send
        log.debug("could not drain Prefect's queues on the Dask workers: %s", exc)
    cluster = getattr(runner, "_cluster", None)
    if close and cluster is not None and hasattr(cluster, "workers"):
        try:
            cluster.sync(_close_workers, cluster)
        except Exception as exc:  # noqa: BLE001 - the runner's own close still follows
            log.debug("could not close the Dask workers ahead of the cluster: %s", exc)


async def _close_workers(cluster: Any) -> None:
    await asyncio.gather(*(worker.close(timeout=CLOSE_TIMEOUT) for worker in list(cluster.workers.values())))


async def _drain_prefect() -> None:
    """Runs on each Dask worker's event loop: send every queued Prefect event and log record now."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for service in (APILogWorker, EventsWorker):
        pending = service.drain_all(timeout=10)  # on a running loop: a coroutine to await
        if inspect.isawaitable(pending):
            await pending
