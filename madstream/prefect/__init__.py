"""Prefect at the top level: run assets as one flow run, one task run per asset configuration.

The engine never imports Prefect; this package is the only way in, and it imports Prefect when
it is imported. Each task run materializes one configuration and reports every result file to
Prefect as an asset materialization (``prefect.assets``), keyed by the storage URL and path and
carrying rows, bytes, batches, columns and duration, so lineage and history show in Prefect's UI.

- A failed configuration's ``prefect.asset.materialization.failed`` event carries the error
  (``{"type", "message", "cause"}``, secrets scrubbed), the run id and the parameters.
- A result reused from madstream's cache ends the task run as ``Cached``; Prefect reports nothing
  for cached task runs, so madstream emits ``madstream.asset.cached`` on the same asset.
- Transient storage errors are retried through Prefect's task retries; terminal errors (bad
  input, schema, auth) fail at once.
- Every configuration runs to its end. With one asset, its error is raised as is. With several,
  a failure raises :class:`MaterializeError`: an ``ExceptionGroup`` of the failures (so
  ``except* ExtractError`` works) and a ``MadstreamError`` whose ``.artifacts`` (``None`` where
  a configuration failed) and ``.succeeded`` keep the completed results. With
  ``return_exceptions=True`` nothing is raised: each error takes its configuration's place in
  the returned list.
- ``quiet=True`` keeps Prefect's tracebacks off the console (the command line's ``--prefect``
  uses it): the one-line messages stay, and the run's logs in Prefect keep the tracebacks.

The fan-out runs on whatever task runner the flow has: Prefect's thread pool by default, or a
Dask cluster through ``prefect_dask.DaskTaskRunner`` (``pip install 'madstream[dask]'``). The
storage the caller resolved (``FILESYSTEM_URL`` and its options, a block, or a storage made
active with ``Storage.active()``) travels with each task run, so a worker writes there whatever
its own environment says; point a Dask cluster at storage every worker can reach (S3, SFTP).
Before the cluster closes, each worker hands over its queued Prefect events and logs.

>>> from madstream.prefect import materialize
>>> artifacts = await materialize(*(listing.with_arguments(page=p) for p in range(10)))
"""

from __future__ import annotations

from .errors import MaterializeError
from .events import CACHED_EVENT
from .flow import materialize, materialize_sync
from .keys import asset_key
from .task import is_transient

__all__ = ["CACHED_EVENT", "MaterializeError", "asset_key", "is_transient", "materialize", "materialize_sync"]
