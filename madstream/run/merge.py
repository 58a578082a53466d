"""Merge: a run's rows replace the rows with the same primary key; new keys are added.

A merging run writes its rows once, as new parts (like an append). Before its version is
committed, on the newest version (again at every commit attempt, so a concurrent writer's rows
are merged too):

1. duplicate keys inside the run keep their last row (the run's parts are rewritten if any);
2. the files of the newest version that may hold one of the run's keys are found by the key
   range recorded for each file (a file whose range misses the run's keys is never opened),
   and their key columns are read to see which really do;
3. only those files are rewritten without the replaced rows; every other file stays as it is.

The version lists the untouched files, the rewritten ones and the run's parts. Reads and writes
go through DuckDB on a private connection (the storage's files, local or remote).
"""

from __future__ import annotations

import os
import posixpath
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ..base.errors import ConflictError, SchemaError
from ..commit.appends import appended
from ..commit.versions import FileEntry, Version
from ..query.options import sql_identifier
from ..query.scan import location, scan_sql
from ..storage.store import FileStore
from ..write.sinks import filetype_of, open_sink

__all__ = ["KeyRange", "Merger", "merged_version"]

#: DuckDB's memory for one merge; beyond it, joins and sorts spill to disk.
MEMORY_LIMIT = "192MB"
#: The column naming each row's file in a scan of many files (not a name a user's column takes).
_FILE_COLUMN = "__madstream_file"


@dataclass(frozen=True)
class KeyRange:
    """The smallest and largest primary key (as a tuple) in a file: which merges may touch it."""

    low: tuple[Any, ...]
    high: tuple[Any, ...]


