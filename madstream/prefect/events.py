"""What a task run tells Prefect about its asset: the payloads of the asset events.

A success and a failure ride on Prefect's own ``prefect.asset.materialization.succeeded`` /
``.failed`` events (the task's asset context emits them with the metadata added here). Prefect
emits nothing for a ``Cached`` task run, so a result madstream served from its cache is
reported with an event of ours, ``madstream.asset.cached``, on the same asset resources.
"""

from __future__ import annotations

import re
from typing import Any

from prefect.context import AssetContext
from prefect.events import emit_event

from ..api.artifact import DataArtifact
from ..api.asset import DataAsset
from ..api.storage import Storage
from ..commit.catalog import RunRecord
from ..storage.faults import redact

__all__ = ["CACHED_EVENT", "report_cached", "report_failure", "report_success"]

#: The event of a configuration whose fresh cached result was reused instead of running it.
CACHED_EVENT = "madstream.asset.cached"
#: Prefect's limit is on the whole event; an error message longer than this is cut.
_MAX_MESSAGE = 4000
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>`]+")


def report_success(run: RunRecord, artifact: DataArtifact, schema_changes: list[str] | None = None) -> None:
    """Add the run's numbers, and the schema changes its version brought, to the success event of
    every result file."""
    _add_metadata({
        "rows": run.rows, "bytes": run.bytes, "batches": run.batches,
        "duration_ms": run.duration_miliseconds, "columns": dict(artifact.columns or {}),
        "run_id": run.id, "asset_id": run.asset_id, "parameters": run.parameters,
        "schema_changes": list(schema_changes or []),
    })


def report_failure(asset: DataAsset, storage: Storage, run: RunRecord | None, exc: BaseException) -> None:
    """Add the error, the run id and the parameters to the failure event of every result file.

    ``run`` is ``None`` when the run never started (the configuration could not be planned).
    The message is scrubbed of the storage's secrets and of passwords in any URL it quotes.
    """
    cause = exc.__cause__
    error: dict[str, Any] = {"type": type(exc).__name__, "message": scrubbed(str(exc), storage)}
    if cause is not None:
        error["cause"] = type(cause).__name__
    _add_metadata({
        "error": error,
        "run_id": run.id if run is not None else None,
        "asset_id": asset.id,
        "parameters": run.parameters if run is not None else _parameters(asset),
        "duration_ms": run.duration_miliseconds if run is not None else None,
    })


def report_cached(asset: DataAsset, artifact: DataArtifact) -> None:
    """Emit ``madstream.asset.cached`` for every result file of a configuration served from cache."""
    context = AssetContext.get()
    if context is None:
        return
    related = [AssetContext.related_materialized_by(context.materialized_by or "madstream")]
    payload = {
        "cached": True, "version": artifact.version, "rows": artifact.rows, "path": artifact.path,
        "asset_id": asset.id, "parameters": _parameters(asset),
    }
    for item in context.downstream_assets:
        emit_event(CACHED_EVENT, resource=AssetContext.asset_as_resource(item), related=related, payload=payload)


def scrubbed(text: str, storage: Storage) -> str:
    """``text`` without the storage's secrets or a password in any URL, cut to a sane length."""
    text = storage.scrub(_URL.sub(lambda found: redact(found.group()), text))
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def _parameters(asset: DataAsset) -> str | None:
    try:
        return asset._plan().parameters
    except Exception:  # noqa: BLE001 - a configuration that cannot be planned has no parameters to show
        return None


def _add_metadata(metadata: dict[str, Any]) -> None:
    context = AssetContext.get()
    if context is not None:
        for item in context.downstream_assets:
            context.add_asset_metadata(item.key, metadata)
