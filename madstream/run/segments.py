"""Segments: the files a run writes and the versions it commits, with checkpoints in between.

A run normally writes one segment and commits it at the end. With ``checkpoint_every`` (an
appended or merged dataset), the writer commits what it has every so many rows or bytes, as a
version of its own (with the cursor's mark so far), then goes on writing a new segment: a crash
at row 9 million of 10 loses only the rows since the last checkpoint, and a re-run of an
incremental asset starts from that checkpoint's mark, so no row is missing and none is repeated.
Every step runs in the writer's thread (blocking I/O).
"""

from __future__ import annotations

import datetime as dt
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ..base.types import Encoded
from ..commit.appends import appended
from ..commit.catalog import RunRecord
from ..commit.crashpoints import crash_point
from ..commit.runs import RunFolder
from ..commit.versions import Dataset, FileEntry, Version
from ..write.writer import Layout, RunWriter, WriteStats
from .contract import check_frozen
from .incremental import CursorTracker, encode_value
from .merge import Merger, merged_version
from .overwrite import changed_partitions, overwritten_version
from .plan import RunPlan, part_path

__all__ = ["Checkpoints", "Segments"]


@dataclass(frozen=True)
class Checkpoints:
    """Commit a segment once it holds this many rows or Arrow bytes (``None``: never)."""

    rows: int | None = None
    bytes: int | None = None


class Segments:
    """The writer of one run (the pump's write callback), committing each segment as a version."""

    def __init__(
        self, plan: RunPlan, run: RunRecord, dataset: Dataset, folder: RunFolder, fragment_dir: str, *,
        cursor: tuple[CursorTracker, Any] | None = None, baseline: dict[str, str] | None = None,
        checkpoints: Checkpoints = Checkpoints(), started: int = 0,
    ) -> None:
        assert run.id is not None
        self.plan, self.run, self.dataset, self.folder = plan, run, dataset, folder
        self.fragment_dir = fragment_dir
        self.cursor = cursor
        self.baseline = baseline
        self.checkpoints = checkpoints
        self.segment = 0
        self.batches = 0
        self.committed: list[Version] = []
        self._fragments: list[FileEntry] = []
        self._rows = self._bytes = 0
        self.writer = RunWriter(plan.store, folder, self._layout())
        #: The newest version when the run started: a merge checks what others committed after it.
        self.started = started

    @property
    def json_lines(self) -> bool:
        return self.writer.json_lines

    def write(self, batch: pa.RecordBatch, json: Encoded | None = None) -> None:
        self.writer.write(batch, json)
        self.batches += 1
        if self.cursor is not None:
            self.cursor[0].observe(batch)
        self._rows += batch.num_rows
        self._bytes += batch.nbytes
        due = self.checkpoints
        if (due.rows and self._rows >= due.rows) or (due.bytes and self._bytes >= due.bytes):
            self.commit()
            self.segment += 1
            self._rows = self._bytes = 0
            self.writer = RunWriter(self.plan.store, self.folder, self._layout())

    def commit(self) -> Version:
        """Close the segment's files and commit them as the dataset's next version (blocking)."""
        plan = self.plan
        stats = self.writer.close()
        if self.baseline and plan.schema_contract == "freeze":
            check_frozen(self.baseline, stats.column_types)
        crash_point("written")
        draft = draft_version(plan, self.run, stats, self.fragment_dir, self.folder)
        self._fragments.extend(draft.fragments)
        draft.fragments = list(self._fragments)  # a checkpointed run's version lists all its fragments
        if self.cursor is not None:
            tracker, before = self.cursor
            mark = tracker.spec.advance(before, tracker.value)
            draft.state["cursor"] = {"column": tracker.spec.cursor_path, "last_value": encode_value(mark)}
        rebase: Callable[[Version | None], Version] | None = (lambda newest: appended(draft, newest)) if plan.appends else None
        if plan.write_mode == "merge":
            rebase = merging(plan, self.run.id or "", self.folder, draft, self.segment, self._since)
        elif plan.write_mode == "overwrite_partitions":
            rebase = lambda newest: overwritten_version(draft, newest, self._changes)  # noqa: E731
        crash_point("committing")
        version = self.dataset.commit(draft, rebase)
        crash_point("committed")
        self.committed.append(version)
        return version

    def _since(self, newest: Version) -> list[Version]:
        """Versions other writers committed after this run started, up to ``newest``."""
        mine = {v.version for v in self.committed}
        return [v for n in self.dataset.numbers() if self.started < n <= newest.version and n not in mine
                if (v := self.dataset.read(n)) is not None]

    def _changes(self, newest: Version) -> list[tuple[Version, set[str]]]:
        """Versions other writers committed after this run started, each with the partitions it changed."""
        # Retention may have removed the start's version meanwhile: then every file counts as changed.
        before = self.dataset.read(self.started) if self.started in self.dataset.numbers() else None
        out = []
        for other in self._since(newest):
            out.append((other, changed_partitions(before, other)))
            before = other
        return out

    def finish(self) -> Version:
        """Commit the last segment (blocking); one left empty by a checkpoint is not a version."""
        if self.committed and self.writer.stats.rows == 0:
            self.abort()
            return self.committed[-1]
        return self.commit()

    def abort(self) -> None:
        """After a failure: close the open files and delete what was not committed (blocking)."""
        self.writer.abort()
        if not self.committed:
            self.folder.discard()
            return
        # Earlier checkpoints are committed and stay; only this segment's files go.
        for stored in self.writer.stats.files.values():
            self.folder.delete_file(stored.file)
        self.folder.drop_work()

    def _layout(self) -> Layout:
        plan = self.plan
        assert self.run.id is not None
        tag = self.run.id if self.segment == 0 else f"{self.run.id}-s{self.segment:03d}"
        results = tuple(part_path(r, tag) for r in plan.results) if plan.in_folder else plan.results
        return Layout(
            results=results, fragment_dir=self.fragment_dir, fragment_type=plan.fragment_type, extras=plan.extras,
            detect_text=plan.detect_types and plan.fragment_type != "parquet", reader_options=plan.reader_options,
            partition_by=plan.partition_by, max_open_files=plan.max_open_files, fragment_offset=self.batches,
        )