class Merger:
    """Merges one run's parts into the newest version (blocking; a run's worker thread)."""

    def __init__(self, store: FileStore, keys: Sequence[str], stage: Any, run_id: str) -> None:
        self.store = store
        self.keys = tuple(keys)
        self.run_id = run_id
        #: ``stage(final, partition)``: where to write a rewritten file published as ``final``.
        self.stage = stage
        self._rewrites = 0

    # -- the run's own rows ---------------------------------------------------------------------
    def dedupe(self, parts: list[FileEntry]) -> list[FileEntry]:
        """The run's parts with only the last row of each key (rewritten only if keys repeat)."""
        if not parts:
            return parts
        con = self._connect()
        try:
            self._check_keys(con, parts)
            union = self._union(con, parts, ordinal=True)
            keys = ", ".join(sql_identifier(k) for k in self.keys)
            [(rows, distinct)] = con.sql(f"SELECT count(*), count(DISTINCT ({keys})) FROM {union}").fetchall()
            if rows == distinct:
                return parts
            kept = (
                f"SELECT * FROM {union} "
                f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY __part DESC, __row DESC) = 1"
            )
            out = []
            for i, part in enumerate(parts):  # each part keeps its own surviving rows, in its folder
                out.append(self._rewrite(con, part, f"SELECT * EXCLUDE (__part, __row) FROM ({kept}) WHERE __part = {i}"))
            return [p for p in out if p.rows]
        finally:
            con.close()

    # -- against the dataset ----------------------------------------------------------------------
    def merge(self, newest: list[FileEntry], parts: list[FileEntry], ranges: dict[str, KeyRange]) -> list[FileEntry]:
        """``newest``'s files with the run's keys removed (only files that held one are rewritten)."""
        if not parts or not newest:
            return newest
        candidates = [e for e in newest if self._may_hold(ranges.get(e.file), [ranges.get(p.file) for p in parts])]
        if not candidates:
            return newest
        con = self._connect()
        try:
            keys = ", ".join(sql_identifier(k) for k in self.keys)
            con.sql(f"CREATE TEMP TABLE __run_keys AS SELECT DISTINCT {keys} FROM {self._union(con, parts)}")
            hit = self._holding(con, candidates)
            out = []
            for entry in newest:
                if entry.file not in hit:
                    out.append(entry)
                    continue
                sql = f"SELECT * FROM {self._scan(con, entry)} WHERE ({keys}) NOT IN (SELECT ({keys}) FROM __run_keys)"
                rewritten = self._rewrite(con, entry, sql)
                if rewritten.rows:
                    out.append(rewritten)
            return out
        finally:
            con.close()

    def shares_keys(self, theirs: list[FileEntry], ours: list[FileEntry]) -> bool:
        """Whether any key of the files ``theirs`` is also in ``ours`` (ranges first, then the keys)."""
        ranges = ranges_of([*theirs, *ours])
        theirs = [e for e in theirs if self._may_hold(ranges.get(e.file), [ranges.get(o.file) for o in ours])]
        if not theirs or not ours:
            return False
        con = self._connect()
        try:
            keys = ", ".join(sql_identifier(k) for k in self.keys)
            found = con.sql(
                f"SELECT 1 FROM (SELECT {keys} FROM {self._union(con, theirs)}) "
                f"WHERE ({keys}) IN (SELECT ({keys}) FROM {self._union(con, ours)}) LIMIT 1"
            ).fetchall()
            return bool(found)
        finally:
            con.close()

    def key_range(self, entry: FileEntry) -> KeyRange | None:
        """The smallest and largest key of one file, ordered as tuples compare (``None``: no keyed row)."""
        con = self._connect()
        try:
            keys = ", ".join(sql_identifier(k) for k in self.keys)
            present = " AND ".join(f"{sql_identifier(k)} IS NOT NULL" for k in self.keys)
            scan = self._scan(con, entry)
            first = con.sql(f"SELECT {keys} FROM {scan} WHERE {present} ORDER BY {keys} LIMIT 1").fetchall()
            descending = ", ".join(f"{sql_identifier(k)} DESC" for k in self.keys)
            last = con.sql(f"SELECT {keys} FROM {scan} WHERE {present} ORDER BY {descending} LIMIT 1").fetchall()
            return KeyRange(tuple(first[0]), tuple(last[0])) if first else None
        finally:
            con.close()

    # -- internals --------------------------------------------------------------------------------
    @staticmethod
    def _may_hold(found: KeyRange | None, run: list[KeyRange | None]) -> bool:
        """Whether a file with key range ``found`` may hold one of the run's keys."""
        if found is None or any(r is None for r in run):
            return True
        try:
            return any(not (found.high < r.low or found.low > r.high) for r in run if r is not None)
        except TypeError:  # keys of different types across versions (a widened column): look inside
            return True

    def _holding(self, con: Any, candidates: list[FileEntry]) -> set[str]:
        """Which of ``candidates`` hold a key of ``__run_keys``: one scan of their key columns per
        file type and column set (not a query per file: a dataset has thousands)."""
        keys = ", ".join(sql_identifier(k) for k in self.keys)
        groups: dict[tuple[str, tuple[tuple[str, str], ...]], list[FileEntry]] = {}
        for entry in candidates:
            groups.setdefault((filetype_of(entry.path), tuple((entry.columns or {}).items())), []).append(entry)
        hit: set[str] = set()
        for (filetype, columns), entries in groups.items():
            named = {location(self.store, e.file, con): e.file for e in entries}
            scan = scan_sql(self.store, [e.file for e in entries], filetype, {"filename": _FILE_COLUMN},
                            dict(columns) or None, con=con, union_by_name=filetype == "parquet")
            found = con.sql(
                f"SELECT DISTINCT {_FILE_COLUMN} FROM {scan} WHERE ({keys}) IN (SELECT ({keys}) FROM __run_keys)"
            ).fetchall()
            names = {row[0] for row in found}
            if names - named.keys():  # a name DuckDB spelled otherwise: every file of the group is rewritten
                hit.update(named.values())
            else:
                hit.update(named[name] for name in names)
        return hit

    def _connect(self) -> Any:
        import duckdb

        # A merge's joins and rewrites spill to a private folder past this, so a merge of millions
        # of keys stays within the run's memory budget rather than DuckDB's default (most of RAM).
        return duckdb.connect(config={"memory_limit": MEMORY_LIMIT, "temp_directory": _spill_dir()})

    def _scan(self, con: Any, entry: FileEntry) -> str:
        return scan_sql(self.store, [entry.file], filetype_of(entry.path), {}, entry.columns, con=con)

    def _union(self, con: Any, parts: list[FileEntry], *, ordinal: bool = False) -> str:
        reads = []
        for i, part in enumerate(parts):
            extra = f", {i} AS __part, row_number() OVER () AS __row" if ordinal else ""
            reads.append(f"SELECT *{extra} FROM {self._scan(con, part)}")
        return "(" + " UNION ALL BY NAME ".join(reads) + ")"

    def _check_keys(self, con: Any, parts: list[FileEntry]) -> None:
        for part in parts:
            missing = [k for k in self.keys if k not in (part.columns or {})]
            if missing:
                raise SchemaError(
                    f"rows without the primary key column(s) {', '.join(f'`{k}`' for k in missing)}",
                    hint="every row of a merge needs its primary_key columns (partition columns cannot be keys)",
                )

    def _rewrite(self, con: Any, entry: FileEntry, sql: str) -> FileEntry:
        """``entry``'s file rewritten as the rows of ``sql``, beside it (a new name, never in place)."""
        self._rewrites += 1
        ext = posixpath.splitext(entry.path)[1]
        final = posixpath.join(posixpath.dirname(entry.path), f"part-{self.run_id}-m{self._rewrites:04d}{ext}")
        stored = self.stage(final)
        reader = con.sql(sql).to_arrow_reader(65_536)
        schema = reader.schema
        sink = open_sink(self.store, stored, filetype_of(entry.path), schema)
        rows = 0
        try:
            for batch in reader:
                if batch.num_rows:
                    sink.write(pa.RecordBatch.from_arrays(batch.columns, schema=schema))
                    rows += batch.num_rows
        finally:
            written = sink.close()
        _, mtime = self.store.stat_sync(stored)
        # A subset of the file's rows: its key range still bounds them.
        return FileEntry(path=final, file=stored, size=written.size, crc32=written.crc32, rows=rows, mtime=mtime,
                         columns=entry.columns, key_range=entry.key_range)


