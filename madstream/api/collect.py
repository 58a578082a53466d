"""``DataArtifactCollector`` (one artifact per batch) and ``DataArtifactQuery`` (many as one)."""

from __future__ import annotations

from collections.abc import Sequence

import anyio.to_thread

from ..base.types import ARTIFACT_FILE_TYPES, Params
from ..query.options import ReadCSVOptions, ReadJsonOptions
from ..query.result import QueryResult, connection, run_query
from ..query.scan import EMPTY_SQL, scan_sql
from ..run.persist import persist_batches
from ..write.typenames import duckdb_types
from .artifact import DataArtifact
from .config import current_storage

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
        files = await persist_batches(storage, self.dir, self.collector, self.filetype, first=len(self.artifacts) + 1)
        written = [
            DataArtifact(
                path, None, self.read_json_options, self.read_csv_options,
                columns=duckdb_types(schema), rows=rows, storage=storage,
            )
            for path, schema, rows in files
        ]
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
        con = connection()
        scans = []
        # One scan per storage and file type, unioned by column name.
        for store, filetype in dict.fromkeys((a.storage, a.filetype) for a in live):
            group = [a for a in live if a.storage is store and a.filetype == filetype]
            options = self.read_json_options if filetype == "json" else self.read_csv_options if filetype == "csv" else None
            sql = scan_sql(
                store, [a.path for a in group], filetype, dict(options or {}), _shared_columns(group),
                con=con, hive_partitioning=True, union_by_name=True,
            )
            scans.append(f"SELECT * FROM {sql}")
        return "(" + " UNION ALL BY NAME ".join(scans) + ")"

    async def query(self, query_str: str | None = None, params: Params = None) -> QueryResult:
        """``FROM <all artifacts> {query_str}`` with ``params``."""
        keep = [a.storage for a in self.artifacts]
        return await anyio.to_thread.run_sync(
            lambda: run_query(self.source_sql(), query_str, params, asset=None, path=None, keep=keep)
        )


def _shared_columns(group: Sequence[DataArtifact]) -> dict[str, str] | None:
    """The recorded column types of every artifact in ``group``, or ``None`` where any is unknown or they disagree."""
    columns: dict[str, str] = {}
    for artifact in group:
        if not artifact.columns:
            return None
        for name, kind in artifact.columns.items():
            if columns.setdefault(name, kind) != kind:
                return None  # types disagree: let DuckDB detect them
    return columns
