"""The run plan: one asset configuration, rendered and frozen, with everything a run needs.

The API layer builds a :class:`RunPlan` from a ``DataAsset`` (templates rendered, arguments
bound, storage chosen); the run layer executes it and never sees the asset itself.
"""

from __future__ import annotations

import datetime as dt
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..commit.versions import ACCUMULATING
from ..storage.store import FileStore
from .incremental import Incremental

__all__ = ["RunPlan", "part_path"]


@dataclass(frozen=True)
class RunPlan:
    """What to run, where its files go, and how long a result stays fresh."""

    #: Where every file of the run is written.
    store: FileStore
    #: The configuration's rendered name and result path template (``x/a.parquet|csv``).
    name: str
    path: str
    #: Every result file (one per type in ``path``).
    results: tuple[str, ...]
    #: The folder of the run's fragments (before snapshot partitions).
    fragment_base: str
    #: ``json``, ``parquet`` or ``csv``.
    fragment_type: str
    #: Constant columns added to result rows (hive keys written into ``artifacts_dir``).
    extras: tuple[tuple[str, Any], ...]
    #: A stable id of the configuration (name, paths and arguments).
    asset_id: str
    #: The bound arguments as sorted JSON (recorded with every run).
    parameters: str
    #: Keep each run's fragments under ``year=/month=/day=/runtime=`` instead of replacing them.
    snapshot: bool
    #: Reuse a successful result younger than this (across processes).
    cache_expiration: dt.timedelta | None
    #: Retention: versions kept while among the newest ``keep_versions`` or younger than ``keep_for``.
    keep_versions: int
    keep_for: dt.timedelta
    #: The extract function and the arguments to call it with.
    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    #: Type text columns that hold only dates, timestamps, times or UUIDs, as the original's
    #: ``read_json`` did (JSON and CSV fragments), with the user's reader formats for dates.
    detect_types: bool = True
    reader_options: tuple[tuple[str, Any], ...] = ()
    #: ``replace`` (each run's result replaces the last) or ``append`` (each run adds a part).
    write_mode: str = "replace"
    #: ``evolve``, ``freeze`` or ``discard_new_columns`` (see :mod:`.contract`).
    schema_contract: str = "evolve"
    #: Commit the progress of a long append or merge every so many rows or Arrow bytes.
    checkpoint_rows: int | None = None
    checkpoint_bytes: int | None = None
    #: A merge's primary key columns.
    primary_key: tuple[str, ...] = ()
    #: Columns whose values route rows to hive partition folders, and the open-file bound.
    partition_by: tuple[str, ...] = ()
    max_open_files: int = 64
    #: The incremental cursor parameter, if the function declares one: (parameter name, cursor).
    cursor: tuple[str, Incremental] | None = None

    @property
    def appends(self) -> bool:
        """Whether each run adds to the dataset (appends, or merges by key): every version holds
        the whole dataset, in parts of a folder."""
        return self.write_mode in ACCUMULATING

    @property
    def in_folder(self) -> bool:
        """Whether results are files in a folder (``x/orders/...``) rather than ``x/orders.parquet``."""
        return self.appends or bool(self.partition_by)

    def part_paths(self, run_id: str) -> tuple[str, ...]:
        """Where an appending run's parts are shown: ``x/orders.parquet`` → ``x/orders/part-<run>.parquet``."""
        return tuple(part_path(result, run_id) for result in self.results)

    def fragment_dir(self, runtime: dt.datetime) -> str:
        """Where a run started at ``runtime`` writes its fragments."""
        if not self.snapshot:
            return self.fragment_base
        return posixpath.join(
            self.fragment_base, f"year={runtime.year}", f"month={runtime.month}", f"day={runtime.day}",
            f"runtime={runtime.replace(tzinfo=None).isoformat()}",
        )


def part_path(result: str, run_id: str) -> str:
    """The path one run's part of an appended dataset is shown at (beside its siblings)."""
    stem, ext = posixpath.splitext(result)
    return posixpath.join(stem, f"part-{run_id}{ext}")
