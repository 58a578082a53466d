"""``DataArtifact``: one file of rows (a fragment or a result) that can be persisted and queried."""

from __future__ import annotations

import posixpath
import sys
from collections.abc import AsyncIterator
from typing import Any

import anyio.to_thread
import pyarrow as pa

from ..base.errors import QueryError
from ..base.types import STREAM_BATCH_ROWS, Params
from ..commit.versions import Dataset, Version
from ..query.options import ReadCSVOptions, ReadJsonOptions
from ..query.rechunk import check_batch_rows
from ..query.result import QueryResult, connection, run_query, stream_result
from ..query.scan import EMPTY_SQL, scan_sql
from ..query.shape import Shape, shape_of, shaped_sql
from ..run.persist import check_filetype, persist_rows
from ..storage.store import FileStore
from .config import current_storage

__all__ = ["DataArtifact", "result_artifact"]


#: DuckDB's default ``max_line_size`` for CSV.
_DUCKDB_LINE_LIMIT = 2_097_152


#: The most parts a local artifact binds its queries on the event loop with (see ``_binds_quickly``).
_FEW_PARTS = 4


class DataArtifact:
    """One file of rows on storage: a fragment or a result, in parquet, JSON lines or CSV.

    Args:
        path: storage-relative path; the extension picks the format.
        data: what :meth:`persist` writes (anything an extract function may produce).
        read_json_options: DuckDB ``read_json`` options used by :meth:`query`.
        read_csv_options: DuckDB ``read_csv`` options used by :meth:`query`.
        storage: where the file lives (default: the storage current when the artifact is made;
            the artifact keeps it, so it reads the same place wherever it is used later).
        source: set on an asset's result: the committed version's own file, which queries
            read (never ``path``, which another run may be replacing).
        version: set on an asset's result: the number of its committed version.
        shape: column types applied on read (an asset's reader options and detected text types).
        parts: every file of an appended dataset's version with its own column types (read
            together, by column name).

    >>> artifact = DataArtifact("out/people.parquet", [{"id": 1}])
    >>> await artifact.persist()
    True
    >>> (await artifact.query("SELECT count(*)")).fetchone()
    (1,)
    """

    def __init__(
        self,
        path: str,
        data: object | None = None,
        read_json_options: ReadJsonOptions | None = None,
        read_csv_options: ReadCSVOptions | None = None,
        *,
        columns: dict[str, str] | None = None,
        rows: int | None = None,
        asset: str | None = None,
        storage: FileStore | None = None,
        source: str | None = None,
        version: int | None = None,
        size: int | None = None,
        shape: Shape | None = None,
        parts: list[tuple[str, dict[str, str] | None]] | None = None,
        partition_types: dict[str, str] | None = None,
    ) -> None:
        self.path = path
        self.data = data
        self.read_json_options = read_json_options
        self.read_csv_options = read_csv_options
        self.filetype = check_filetype(path, asset=asset)
        self.storage: FileStore = storage if storage is not None else current_storage()
        #: The file queries read: the committed version's own (immutable) file, else ``path``.
        self.source = source or path
        #: The committed version this artifact is a result of, if any.
        self.version = version
        #: The file's size when committed: no CSV line it holds can be longer.
        self._size = size
        #: DuckDB column types recorded when madstream wrote the file (read JSON/CSV back exactly).
        self.columns = columns
        #: Rows written, when known (0 means the artifact is empty).
        self.rows = rows
        #: Types the original's reader options (and detected text types) give columns on read.
        self.shape = shape
        #: The files an appended dataset's version reads (all its parts), instead of ``source``.
        self.parts = parts
        #: A partitioned result's partition columns and their types (read from the folder names).
        self.partition_types = partition_types
        self._asset = asset

    def __repr__(self) -> str:
        return f"DataArtifact(path={self.path!r})"

    # -- writing -------------------------------------------------------------------------------
    async def persist(self) -> bool:
        """Write ``data`` to ``path`` (published only when complete); ``False`` if it had no rows."""
        stats = await persist_rows(self.storage, self.path, self.data, asset=self._asset or self.path)
        if stats is None:
            return False
        self.columns = stats.column_types
        self.rows = stats.rows
        return True

    async def exists(self) -> bool:
        """Whether the file exists on storage."""
        return await anyio.to_thread.run_sync(self.storage.exists_sync, self.source)

    async def versions(self) -> list[Version]:
        """The committed versions of the dataset at this artifact's path, oldest first."""
        dataset = Dataset(self.storage, self.path)
        return await anyio.to_thread.run_sync(dataset.history)

    # -- reading -------------------------------------------------------------------------------
    def _options(self) -> dict[str, Any] | None:
        options = self._reader_options()
        if self.partition_types:
            options = {**(options or {}), "hive_types": dict(self.partition_types)}
        return options

    def _file_columns(self, columns: dict[str, str] | None) -> dict[str, str] | None:
        """The types a reader applies to the files: not the partition columns (the path has them)."""
        if not columns or not self.partition_types:
            return columns
        return {k: v for k, v in columns.items() if k not in self.partition_types}

    def _reader_options(self) -> dict[str, Any] | None:
        if self.filetype == "json":
            return dict(self.read_json_options or {})
        if self.filetype == "csv":
            options: dict[str, Any] = dict(self.read_csv_options or {})
            if self._size is not None:
                # A value longer than DuckDB's default line limit (2 MB) still reads back.
                options.setdefault("max_line_size", max(_DUCKDB_LINE_LIMIT, self._size + 1))
            return options
        return None

    def source_sql(self) -> str:
        """The DuckDB table expression that reads this artifact."""
        if self.rows == 0:
            return EMPTY_SQL
        if self.parts and self.filetype == "csv" and self._parts_differ():
            scan = self._csv_parts_sql()
        else:
            files = [file for file, _ in self.parts] if self.parts else [self.source]
            scan = scan_sql(
                self.storage, files, self.filetype, self._options(), self._file_columns(self.columns), con=connection(),
                union_by_name=self._parts_differ(), hive_partitioning=bool(self.partition_types),
            )
        return scan if self.shape is None else shaped_sql(scan, self.shape, self.columns)

    def _parts_differ(self) -> bool:
        """Whether the parts' columns differ (then read by name). Reading by name opens every
        file at planning, so parts alike are read by position: a filter on a partition column
        then skips the other partitions' files unopened."""
        if not self.parts or len(self.parts) < 2:
            return False
        return len({repr(list((columns or {}).items())) for _, columns in self.parts}) > 1

    def _csv_parts_sql(self) -> str:
        """CSV parts whose columns differ: each group read with its own header's types, then
        unioned by name (a JSON or parquet reader takes every part in one call)."""
        assert self.parts is not None
        groups: dict[str, tuple[list[str], dict[str, str] | None]] = {}
        for file, columns in self.parts:
            key = repr(sorted((columns or {}).items()))
            groups.setdefault(key, ([], columns))[0].append(file)
        con = connection()
        hive = bool(self.partition_types)
        reads = [
            "SELECT * FROM " + scan_sql(
                self.storage, files, "csv", self._options(), self._file_columns(columns or self.columns), con=con,
                hive_partitioning=hive,
            )
            for files, columns in groups.values()
        ]
        return "(" + " UNION ALL BY NAME ".join(reads) + ")"

    async def query(self, query_str: str | None = None, params: Params = None) -> QueryResult:
        """``FROM <this file> {query_str}`` with ``params``.

        >>> await artifact.query("SELECT * WHERE amount > ?", [50])
        """
        if params is None and self._binds_quickly():
            return self._query_sync(query_str, params)
        return await anyio.to_thread.run_sync(self._query_sync, query_str, params)

    def _binds_quickly(self) -> bool:
        """Whether binding a query to this artifact takes about a millisecond, less than the hop
        to a worker thread (which was most of a small query's overhead): DuckDB, already
        imported, reads the footers of a few local parquet files, or JSON/CSV whose column types
        were recorded (nothing to detect). Remote files, many parts, a first query (it imports
        DuckDB) and queries with parameters (DuckDB 1.x runs those at once) bind in a worker
        thread."""
        return (
            self.storage.local_root is not None and len(self.parts or ()) <= _FEW_PARTS
            and (self.filetype == "parquet" or bool(self.columns)) and "duckdb" in sys.modules
        )

    def _query_sync(self, query_str: str | None, params: Params) -> QueryResult:
        try:
            return run_query(self.source_sql(), query_str, params, asset=self._asset, path=self.path, keep=self.storage)
        except QueryError:
            if self._is_empty():
                return run_query(EMPTY_SQL, query_str, params, asset=self._asset, path=self.path)
            if not self.storage.exists_sync(self.source):
                raise QueryError(
                    "the artifact does not exist", asset=self._asset, path=self.path,
                    hint="materialize the asset (await it) or persist the artifact first",
                ) from None
            raise

    def _is_empty(self) -> bool:
        storage = self.storage
        if not storage.exists_sync(self.source):
            return False
        if storage.size_sync(self.source) == 0:
            return True
        if self.filetype == "parquet":
            import pyarrow.parquet as pq

            with storage.open_sync(self.source, "rb") as fh:
                return len(pq.read_schema(fh).names) == 0
        return False

    async def stream(
        self, query_str: str | None = None, *, params: Params = None, batch_rows: int = STREAM_BATCH_ROWS
    ) -> AsyncIterator[Any]:
        """Polars frames over the query result, never all at once: each has exactly ``batch_rows``
        rows but the last, which has the rest.

        >>> async for frame in artifact.stream("WHERE amount > 50", batch_rows=100_000):
        ...     print(frame.height)
        """
        import polars as pl

        async for batch in self.stream_arrow(query_str, params=params, batch_rows=batch_rows):
            yield pl.from_arrow(batch)

    async def stream_arrow(
        self, query_str: str | None = None, *, params: Params = None, batch_rows: int = STREAM_BATCH_ROWS
    ) -> AsyncIterator[pa.RecordBatch]:
        """Arrow record batches over the query result: exactly ``batch_rows`` rows each but the last."""
        check_batch_rows(batch_rows, asset=self._asset, path=self.path)

        def opened() -> QueryResult | None:
            result = self._query_sync(query_str, params)
            return None if result.columns == ["_empty"] else result

        async for batch in stream_result(opened, batch_rows):
            yield batch

    def arrow_batches(self) -> AsyncIterator[pa.RecordBatch]:
        """Every row as Arrow batches, for an extract function that yields this artifact."""
        return self.stream_arrow()