def _spill_dir() -> str:
    """Where DuckDB spills (never the working directory, which an in-memory database would use)."""
    return os.path.join(tempfile.gettempdir(), f"madstream-merge-{os.getpid()}")


def ranges_of(entries: list[FileEntry]) -> dict[str, KeyRange]:
    """The recorded key range of each file that has one."""
    return {e.file: KeyRange(tuple(e.key_range[0]), tuple(e.key_range[1])) for e in entries if e.key_range}


def merged_version(
    draft: Version, newest: Version | None, merger: Merger, parts: list[FileEntry],
    since: Callable[[Version], list[Version]] | None = None,
) -> Version:
    """``draft`` as the version after ``newest``: its files with the run's keys replaced, and the run's parts.

    ``since(newest)`` lists the versions other writers committed after this run started; a merge
    among them that touched one of the run's keys is a true conflict (:class:`ConflictError`):
    the later of two concurrent merges of one key must not silently win.
    """
    for other in since(newest) if since is not None and newest is not None else []:
        if other.write_mode == "merge" and other.run_id != draft.run_id:
            merged = set(other.merged_files)
            theirs = [e for e in other.results if e.file in merged]
            if merger.shares_keys(theirs, parts):
                raise ConflictError(
                    f"version {other.version} (run {other.run_id}) merged some of the same keys while this run was writing; "
                    "nothing was committed",
                    hint="run the merge again: it starts from the newest version (or merge disjoint keys at once)",
                )
    base = newest.results if newest is not None and newest.accumulates else []
    kept = merger.merge(base, parts, ranges_of([*base, *parts]))
    results = [*kept, *parts]
    # Columns, detected types and state follow an append's rules; the files are the merge's.
    return appended(draft.model_copy(update={"results": parts}), newest).model_copy(
        update={"results": results, "rows": sum(e.rows or 0 for e in results), "merged_files": [p.file for p in parts]},
    )
