"""Dask clusters: hand every worker's Prefect events and logs over before the cluster closes.

A Dask worker process that ran task runs still holds Prefect's event and log queues; when the
cluster closes, the nanny gives it 4 s to exit and kills it if flushing them takes longer
("Worker process still alive after 4.0 seconds, killing", once per worker), losing whatever was
not yet sent. Draining them on every worker while the cluster is still up makes the close clean.
"""

from __future__ import annotations

import logging
from typing import Any

from prefect.context import FlowRunContext

__all__ = ["settle_workers"]

log = logging.getLogger(__name__)


def settle_workers() -> None:
    """Drain Prefect's queues on every worker of the current flow run's Dask cluster, if it has one."""
    context = FlowRunContext.get()
    runner: Any = context.task_runner if context is not None else None
    # prefect_dask is optional: recognize its runner by what it has, without importing it.
    client = getattr(runner, "_client", None)
    if client is None or not hasattr(client, "run"):
        return
    try:
        client.run(_drain_prefect)
    except Exception as exc:  # noqa: BLE001 - the results are in; a worker that went away has nothing to drain
        log.debug("could not drain Prefect's queues on the Dask workers: %s", exc)


def _drain_prefect() -> None:
    """Runs on a Dask worker: send every queued event and log record now."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)
    EventsWorker.drain_all(timeout=10)
