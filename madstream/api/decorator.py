"""The ``@asset`` decorator: an extract function and its options → a :class:`DataAsset`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from ..base.defaults import DEFAULT_KEEP_FOR, DEFAULT_KEEP_VERSIONS, MAX_OPEN_FILES
from ..base.types import ARTIFACT_FILE_TYPES
from ..query.options import ReadCSVOptions, ReadJsonOptions
from .asset import DataAsset

__all__ = ["asset"]


def asset(
    path: str,
    artifacts_dir: str = "",
    name: str | None = None,
    snapshot_artifacts: bool = False,
    artifact_filetype: ARTIFACT_FILE_TYPES = "json",
    read_json_options: ReadJsonOptions | None = None,
    read_csv_options: ReadCSVOptions | None = None,
    cache_expiration: dt.timedelta | None = None,
    *,
    keep_versions: int = DEFAULT_KEEP_VERSIONS,
    keep_for: dt.timedelta = DEFAULT_KEEP_FOR,
    detect_types: bool = True,
    write_mode: str = "replace",
    schema_contract: str = "evolve",
    partition_by: str | Sequence[str] | None = None,
    max_open_files: int = MAX_OPEN_FILES,
    primary_key: str | Sequence[str] | None = None,
    checkpoint_every: int | str | None = None,
) -> Callable[[Callable[..., Any]], DataAsset]:
    """Turn an extract function into a :class:`DataAsset`.

    Args:
        path: result path template; ``x/a.parquet|csv`` writes one result per listed type.
        artifacts_dir: folder template for intermediate fragments (default beside the result).
        name: name template (default ``"{module}.{function}"``, the function's module as it is
            named when imported: a script run as ``python shop.py`` is ``shop``, not ``__main__``, so
            ``python shop.py`` and ``madstream materialize shop:products`` run one asset,
            ``shop.products``, with one history; under ``python -m pkg.shop`` it is ``pkg.shop``).
        snapshot_artifacts: keep each run's fragments under ``year=/month=/day=/runtime=``.
        artifact_filetype: ``"json"`` (default), ``"parquet"`` or ``"csv"`` fragments.
        read_json_options: DuckDB ``read_json`` options for queries of JSON files.
        read_csv_options: DuckDB ``read_csv`` options for queries of CSV files.
        cache_expiration: reuse a successful result younger than this, across processes.
        keep_versions: retention; a version is kept while it is one of the newest
            ``keep_versions`` or younger than ``keep_for`` (and a configuration's newest always).
        keep_for: retention by age (see ``keep_versions``).
        detect_types: with JSON or CSV fragments, text columns whose every value is an ISO
            date, timestamp, time or UUID read back typed, as the original's ``read_json`` made
            them (the files keep the text); ``False`` keeps them text.
        write_mode: ``"replace"`` (default: each run's result replaces the last), ``"append"``
            (each run adds its rows as a new part; every version lists all parts so far) or
            ``"merge"`` (with ``primary_key``: rows replace those with the same key, new keys
            are added; only files holding a replaced key are rewritten) or
            ``"overwrite_partitions"`` (with ``partition_by``: a run's rows replace every row of
            the partitions they fall in; other partitions stay).
        primary_key: the key column(s) of a merge; duplicates within one run: the last row wins.
        checkpoint_every: an append or merge commits its progress every this many rows (an int)
            or Arrow bytes (``"256MB"``): a crash loses only what came after the last checkpoint,
            and an incremental asset's re-run resumes from that checkpoint's mark.
        schema_contract: ``"evolve"`` (default: columns widen losslessly), ``"freeze"`` (a new
            column or a type change fails the run, nothing committed) or ``"discard_new_columns"``
            (columns the dataset lacks are dropped from the rows).
        partition_by: column(s) whose values route rows to hive folders:
            ``sales/orders/day=2024-01-02/part-<run>-0001.parquet``; queries filtering on them
            read only the matching partitions' files.
        max_open_files: partition files open at once while writing (least recently written
            closed first).

    >>> @asset("sales/orders.parquet", artifact_filetype="parquet")
    ... async def orders():
    ...     yield [{"id": 1, "amount": 9.5}]
    >>> artifact = await orders()
    """

    def wrap(fn: Callable[..., Any]) -> DataAsset:
        return DataAsset(
            fn, path, artifacts_dir, name, snapshot_artifacts, artifact_filetype,
            read_json_options, read_csv_options, cache_expiration, keep_versions=keep_versions, keep_for=keep_for,
            detect_types=detect_types, write_mode=write_mode, schema_contract=schema_contract,
            partition_by=partition_by, max_open_files=max_open_files, primary_key=primary_key,
            checkpoint_every=checkpoint_every,
        )

    return wrap
