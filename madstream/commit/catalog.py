"""Catalog: the run records, one per run of an asset, in the seed's layout.

Under ``ASSET_METADATA_LOCATION`` (default ``_asset_metadata``)::

    asset_name=<name>/asset_id=<id>/asset_run_id=<run id>/metadata.json

A record is history (who ran, when, how it ended); what a run published is its version
(:mod:`.versions`). A record that cannot be read is skipped with a warning.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import posixpath
from typing import Any

import orjson
from pydantic import BaseModel

from ..storage.store import FileStore

__all__ = ["RunRecord", "asset_dir", "metadata_root", "run_records"]

log = logging.getLogger("madstream")


def metadata_root() -> str:
    """``ASSET_METADATA_LOCATION``, default ``_asset_metadata``."""
    return os.environ.get("ASSET_METADATA_LOCATION") or "_asset_metadata"


def asset_dir(name: str, asset_id: str) -> str:
    return posixpath.join(metadata_root(), f"asset_name={name}", f"asset_id={asset_id}")


class RunRecord(BaseModel):
    """One execution of an asset (the seed's ``DataAssetRun`` fields, plus status, error and what was written)."""

    id: str | None = None
    runtime: dt.datetime | None = None
    materialized: dt.datetime | None = None
    duration_miliseconds: int | None = None
    asset_id: str | None = None
    asset_name: str | None = None
    asset_path: str | None = None
    parameters: str | None = None
    status: str | None = None
    error: str | None = None
    rows: int | None = None
    batches: int | None = None
    bytes: int | None = None

    @property
    def metadata_path(self) -> str:
        """Where this run's record lives, relative to the storage root."""
        return posixpath.join(
            asset_dir(self.asset_name or "unknown", self.asset_id or "unknown"),
            f"asset_run_id={self.id}",
            "metadata.json",
        )

    def persist_sync(self, store: FileStore) -> None:
        """Write the run record to ``store`` (blocking)."""
        store.write_bytes_sync(self.metadata_path, self.model_dump_json(indent=2).encode())


def run_records(store: FileStore, name: str | None = None) -> list[dict[str, Any]]:
    """Every readable run record under the metadata root (optionally of one asset name), oldest first."""
    pattern = posixpath.join(metadata_root(), f"asset_name={name or '*'}", "asset_id=*", "asset_run_id=*", "metadata.json")
    out = []
    for path in store.glob_sync(pattern):
        try:
            record = orjson.loads(store.read_bytes_sync(path))
        except (orjson.JSONDecodeError, UnicodeDecodeError):
            log.warning("skipping the unreadable run record %s", path)
            continue
        if isinstance(record, dict):
            out.append(record)
        else:
            log.warning("skipping the run record %s: not a JSON object", path)
    return sorted(out, key=lambda r: str(r.get("runtime") or ""))
