"""What the version records add to the run records: each run's version and the schema changes it brought.

A run record says how a run went; the version it committed says what it published. A schema
change is either against the configuration's previous version (an ``id`` that was ``BIGINT``
and is now ``VARCHAR``) or within the run itself (a later batch widened a column); both are
read back here, so ``runs``, ``show`` and the summary line can say so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..api.paths import result_paths
from ..commit.schema_history import column_changes, schema_changes
from ..commit.versions import Dataset, Version
from ..storage.store import FileStore

__all__ = ["RunVersions", "column_changes", "format_parameters", "parameters_of", "parameters_text", "schema_changes"]

class RunVersions:
    """The committed versions behind run records, read once per dataset (blocking)."""

    def __init__(self, store: FileStore) -> None:
        self.store = store
        self._read: dict[str, list[Version]] = {}
        self._by_run: dict[str, Version] = {}
        self._changes: dict[str, list[str]] = {}

    def load(self, asset_path: str | None) -> list[Version]:
        """Every readable version of the dataset at ``asset_path`` (a rendered asset path), oldest first."""
        if not asset_path:
            return []
        if asset_path not in self._read:
            versions = Dataset(self.store, result_paths(asset_path)[0]).history()
            self._read[asset_path] = versions
            self._by_run.update((v.run_id, v) for v in versions)
            self._changes.update(schema_changes(versions))
        return self._read[asset_path]

    def version(self, record: Mapping[str, Any]) -> Version | None:
        """The version a run record's run committed (``None``: it failed, or retention removed it)."""
        self.load(record.get("asset_path"))
        return self._by_run.get(str(record.get("id")))

    def changes(self, record: Mapping[str, Any]) -> list[str]:
        """The schema changes the run of ``record`` published (``[]`` when none or unknown)."""
        self.load(record.get("asset_path"))
        return self._changes.get(str(record.get("id")), [])


def parameters_of(text: str | None) -> dict[str, Any]:
    """A run's parameters (stored as JSON text) as a dict; ``{}`` when absent or unreadable."""
    try:
        found = json.loads(text) if text else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def parameters_text(text: str | None) -> str:
    """A run's parameters (JSON text) as ``day=2026-01-31, pages=2``, or ``-`` for none."""
    return format_parameters(parameters_of(text))


def format_parameters(values: Mapping[str, Any]) -> str:
    """``day=2026-01-31, pages=2`` (nested values as compact JSON), or ``-`` for none."""
    if not values:
        return "-"
    return ", ".join(f"{k}={v if isinstance(v, str) else json.dumps(v, separators=(',', ':'))}" for k, v in values.items())
