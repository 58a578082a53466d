"""The commands that act on one asset: materialize, query, vacuum and verify. Each returns the process exit code."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import anyio

from ..api.artifact import DataArtifact
from ..api.asset import DataAsset
from ..run.observe import RunCollector, observe
from ..run.summary import summary
from .history import schema_changes
from .output import write_result
from .target import CliError, bind_arguments, load_asset, require_all

__all__ = ["bound_asset", "cmd_materialize", "cmd_query", "cmd_vacuum", "cmd_verify"]


def bound_asset(args: argparse.Namespace) -> DataAsset:
    """The asset the command names, with its ``--arg`` values bound; every required one must be given."""
    return require_all(bind_arguments(load_asset(args.asset), args.arg or []))


def cmd_materialize(args: argparse.Namespace) -> int:
    """Run the asset (as a Prefect flow with ``--prefect``) and print a one-line summary."""
    if args.retries is not None and not args.prefect:
        raise CliError("--retries applies to --prefect runs (Prefect retries the task); add --prefect or drop it")
    asset = bound_asset(args)
    collector = RunCollector()
    started = time.perf_counter()
    with observe(collector):
        if args.prefect:
            from ..prefect import materialize_sync

            [artifact] = materialize_sync(asset, retries=2 if args.retries is None else args.retries, quiet=True)
        else:
            artifact = anyio.run(asset)
    elapsed = time.perf_counter() - started
    run = collector.last(asset.id)
    if run is None:
        print(f"{asset.name}: reused the cached result ({artifact.rows:,} rows) → {artifact.path}")
        return 0
    changes = schema_changes(anyio.run(asset.versions)).get(run.id or "", [])
    # The run's own time comes from its record; with --prefect, the flow's start-up is said apart.
    # Every result the run wrote: `x.parquet|csv` names both files.
    shown = asset.path if "|" in asset.path else artifact.path
    print(summary(run, shown, elapsed, around="Prefect" if args.prefect else None, schema_changes=changes))
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
    asset = bound_asset(args)

    async def query() -> Any:
        artifact = await _result(asset, run=not args.no_run)
        return await artifact.query(args.sql)

    result = anyio.run(query)
    rows = write_result(result, _format(args.format, args.output), args.output, limit=args.limit)
    if args.output is not None:
        print(f"{rows:,} {'row' if rows == 1 else 'rows'} → {args.output}", file=sys.stderr)
    return 0


def _format(chosen: str | None, output: str | None) -> str:
    """``--format``, else the ``--output`` file's extension when it names one, else a table."""
    if chosen is not None:
        return chosen
    ext = os.path.splitext(output or "")[1].lstrip(".").lower()
    return {"csv": "csv", "json": "json", "jsonl": "json", "ndjson": "json", "parquet": "parquet"}.get(ext, "table")


def cmd_vacuum(args: argparse.Namespace) -> int:
    """Apply the asset's retention now, and remove what killed runs left behind."""
    asset = bound_asset(args)
    removed = anyio.run(asset.vacuum)
    kept = anyio.run(asset.versions)
    print(
        f"{asset.name}: removed {len(removed.versions)} version(s) and {len(removed.folders)} folder(s); "
        f"versions kept: {', '.join(str(v.version) for v in kept) or 'none'}"
    )
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Check every file of every committed version; exit 1 if any is missing or changed."""
    asset = bound_asset(args)
    versions = anyio.run(asset.versions)
    problems = anyio.run(asset.verify)
    for problem in problems:
        print(f"madstream: {asset.name}: {problem}", file=sys.stderr)
    files = sum(len(v.results) + len(v.fragments) for v in versions)
    print(f"{asset.name}: {len(versions)} version(s), {files} file(s), {len(problems)} problem(s)")
    return 1 if problems else 0
