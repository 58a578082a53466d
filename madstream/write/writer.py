"""Write: one run's batches → fragment files and result file(s), as the batches stream by.

Each non-empty batch becomes one fragment file (in the artifact file type) and is appended to
every result file. The result is never rebuilt from the fragments: it is written once, while the
data passes. Only when the schema widens mid-run does a parquet or CSV result roll over to a new
part; the parts are merged into the final file at close (JSON lines need no merge: the column
types are recorded and applied on read).
"""

from __future__ import annotations

import contextlib
import posixpath
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from ..base.defaults import MAX_OPEN_FILES
from ..base.types import STREAM_BATCH_ROWS, Encoded
from ..query.scan import scan_sql
from ..storage.store import FileStore
from ..storage.uploads import Uploads
from .detect import ReaderTypes
from .partitions import PartitionedResult
from .schema import SchemaTracker, conform
from .sinks import Sink, Written, encode, filetype_of, open_sink, write_fragment
from .typenames import duckdb_types

__all__ = ["Layout", "RunWriter", "Staging", "StoredFile", "WriteStats", "fragment_name"]


def fragment_name(index: int, filetype: str) -> str:
    """The file name of the ``index``-th (1-based) fragment of a run."""
    return f"fragment={index:06d}.{filetype}"


@dataclass(frozen=True)
class Layout:
    """Where one run's files go (final, storage-relative paths)."""

    results: tuple[str, ...]
    fragment_dir: str | None = None
    fragment_type: str = "json"
    #: Constant columns added to result rows (hive keys the user wrote into ``artifacts_dir``).
    extras: tuple[tuple[str, Any], ...] = ()
    #: Learn the types the original's reader would have given (see :mod:`.detect`), with the
    #: user's reader options that change them (date formats, map thresholds).
    detect_text: bool = False
    reader_options: tuple[tuple[str, Any], ...] = ()
    #: Columns whose values route each row to a partition folder (see :mod:`.partitions`).
    partition_by: tuple[str, ...] = ()
    max_open_files: int = MAX_OPEN_FILES
    #: Fragments this run wrote before (earlier checkpointed segments): numbering continues.
    fragment_offset: int = 0


class Staging(Protocol):
    """Where a writer puts the files it writes before they are published (a transaction, a run folder)."""

    def stage(self, final: str) -> str:
        """The path to write the file that is published as ``final``."""

    def stage_in(self, folder: str, name: str) -> str:
        """The path to write the file that is published as ``folder/name`` (a fragment)."""

    def stage_partition(self, partition: str, final: str) -> str:
        """The path to write a partition's file published as ``final``, under ``partition``
        (``day=2024-01-02``) so the stored path carries the partition's values."""

    def scratch_file(self, final: str, tag: str) -> str:
        """A working file (never published) for the file published as ``final``."""


class StoredFile(NamedTuple):
    """A file a run wrote: where it was written, its size, CRC-32 and rows."""

    file: str
    size: int
    crc32: int
    rows: int


@dataclass
class WriteStats:
    """What a run wrote."""

    rows: int = 0
    batches: int = 0
    bytes: int = 0
    fragments: list[str] = field(default_factory=list)
    #: Every file written, by the path it is published as.
    files: dict[str, StoredFile] = field(default_factory=dict)
    #: The result files, by the paths they are published as (many when partitioned).
    results: list[str] = field(default_factory=list)
    #: Each partition file's own column types (files of one result may differ when it widened).
    file_columns: dict[str, dict[str, str]] = field(default_factory=dict)
    schema: pa.Schema | None = None
    schema_changes: list[str] = field(default_factory=list)
    #: ``{column: SQL type}`` of text columns that proved to hold one typed kind (cast on read).
    text_types: dict[str, str] = field(default_factory=dict)

    @property
    def column_types(self) -> dict[str, str]:
        return duckdb_types(self.schema) if self.schema is not None else {}


@dataclass
class _Result:
    final: str
    filetype: str
    parts: list[tuple[str, pa.Schema]] = field(default_factory=list)
    sink: Sink | None = None


