"""Catalog: run records and the per-asset manifest that makes a cache check one small read.

Layout under ``ASSET_METADATA_LOCATION`` (default ``_asset_metadata``)::

    asset_name=<name>/asset_id=<id>/asset_run_id=<run id>/metadata.json   one per run (seed format)
    asset_name=<name>/asset_id=<id>/manifest.json                         the last good run
    result_owners/<sha1 of result path>.json                              the run that wrote a result

Configurations of an asset whose path leaves out an argument share one result file. A result's
owner record names the run that last published it, so a cached manifest is trusted only while
the file is still its own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import posixpath
from typing import Any

import orjson
from pydantic import BaseModel, Field

from ..storage.paths import clean
from ..storage.store import FileStore
from .staging import new_transaction_id, staged_file

__all__ = [
    "Manifest", "RunRecord", "claim_results", "metadata_root", "owns_results", "read_manifest", "record_folders",
    "run_records", "verify_claims", "write_manifest",
]


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


class Manifest(BaseModel):
    """The last successful materialization of one asset configuration."""

    asset_id: str
    asset_name: str
    run_id: str
    materialized: dt.datetime
    results: list[str]
    #: Size of each result when published: a cache hit needs the same file, not just any file there.
    result_sizes: list[int] = Field(default_factory=list)
    fragments: list[str] = Field(default_factory=list)
    fragment_type: str = "json"
    columns: dict[str, str] = Field(default_factory=dict)
    rows: int = 0
    bytes: int = 0
    parameters: str | None = None
    schema_changes: list[str] = Field(default_factory=list)

    @property
    def path(self) -> str:
        return posixpath.join(asset_dir(self.asset_name, self.asset_id), "manifest.json")


def read_manifest(store: FileStore, name: str, asset_id: str) -> Manifest | None:
    """The manifest of ``(name, asset_id)``, or ``None`` if it was never materialized."""
    path = posixpath.join(asset_dir(name, asset_id), "manifest.json")
    try:
        raw = store.read_bytes_sync(path)
    except Exception:
        return None
    try:
        return Manifest.model_validate(orjson.loads(raw))
    except Exception:
        return None


def record_folders(name: str, asset_id: str) -> tuple[str, ...]:
    """The folders where the catalog writes for one configuration (swept of old leftovers on commit)."""
    return asset_dir(name, asset_id), posixpath.join(metadata_root(), "result_owners")


def _owner_path(result: str) -> str:
    digest = hashlib.sha1(clean(result).encode(), usedforsecurity=False).hexdigest()
    return posixpath.join(metadata_root(), "result_owners", f"{digest}.json")


def _publish_bytes(store: FileStore, path: str, data: bytes) -> None:
    """Write ``data`` at ``path`` staged under a fresh transaction id, then move it into place,
    so a reader never sees half of it and two writers never share a temporary file."""
    temp = staged_file(path, new_transaction_id())
    store.write_bytes_sync(temp, data)
    store.move_sync(temp, path)


def _write_owner(store: FileStore, result: str, owner: str) -> None:
    record = orjson.dumps({"path": clean(result), "run_id": owner})
    _publish_bytes(store, _owner_path(result), record)


def _owner(store: FileStore, result: str) -> str | None:
    try:
        return str(orjson.loads(store.read_bytes_sync(_owner_path(result)))["run_id"])
    except Exception:
        return None


#: The owner of a result two runs published at once: no configuration may trust it as cached.
CONTESTED = "contested"


def claim_results(store: FileStore, results: list[str], run_id: str) -> None:
    """Name ``run_id`` as the owner of ``results``; call it before publishing them.

    Claiming first means a run that fails while publishing leaves a claim no manifest matches:
    every configuration writing those paths then runs again rather than trust a file that may
    not be its own.
    """
    for result in results:
        _write_owner(store, result, run_id)


def verify_claims(store: FileStore, results: list[str], run_id: str) -> None:
    """After publishing: a result claimed by another run meanwhile was raced for; mark it contested."""
    for result in results:
        if _owner(store, result) != run_id:
            _write_owner(store, result, CONTESTED)


def owns_results(store: FileStore, manifest: Manifest) -> bool:
    """Whether every result of ``manifest`` is still the one its run published."""
    return all(_owner(store, result) == manifest.run_id for result in manifest.results)


def write_manifest(store: FileStore, manifest: Manifest) -> None:
    """Publish ``manifest`` (staged, then moved into place, so a reader never sees half of it)."""
    _publish_bytes(store, manifest.path, manifest.model_dump_json(indent=2).encode())


def run_records(store: FileStore, name: str | None = None) -> list[dict[str, Any]]:
    """Every run record under the metadata root (optionally of one asset name), oldest first."""
    pattern = posixpath.join(metadata_root(), f"asset_name={name or '*'}", "asset_id=*", "asset_run_id=*", "metadata.json")
    out = [orjson.loads(store.read_bytes_sync(p)) for p in store.glob_sync(pattern)]
    return sorted(out, key=lambda r: r.get("runtime") or "")