def result_artifact(
    result: str, store: FileStore, version: Version, read_json_options: ReadJsonOptions | None,
    read_csv_options: ReadCSVOptions | None, *, detect_types: bool = True,
) -> DataArtifact:
    """The artifact of a committed version's first result (``result``, the seed's path): its own
    file, or every part of that type for an appended, merged or partitioned dataset."""
    if not version.results:  # an appended dataset whose runs added no rows yet
        return DataArtifact(result, None, read_json_options, read_csv_options, rows=0,
                            asset=version.asset_name, storage=store, version=version.version)
    first = version.results[0]
    path, parts = first.path, None
    if version.accumulates or version.partition_by:
        path = result
        ext = posixpath.splitext(path)[1]
        parts = [e for e in version.results if posixpath.splitext(e.path)[1] == ext]
    return DataArtifact(
        path, None, read_json_options, read_csv_options,
        columns=version.columns, rows=version.rows, asset=version.asset_name, storage=store,
        source=first.file, version=version.version,
        size=max(e.size for e in parts) if parts else first.size,
        shape=shape_of(version.fragment_type, read_json_options, read_csv_options,
                       version.text_types if detect_types else None),
        parts=[(e.file, e.columns) for e in parts] if parts else None,
        partition_types={c: version.columns.get(c, "VARCHAR") for c in version.partition_by} or None,
    )
