"""``madstream show``: one screen about a dataset, or the same facts as one JSON object.

For one configuration of an asset: its parameters and where its files are, the current version
(rows, size, the immutable files behind the seed's paths), the schema as a tree, the schema
changes across versions, the versions, the last runs with their status and error, and
sparklines of rows, duration and throughput over the recent successful runs. Everything comes
from the asset's committed versions and its run records; nothing runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

import anyio
import orjson

from ..api.asset import DataAsset
from ..api.config import current_storage
from ..commit.catalog import run_records
from ..commit.versions import Version
from ..run.results import dataset_of
from .commands import bound_asset
from .drawing import schema_tree, sparkline, tree_lines
from .history import format_parameters, parameters_of, schema_changes
from .listing import count, size, timestamp
from .output import format_duration, plain_table

__all__ = ["cmd_show", "describe", "render"]


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _version_entry(version: Version, changes: list[str]) -> dict[str, Any]:
    return {
        "version": version.version, "committed": _iso(version.committed), "run_id": version.run_id,
        "rows": version.rows, "size": sum(entry.size for entry in version.results), "schema_changes": changes,
    }


def _run_entry(record: dict[str, Any]) -> dict[str, Any]:
    ms, rows = record.get("duration_miliseconds"), record.get("rows")
    rate = None if not ms or rows is None else round(rows / (ms / 1000), 1)
    return {
        "run_id": record.get("id"), "started": record.get("runtime"), "status": record.get("status"),
        "duration_ms": ms, "rows": rows, "bytes": record.get("bytes"), "rows_per_second": rate,
        "error": record.get("error"),
    }


def describe(asset: DataAsset, *, runs: int = 10) -> dict[str, Any]:
    """Everything ``show`` prints about ``asset`` (every argument bound), as plain JSON-ready values."""
    plan = asset._plan()
    store = current_storage()
    versions = anyio.run(asset.versions)  # this configuration's, oldest first
    changes = schema_changes(versions)
    records = [r for r in run_records(store, plan.name) if r.get("asset_id") == plan.asset_id]
    last_runs = [_run_entry(r) for r in reversed(records[-runs:])]
    good = [r for r in reversed(last_runs) if r["status"] == "succeeded"]  # oldest first, for the charts
    current = versions[-1] if versions else None
    shown = dataset_of(plan).latest()  # of any configuration: what the path shows now
    return {
        "asset": plan.name, "asset_id": plan.asset_id, "parameters": parameters_of(plan.parameters),
        "storage": store.url, "path": plan.path, "results": list(plan.results), "artifacts_dir": plan.fragment_base,
        "retention": {"keep_versions": plan.keep_versions, "keep_for_seconds": plan.keep_for.total_seconds()},
        "current": None if current is None else {
            **_version_entry(current, changes.get(current.run_id, [])),
            "bytes_written": current.bytes, "batches": current.batches,
            "files": [{"path": e.path, "file": e.file, "size": e.size, "rows": e.rows} for e in current.results],
            "fragments": len(current.fragments), "fragment_dir": current.fragment_dir,
        },
        "path_shows": None if shown is None else {
            "version": shown.version, "asset_id": shown.asset_id, "parameters": parameters_of(shown.parameters),
        },
        "schema": [] if current is None else [schema_tree(n, t) for n, t in current.columns.items()],
        "schema_changes": [
            {"version": v.version, "committed": _iso(v.committed), "changes": changes[v.run_id]}
            for v in versions if changes.get(v.run_id)
        ],
        "versions": [_version_entry(v, changes.get(v.run_id, [])) for v in reversed(versions)],
        "runs": last_runs,
        "trend": {
            "rows": [r["rows"] or 0 for r in good],
            "duration_ms": [r["duration_ms"] or 0 for r in good],
            "rows_per_second": [r["rows_per_second"] or 0.0 for r in good],
        },
    }


def _chart(label: str, values: list[float], shown: Any) -> str:
    return f"  {label:<9} {sparkline(values)}  min {shown(min(values))}  max {shown(max(values))}  last {shown(values[-1])}"


def render(facts: dict[str, Any]) -> str:
    """The text screen of :func:`describe`'s facts."""
    out = [f"{facts['asset']}  (configuration {facts['asset_id']})"]
    out += [
        f"  parameters  {format_parameters(facts['parameters'])}",
        f"  storage     {facts['storage']}",
        f"  path        {facts['path']}",
    ]
    current = facts["current"]
    if current is None:
        out += ["", "no committed version — materialize it first"]
    else:
        out += [
            f"  version     {current['version']}, committed {timestamp(current['committed'])} UTC by run {current['run_id']}",
            f"  rows        {current['rows']:,}",
            f"  size        {size(current['size'])} ({size(current['bytes_written'])} written with fragments)",
        ]
        out += [f"  file        {f['path']} → stored as {f['file']}" for f in current["files"]]
        shows = facts["path_shows"]
        if shows is not None and shows["asset_id"] != facts["asset_id"]:
            out.append(
                f"  note        {facts['path']} now shows version {shows['version']} of another configuration"
                f" ({format_parameters(shows['parameters'])})"
            )
        if current["fragments"]:
            out.append(f"  fragments   {current['fragments']} in {current['fragment_dir']}")
        out += ["", "schema", *tree_lines(facts["schema"])]
    if facts["schema_changes"]:
        out += ["", "schema changes"]
        out += [f"  version {c['version']}  {change}" for c in facts["schema_changes"] for change in c["changes"]]
    if facts["versions"]:
        out += ["", "versions (newest first)", plain_table(
            ("VERSION", "COMMITTED (UTC)", "RUN", "ROWS", "SIZE", "SCHEMA CHANGES"),
            [(v["version"], timestamp(v["committed"]), v["run_id"], count(v["rows"]), size(v["size"]),
              "; ".join(v["schema_changes"])) for v in facts["versions"]],
        )]
    if facts["runs"]:
        out += ["", f"last runs (newest first, {len(facts['runs'])})", plain_table(
            ("STARTED (UTC)", "RUN", "STATUS", "DURATION", "ROWS", "ROWS/S", "ERROR"),
            [(timestamp(r["started"]), r["run_id"], r["status"], format_duration(r["duration_ms"]), count(r["rows"]),
              "-" if r["rows_per_second"] is None else f"{r['rows_per_second']:,.0f}", r["error"] or "")
             for r in facts["runs"]],
        )]
    trend = facts["trend"]
    if len(trend["rows"]) > 1:
        out += [
            "", f"recent successful runs (oldest → newest, {len(trend['rows'])})",
            _chart("rows", trend["rows"], lambda v: f"{v:,}"),
            _chart("duration", trend["duration_ms"], format_duration),
            _chart("rows/s", trend["rows_per_second"], lambda v: f"{v:,.0f}"),
        ]
    return "\n".join(out)


def cmd_show(args: argparse.Namespace) -> int:
    """Print one screen about the dataset of the named configuration (``--format json``: one JSON object)."""
    facts = describe(bound_asset(args), runs=args.runs)
    if args.format == "json":
        sys.stdout.flush()
        sys.stdout.buffer.write(orjson.dumps(facts, option=orjson.OPT_INDENT_2) + b"\n")
        sys.stdout.buffer.flush()
    else:
        print(render(facts))
    return 0

