"""The listings: ``runs`` (the run history) and ``ls`` (every asset configuration), as a table, JSON lines or CSV.

Both read the run records under the storage's metadata root; ``runs`` adds what the runs'
versions say (the version number and its schema changes). Two configurations of one asset (or
two sharing a path) are told apart by their parameters and configuration id.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ..api.config import current_storage
from ..base.errors import ArgumentError
from ..commit.catalog import run_records
from ..run.summary import human_bytes
from .history import RunVersions, parameters_of, parameters_text
from .output import format_duration, write_listing
from .target import bind_arguments, load_asset

__all__ = ["cmd_ls", "cmd_runs", "count", "size", "timestamp"]

RUN_FIELDS = (
    "run_id", "started", "asset", "asset_id", "parameters", "status", "duration_ms", "rows", "batches", "bytes",
    "version", "schema_changes", "error",
)
LS_FIELDS = (
    "asset", "asset_id", "parameters", "path", "materialized", "rows", "bytes", "runs", "last_run_id", "last_status",
)


def size(n: int | None) -> str:
    return "-" if n is None else human_bytes(n)


def count(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def timestamp(text: str | None) -> str:
    """``2026-01-31T10:00:00.123+00:00`` → ``2026-01-31 10:00:00`` (UTC, as recorded)."""
    return (text or "-")[:19].replace("T", " ")


def _filter_for(args: argparse.Namespace) -> tuple[str | None, Callable[[dict[str, Any]], bool]]:
    """The asset name to glob and a record filter: one configuration when its arguments are all bound."""
    if not args.asset:
        return None, lambda record: True
    asset = bind_arguments(load_asset(args.asset), args.arg or [])
    try:
        asset_id = asset.id
    except ArgumentError:  # not every argument given: every configuration of this asset
        name = asset._name
        if "{" in name:
            return name.split("{", 1)[0] + "*", lambda record: True
        return name, lambda record: True
    return asset.name, lambda record: record.get("asset_id") == asset_id


def run_entry(record: dict[str, Any], versions: RunVersions) -> dict[str, Any]:
    """A run record as ``runs --format json`` shows it (parameters as an object, schema changes added)."""
    version = versions.version(record)
    return {
        "run_id": record.get("id"), "started": record.get("runtime"), "asset": record.get("asset_name"),
        "asset_id": record.get("asset_id"), "parameters": parameters_of(record.get("parameters")),
        "parameters_text": parameters_text(record.get("parameters")),
        "status": record.get("status"), "duration_ms": record.get("duration_miliseconds"),
        "rows": record.get("rows"), "batches": record.get("batches"), "bytes": record.get("bytes"),
        "version": None if version is None else version.version, "schema_changes": versions.changes(record),
        "error": record.get("error"),
    }


def cmd_runs(args: argparse.Namespace) -> int:
    """The run history from the run records, newest first."""
    name, keep = _filter_for(args)
    store = current_storage()
    records = [r for r in run_records(store, name) if keep(r)]
    records = list(reversed(records))[: args.limit]
    if not records and args.format == "table":
        print("no runs recorded" + (f" for {args.asset}" if args.asset else ""))
        return 0
    versions = RunVersions(store)
    entries = [run_entry(r, versions) for r in records]
    table = [
        (
            timestamp(e["started"]), e["run_id"], e["asset"], e["parameters_text"], e["status"],
            format_duration(e["duration_ms"]), count(e["rows"]), size(e["bytes"]),
            "; ".join(e["schema_changes"]), e["error"] or "",
        )
        for e in entries
    ]
    headers = ("STARTED (UTC)", "RUN", "ASSET", "PARAMETERS", "STATUS", "DURATION", "ROWS", "SIZE", "SCHEMA CHANGES", "ERROR")
    write_listing(args.format, entries, RUN_FIELDS, table, headers)
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    """Every asset configuration with run records: last good materialization, rows, size, last run."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    last_good: dict[tuple[str, str], dict[str, Any]] = {}
    counts: dict[tuple[str, str], int] = {}
    store = current_storage()
    for record in run_records(store):  # oldest first: later records win
        key = (record.get("asset_name") or "?", record.get("asset_id") or "?")
        latest[key] = record
        counts[key] = counts.get(key, 0) + 1
        if record.get("status") == "succeeded":
            last_good[key] = record
    if not latest and args.format == "table":
        print(f"no assets under {store.url}")
        return 0
    entries: list[dict[str, Any]] = []
    for key in sorted(latest, key=lambda k: (k[0], parameters_text(latest[k].get("parameters")), k[1])):
        good, last = last_good.get(key, {}), latest[key]
        entries.append({
            "asset": key[0], "asset_id": key[1], "parameters": parameters_of(last.get("parameters")),
            "parameters_text": parameters_text(last.get("parameters")),
            "path": good.get("asset_path") or last.get("asset_path"), "materialized": good.get("materialized"),
            "rows": good.get("rows"), "bytes": good.get("bytes"), "runs": counts[key],
            "last_run_id": last.get("id"), "last_status": last.get("status"),
        })
    table = [
        (
            e["asset"], e["parameters_text"], e["path"], timestamp(e["materialized"]), count(e["rows"]), size(e["bytes"]),
            e["runs"], e["last_run_id"], e["last_status"],
        )
        for e in entries
    ]
    headers = ("ASSET", "PARAMETERS", "PATH", "MATERIALIZED (UTC)", "ROWS", "SIZE", "RUNS", "LAST RUN", "LAST STATUS")
    write_listing(args.format, entries, LS_FIELDS, table, headers)
    return 0
