"""``DataArtifactCollector`` (one artifact per batch) and ``DataArtifactQuery`` (many as one)."""

from __future__ import annotations

import posixpath
from collections.abc import Sequence

import anyio.to_thread
import pyarrow as pa

from ._artifact import DataArtifact
from ._commit import Transaction
from ._encode import duckdb_types
from ._options import ReadCSVOptions, ReadJsonOptions
from ._pipeline import pump
from ._query import QueryResult, connection, run_query
from ._scan import EMPTY_SQL, scan_sql
from ._sinks import encode, write_fragment
from ._storage import current_storage
from ._types import ARTIFACT_FILE_TYPES, Encoded, Params
from ._write import fragment_name

__all__ = ["DataArtifactCollector", "DataArtifactQuery"]


class DataArtifactCollector:
    """Writes one artifact per non-empty batch of ``collector`` under ``dir``.

    >>> artifacts = await DataArtifactCollector(fetch_pages(), "raw/pages", "parquet").collect()
    """

    def __init__(
        self,
        collector: object,
        dir: str,
        filetype: ARTIFACT_FILE_TYPES = "json",
        artifacts: list[DataArtifact] | None = None,
        read_json_options: ReadJsonOptions | None = None,
        read_csv_options: ReadCSVOptions | None = None,
    ) -> None:
        self.collector = collector
        self.dir = dir
        self.filetype = filetype
        self.artifacts = artifacts if artifacts is not None else []
        self.read_json_options = read_json_options
        self.read_csv_options = read_csv_options

    async def collect(self) -> list[DataArtifact]:
        """Persist every batch; returns the artifacts (also appended to ``self.artifacts``)."""
        storage = current_storage()
        txn = Transaction(storage)
        written: list[DataArtifact] = []

        def write(batch: pa.RecordBatch, json: Encoded | None = None) -> None:
            name = fragment_name(len(self.artifacts) + len(written) + 1, self.filetype)
            temp = txn.stage_in(self.dir, name)
            write_fragment(storage, temp, batch, self.filetype, json or encode(batch, self.filetype))
            written.append(
                DataArtifact(
                    posixpath.join(self.dir, name), None, self.read_json_options, self.read_csv_options,
                    columns=duckdb_types(batch.schema), rows=batch.num_rows,
                )
            )

        try:
            await pump(self.collector, write, asset=self.dir, path=self.dir, json_lines=self.filetype == "json")
            await anyio.to_thread.run_sync(txn.commit)
        except BaseException:
            txn.discard()
            raise
        self.artifacts.extend(written)
        return written


class DataArtifactQuery:
    """Queries many artifacts as one table: unioned by column name, with hive partitioning.

    >>> await DataArtifactQuery(artifacts).query("SELECT count(*)")
    """

    def __init__(
        self,
        artifacts: Sequence[DataArtifact] | None = None,
        read_json_options: ReadJsonOptions | None = None,
        read_csv_options: ReadCSVOptions | None = None,
    ) -> None:
        self.artifacts = list(artifacts or [])
        self.read_json_options = read_json_options
        self.read_csv_options = read_csv_options

    def source_sql(self) -> str:
        """A DuckDB table expression over every non-empty artifact."""
        live = [a for a in self.artifacts if a.rows != 0]
        if not live:
            return EMPTY_SQL
        storage = current_storage()
        con = connection()
        scans = []
        for filetype in dict.fromkeys(a.filetype for a in live):
            group = [a for a in live if a.filetype == filetype]
            options = self.read_json_options if filetype == "json" else self.read_csv_options if filetype == "csv" else None
            columns: dict[str, str] | None = None
            if all(a.columns for a in group):
                columns = {}
                for a in group:
                    for k, v in (a.columns or {}).items():
                        if columns.setdefault(k, v) != v:
                            columns = None  # types disagree: let DuckDB detect them
                            break
                    if columns is None:
                        break
            sql = scan_sql(
                storage, [a.path for a in group], filetype, dict(options or {}), columns,
                con=con, hive_partitioning=True, union_by_name=True,
            )
            scans.append(f"SELECT * FROM {sql}")
        return "(" + " UNION ALL BY NAME ".join(scans) + ")"

    async def query(self, query_str: str | None = None, params: Params = None) -> QueryResult:
        """``FROM <all artifacts> {query_str}`` with ``params``."""
        return await anyio.to_thread.run_sync(
            lambda: run_query(self.source_sql(), query_str, params, asset=None, path=None)
        )