class RunWriter:
    """Synchronous writer of one run; call it from a worker thread."""

    def __init__(self, store: FileStore, staging: Staging, layout: Layout) -> None:
        self.store = store
        self.staging = staging
        self.layout = layout
        self.tracker = SchemaTracker()
        self.stats = WriteStats()
        if layout.partition_by:
            self._results: list[_Result] = []
            self._partitioned = [
                PartitionedResult(store, staging, p, filetype_of(p), layout.partition_by, layout.max_open_files)
                for p in layout.results
            ]
        else:
            self._results = [_Result(p, filetype_of(p)) for p in layout.results]
            self._partitioned = []
        self._extras_cache: dict[int, list[pa.Array]] = {}
        self._text = ReaderTypes(dict(layout.reader_options)) if layout.detect_text else None
        #: Remote fragments upload in the background (see :mod:`madstream.storage.uploads`).
        self._uploads = Uploads(store) if store.local_root is None else None

    # -- per batch -----------------------------------------------------------------------------
    def write(self, batch: pa.RecordBatch, json: Encoded | None = None) -> None:
        """Append ``batch``; ``json`` is the same rows as JSON lines, if the caller has them."""
        if self._text is not None:  # before conforming: it reads the batch's own field marks
            self._text.observe(batch)
        observed, changed = self.tracker.observe(batch)
        if observed is not batch:  # conformed to a wider schema: encode what is written
            batch, json = observed, None
        self.stats.batches += 1
        self.stats.rows += batch.num_rows
        # Each text encoding is made once and shared by the fragment and the results of its type.
        encoded: dict[str, Encoded | None] = {"json": json} if json is not None else {}
        if self.layout.fragment_dir is not None:
            kind = self.layout.fragment_type
            if kind not in encoded:
                encoded[kind] = encode(batch, kind)
            name = fragment_name(self.stats.batches + self.layout.fragment_offset, kind)
            temp = self.staging.stage_in(self.layout.fragment_dir, name)
            written = write_fragment(self.store, temp, batch, kind, encoded[kind], self._uploads)
            final = posixpath.join(self.layout.fragment_dir, name)
            self.stats.bytes += written.size
            self.stats.fragments.append(final)
            self.stats.files[final] = StoredFile(temp, written.size, written.crc32, batch.num_rows)
        out = self._with_extras(batch)
        for partitioned in self._partitioned:
            if changed:
                self.stats.bytes += partitioned.roll()
            self.stats.bytes += partitioned.write(out)
        for result in self._results:
            if result.sink is None or (changed and result.filetype != "json"):
                self._roll(result, out.schema)
            assert result.sink is not None
            # A JSON or CSV result holds the very same lines as the encoding made for the
            # fragment (a CSV sink drops the repeated header itself), unless extras were added.
            result.sink.write(out, None if self.layout.extras else encoded.get(result.filetype))

    @property
    def json_lines(self) -> bool:
        """Whether this writer uses JSON lines (then :func:`pump` should offer them)."""
        kinds = [r.filetype for r in self._results]
        if self.layout.fragment_dir is not None:
            kinds.append(self.layout.fragment_type)
        return "json" in kinds

    def _with_extras(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        extras = [(k, v) for k, v in self.layout.extras if k not in batch.schema.names]
        if not extras:
            return batch
        arrays = self._extras_cache.get(batch.num_rows)
        if arrays is None:
            arrays = [pa.array([v] * batch.num_rows) for _, v in extras]
            self._extras_cache = {batch.num_rows: arrays}
        for (name, _), arr in zip(extras, arrays):
            batch = batch.append_column(name, arr)
        return batch

    def _roll(self, result: _Result, schema: pa.Schema) -> None:
        if result.sink is not None:
            self.stats.bytes += result.sink.close().size
        if not result.parts:
            temp = self.staging.stage(result.final)
        else:
            temp = self.staging.scratch_file(result.final, f"part{len(result.parts)}")
        result.parts.append((temp, schema))
        result.sink = open_sink(self.store, temp, result.filetype, schema)

    # -- at the end ----------------------------------------------------------------------------
    def close(self) -> WriteStats:
        """Finish every file; merge result parts if the schema changed mid-run."""
        if self._uploads is not None:
            self._uploads.wait()
        final_schema = self._with_extras_schema()
        for result in self._results:
            if result.sink is None:  # no rows at all: an empty result file still gets published
                self._roll(result, final_schema)
            assert result.sink is not None
            written = result.sink.close()
            self.stats.bytes += written.size
            result.sink = None
            if len(result.parts) > 1 and result.filetype != "json":
                written = self._merge(result, final_schema)
            self.stats.files[result.final] = StoredFile(result.parts[0][0], written.size, written.crc32, self.stats.rows)
        for partitioned in self._partitioned:
            for f in partitioned.close():
                self.stats.bytes += f.size
                self.stats.files[f.final] = StoredFile(f.stored, f.size, f.crc32, f.rows)
                self.stats.results.append(f.final)
                self.stats.file_columns[f.final] = f.columns
        self.stats.results.extend(r.final for r in self._results)
        self.stats.schema = final_schema
        self.stats.schema_changes = list(self.tracker.changes)
        if self._text is not None:
            self.stats.text_types = self._text.types(final_schema)
            self._text.close()
        return self.stats

    def abort(self) -> None:
        """Close every open file after a failure (blocking; the transaction then deletes them)."""
        if self._uploads is not None:
            self._uploads.cancel()
        if self._text is not None:
            self._text.close()
        for partitioned in self._partitioned:
            partitioned.abort()
        for result in self._results:
            if result.sink is not None:
                with contextlib.suppress(Exception):  # the run's own error is the one to report
                    result.sink.close()
                result.sink = None

    def _with_extras_schema(self) -> pa.Schema:
        schema = self.tracker.schema or pa.schema([])
        for name, value in self.layout.extras:
            if name not in schema.names:
                schema = schema.append(pa.field(name, pa.array([value]).type))
        return schema

    def _merge(self, result: _Result, schema: pa.Schema) -> Written:
        """Rewrite the parts of a result as one file with the final schema, batch by batch."""
        first_temp = result.parts[0][0]
        merged = self.staging.scratch_file(result.final, "merged")
        sink = open_sink(self.store, merged, result.filetype, schema)
        for temp, part_schema in result.parts:
            for batch in self._read_part(temp, result.filetype, part_schema):
                sink.write(conform(batch, schema))
        written = sink.close()
        self.stats.bytes += written.size
        self.store.move_sync(merged, first_temp)
        return written

    def _read_part(self, path: str, filetype: str, schema: pa.Schema) -> Any:
        if filetype == "parquet":
            native = self.store.native(path)
            source = native if native is not None else self.store.open_sync(path, "rb")
            yield from pq.ParquetFile(source).iter_batches(batch_size=STREAM_BATCH_ROWS)
            return
        import duckdb

        con = duckdb.connect()
        try:
            sql = scan_sql(self.store, [path], "csv", {}, duckdb_types(schema), con=con)
            reader = con.sql(f"FROM {sql}").to_arrow_reader(STREAM_BATCH_ROWS)
            yield from reader
        finally:
            con.close()
