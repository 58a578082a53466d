"""The commands: materialize, query, runs, ls, vacuum and verify. Each returns the process exit code."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import anyio

from ..api.artifact import DataArtifact
from ..api.asset import DataAsset
from ..api.config import current_storage
from ..base.errors import ArgumentError
from ..commit.catalog import run_records
from ..run.observe import RunCollector, observe
from ..run.summary import human_bytes, summary
from .output import format_duration, plain_table, write_result
from .target import CliError, bind_arguments, load_asset, require_all

__all__ = ["cmd_ls", "cmd_materialize", "cmd_query", "cmd_runs", "cmd_vacuum", "cmd_verify"]


def _human_bytes(n: int | None) -> str:
    return "-" if n is None else human_bytes(n)


def _count(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def _target(args: argparse.Namespace, *, complete: bool = True) -> DataAsset:
    asset = bind_arguments(load_asset(args.asset), args.arg or [])
    return require_all(asset) if complete else asset


def cmd_materialize(args: argparse.Namespace) -> int:
    """Run the asset (as a Prefect flow with ``--prefect``) and print a one-line summary."""
    if args.retries is not None and not args.prefect:
        raise CliError("--retries applies to --prefect runs (Prefect retries the task); add --prefect or drop it")
    asset = _target(args)
    collector = RunCollector()
    started = time.perf_counter()
    with observe(collector):
        if args.prefect:
            from ..prefect import materialize_sync

            [artifact] = materialize_sync(asset, retries=2 if args.retries is None else args.retries)
        else:
            artifact = anyio.run(asset)
    run = collector.last(asset.id)
    if run is None:
        print(f"{asset.name}: reused the cached result ({artifact.rows:,} rows) → {artifact.path}")
        return 0
    print(summary(run, artifact.path, time.perf_counter() - started))
    return 0


async def _result(asset: DataAsset, *, run: bool) -> DataArtifact:
    # The last committed result as it is; run only when there is none, and say so first.
    found = await asset._latest()
    if found is not None:
        return found
    if not run:
        raise CliError(f"asset `{asset.name}` has no committed result — materialize it first (or drop --no-run)")
    print(f"madstream: asset `{asset.name}` has no committed result: running it first", file=sys.stderr)
    return await asset()


def cmd_query(args: argparse.Namespace) -> int:
    """Query the latest materialization (running it only if it never ran, unless ``--no-run``)."""
    asset = _target(args)

    async def query() -> Any:
        artifact = await _result(asset, run=not args.no_run)
        return await artifact.query(args.sql)

    result = anyio.run(query)
    rows = write_result(result, _format(args.format, args.output), args.output)
    if args.output is not None:
        print(f"{rows:,} {'row' if rows == 1 else 'rows'} → {args.output}", file=sys.stderr)
    return 0


def _format(chosen: str | None, output: str | None) -> str:
    """``--format``, else the ``--output`` file's extension when it names one, else a table."""
    if chosen is not None:
        return chosen
    ext = os.path.splitext(output or "")[1].lstrip(".").lower()
    return {"csv": "csv", "json": "json", "jsonl": "json", "ndjson": "json", "parquet": "parquet"}.get(ext, "table")


def _filter_for(args: argparse.Namespace) -> tuple[str | None, Callable[[dict[str, Any]], bool]]:
    """The asset name to glob and a record filter: one configuration when its arguments are all bound."""
    if not args.asset:
        return None, lambda record: True
    asset = _target(args, complete=False)
    try:
        asset_id = asset.id
    except ArgumentError:  # not every argument given: every configuration of this asset
        name = asset._name
        if "{" in name:
            return name.split("{", 1)[0] + "*", lambda record: True
        return name, lambda record: True
    return asset.name, lambda record: record.get("asset_id") == asset_id


def cmd_runs(args: argparse.Namespace) -> int:
    """The run history from the run records, newest first."""
    name, keep = _filter_for(args)
    records = [r for r in run_records(current_storage(), name) if keep(r)]
    records = list(reversed(records))[: args.limit]
    if not records:
        print("no runs recorded" + (f" for {args.asset}" if args.asset else ""))
        return 0
    rows = [
        (
            (r.get("runtime") or "")[:19].replace("T", " "), r.get("asset_name"), r.get("status"),
            format_duration(r.get("duration_miliseconds")), _count(r.get("rows")), _human_bytes(r.get("bytes")),
            r.get("error") or "",
        )
        for r in records
    ]
    print(plain_table(("STARTED (UTC)", "ASSET", "STATUS", "DURATION", "ROWS", "SIZE", "ERROR"), rows))
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    """Every asset configuration with run records: last good materialization, rows, size, last status."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    last_good: dict[tuple[str, str], dict[str, Any]] = {}
    counts: dict[tuple[str, str], int] = {}
    for record in run_records(current_storage()):  # oldest first: later records win
        key = (record.get("asset_name") or "?", record.get("asset_id") or "?")
        latest[key] = record
        counts[key] = counts.get(key, 0) + 1
        if record.get("status") == "succeeded":
            last_good[key] = record
    if not latest:
        print(f"no assets under {current_storage().url}")
        return 0
    rows = []
    for key in sorted(latest):
        good = last_good.get(key, {})
        rows.append((
            key[0], good.get("asset_path") or latest[key].get("asset_path"),
            (good.get("materialized") or "-")[:19].replace("T", " "),
            _count(good.get("rows")), _human_bytes(good.get("bytes")), counts[key], latest[key].get("status"),
        ))
    print(plain_table(("ASSET", "PATH", "MATERIALIZED (UTC)", "ROWS", "SIZE", "RUNS", "LAST STATUS"), rows))
    return 0


def cmd_vacuum(args: argparse.Namespace) -> int:
    """Apply the asset's retention now, and remove what killed runs left behind."""
    asset = _target(args)
    removed = anyio.run(asset.vacuum)
    kept = anyio.run(asset.versions)
    print(
        f"{asset.name}: removed {len(removed.versions)} version(s) and {len(removed.folders)} folder(s); "
        f"versions kept: {', '.join(str(v.version) for v in kept) or 'none'}"
    )
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Check every file of every committed version; exit 1 if any is missing or changed."""
    asset = _target(args)
    versions = anyio.run(asset.versions)
    problems = anyio.run(asset.verify)
    for problem in problems:
        print(f"madstream: {asset.name}: {problem}", file=sys.stderr)
    files = sum(len(v.results) + len(v.fragments) for v in versions)
    print(f"{asset.name}: {len(versions)} version(s), {files} file(s), {len(problems)} problem(s)")
    return 1 if problems else 0