def draft_version(plan: RunPlan, run: RunRecord, stats: WriteStats, fragment_dir: str, folder: RunFolder) -> Version:
    """The version record of written files, before it has a number (blocking: stats the results)."""
    assert run.id is not None
    folder.drop_work()
    results = []
    for path in stats.results:
        stored = stats.files[path]
        _, mtime = plan.store.stat_sync(stored.file)
        results.append(FileEntry(
            path=path, file=stored.file, size=stored.size, crc32=stored.crc32, rows=stored.rows, mtime=mtime,
            columns=stats.file_columns.get(path, stats.column_types) if plan.in_folder else None,
        ))
    if plan.appends and stats.rows == 0:
        results = []  # an append of nothing adds no part (the run folder goes with retention)
    fragments = [
        FileEntry(path=path, file=stored.file, size=stored.size, crc32=stored.crc32, rows=stored.rows)
        for path in stats.fragments for stored in (stats.files[path],)
    ]
    return Version(
        run_id=run.id, asset_id=plan.asset_id, asset_name=plan.name, parameters=plan.parameters,
        committed=dt.datetime.now(dt.UTC),
        results=results, fragments=fragments, fragment_type=plan.fragment_type, fragment_dir=fragment_dir,
        snapshot=plan.snapshot, columns=stats.column_types, rows=stats.rows, batches=stats.batches, bytes=stats.bytes,
        schema_changes=stats.schema_changes, text_types=stats.text_types, write_mode=plan.write_mode,
        partition_by=list(plan.partition_by),
    )


def merging(
    plan: RunPlan, run_id: str, folder: RunFolder, draft: Version, segment: int = 0,
    since: Callable[[Version], list[Version]] | None = None,
) -> Callable[[Version | None], Version]:
    """Prepare a merge (blocking): the run's own duplicate keys resolved, each part's key range
    recorded; returns the rebase that merges the parts into whichever version is newest."""
    base = posixpath.splitext(plan.results[0])[0]

    def stage(final: str) -> str:
        if plan.partition_by:
            return folder.stage_partition(posixpath.relpath(posixpath.dirname(final), base), final)
        return folder.stage(final)

    tag = run_id if segment == 0 else f"{run_id}-s{segment:03d}"
    merger = Merger(plan.store, plan.primary_key, stage, tag)
    parts = []
    for part in merger.dedupe(draft.results):
        found = merger.key_range(part)
        parts.append(part.model_copy(update={"key_range": [list(found.low), list(found.high)]}) if found else part)
    draft.results = parts
    draft.primary_key = list(plan.primary_key)
    return lambda newest: merged_version(draft, newest, merger, parts, since)
