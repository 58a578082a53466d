"""Query: DuckDB over committed files, returned as a :class:`QueryResult`.

``QueryResult`` keeps the DuckDB-relation usage the seed's users rely on working on DuckDB 1.5
and 2.x alike: ``fetchone``/``fetchmany`` stream rows from a cursor of their own (successive calls
continue), ``fetchall``, ``pl``, ``df``, ``arrow`` (a ``pyarrow.Table``), ``columns``,
``types``, ``description``, and relational methods, whose results are wrapped again.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import pyarrow as pa

from ..base.errors import QueryError
from ..base.types import STREAM_BATCH_ROWS, Params

if TYPE_CHECKING:
    import duckdb

# duckdb itself is imported by the first query: materializing never needs it (12 MiB of RSS).

__all__ = ["QueryResult", "connection", "iter_reader", "relation_reader", "run_query", "stream_relation"]

_con: duckdb.DuckDBPyConnection | None = None
_con_lock = threading.Lock()
#: Rows fetched at a time when a result is iterated.
_FETCH_ROWS = 2_048


def connection() -> duckdb.DuckDBPyConnection:
    """madstream's own DuckDB connection (one per process; user settings never leak in)."""
    global _con
    if _con is None:
        with _con_lock:
            if _con is None:
                import duckdb

                _con = duckdb.connect()
    return _con


def relation_reader(rel: duckdb.DuckDBPyRelation, rows: int) -> pa.RecordBatchReader:
    """A streaming Arrow reader over ``rel`` (``to_arrow_reader`` on DuckDB 2, older name on 1.x)."""
    to_reader = getattr(rel, "to_arrow_reader", None) or rel.fetch_record_batch
    return to_reader(rows)


def _next_batch(reader: pa.RecordBatchReader) -> pa.RecordBatch | None:
    # StopIteration cannot cross a thread hand-off into a coroutine; turn it into None.
    try:
        return reader.read_next_batch()
    except StopIteration:
        return None


async def iter_reader(reader: pa.RecordBatchReader) -> AsyncIterator[pa.RecordBatch]:
    """The non-empty batches of ``reader``, each read in a worker thread."""
    while (batch := await anyio.to_thread.run_sync(_next_batch, reader)) is not None:
        if batch.num_rows:
            yield batch

def _table(rel: Any) -> pa.Table:
    to_table = getattr(rel, "to_arrow_table", None) or rel.fetch_arrow_table
    return to_table()


class QueryResult:
    """The result of ``query()``: a DuckDB relation with the seed's fetch methods on every DuckDB.

    >>> result = await orders.query("SELECT city, count(*) GROUP BY ALL")
    >>> result.fetchone()
    ('Perth', 1204)
    >>> result.pl()  # a polars.DataFrame
    """

    def __init__(
        self,
        relation: duckdb.DuckDBPyRelation,
        params: Params = None,
        sql: str | None = None,
        *,
        direct: bool = False,
        keep: object = None,
    ) -> None:
        self._relation = relation
        # What the SQL reads through (a storage): kept alive while the result can still run.
        self._keep = keep
        # DuckDB 1.x, parameterized: the relation holds its rows already and streams them itself.
        self._direct = direct
        self._params = params
        # The SQL that made the relation, run again on a fresh cursor to stream it (chained
        # relations use their own sql_query()).
        self._sql = sql
        self._rows: Any = None

    @property
    def relation(self) -> duckdb.DuckDBPyRelation:
        """The underlying DuckDB relation."""
        return self._relation

    # -- row fetching, streamed --------------------------------------------------------------
    def _cursor(self) -> Any:
        # A cursor of its own runs the query once and streams rows from it: successive
        # fetchone/fetchmany calls continue, and values convert exactly as DuckDB's own fetches
        # (HUGEINT sums stay ints), on DuckDB 1.5 and 2.x alike.
        if self._rows is None:
            self._rows = self._execute()
        return self._rows

    def _execute(self) -> Any:
        if self._direct:
            return self._relation
        cursor = connection().cursor()
        sql = self._sql or self._relation.sql_query()
        return cursor.execute(sql, self._params) if self._params is not None else cursor.execute(sql)

    def fetchone(self) -> tuple[Any, ...] | None:
        """The next row, or ``None`` when all rows have been fetched."""
        return self._cursor().fetchone()

    def fetchmany(self, size: int = 1) -> list[tuple[Any, ...]]:
        """Up to ``size`` next rows; continues where the previous fetch stopped."""
        return self._cursor().fetchmany(size)

    def fetchall(self) -> list[tuple[Any, ...]]:
        """Every remaining row (all rows if nothing was fetched yet)."""
        if self._rows is None:
            return self._relation.fetchall()
        return self._rows.fetchall()

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        cursor = self._execute()
        while rows := cursor.fetchmany(_FETCH_ROWS):
            yield from rows

    # -- whole results -------------------------------------------------------------------------
    def arrow(self) -> pa.Table:
        """The whole result as a ``pyarrow.Table``."""
        return _table(self._relation)

    def to_arrow_reader(self, batch_rows: int = STREAM_BATCH_ROWS) -> pa.RecordBatchReader:
        """The result as a streaming ``pyarrow.RecordBatchReader``.

        The stream runs on a cursor of its own: DuckDB 2 allows one open streaming result per
        connection, and a half-read stream must not block other queries on this result.
        """
        if self._direct:
            return relation_reader(self._relation, batch_rows)
        sql = self._sql or self._relation.sql_query()
        cursor = connection().cursor()
        rel = cursor.sql(sql, params=self._params) if self._params is not None else cursor.sql(sql)
        return relation_reader(rel, batch_rows)

    def pl(self) -> Any:
        """The whole result as a ``polars.DataFrame``."""
        return self._relation.pl()

    def df(self) -> Any:
        """The whole result as a ``pandas.DataFrame``."""
        return self._relation.df()

    @property
    def columns(self) -> list[str]:
        return list(self._relation.columns)

    @property
    def types(self) -> list[Any]:
        return list(self._relation.types)

    @property
    def description(self) -> Any:
        return self._relation.description

    @property
    def shape(self) -> tuple[int, int]:
        return self._relation.shape

    def __len__(self) -> int:
        return self.shape[0]

    def __getattr__(self, name: str) -> Any:
        # Relational methods (filter, aggregate, order, limit, ...) come from the relation; a
        # relation they return is wrapped so the fetch methods keep working down the chain.
        attr = getattr(self._relation, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            out = attr(*args, **kwargs)
            if isinstance(out, type(self._relation)):
                return QueryResult(out, self._params, direct=self._direct, keep=self._keep)
            return out

        return call

    def __repr__(self) -> str:
        return repr(self._relation)

    async def arrow_batches(self) -> AsyncIterator[pa.RecordBatch]:
        """The result's rows as Arrow batches, for an extract function that yields this result."""
        async for batch in stream_relation(self, STREAM_BATCH_ROWS):
            yield batch


def run_query(
    source_sql: str, query_str: str | None, params: Params, *, asset: str | None, path: str | None, keep: object = None,
) -> QueryResult:
    """``FROM <source_sql> {query_str}`` on madstream's connection, with ``params``.

    ``keep`` is held by the result (and results derived from it): the storage its SQL reads.
    """
    sql = f"FROM {source_sql} {query_str or ''}".rstrip()
    # A cursor per query: relations may be fetched from worker threads concurrently.
    con = connection().cursor()
    import duckdb

    direct = params is not None and duckdb.__version__.startswith("1.")
    try:
        if direct:
            # DuckDB 1.x runs a parameterized sql() eagerly without releasing the GIL, which
            # deadlocks a Python filesystem (mad://) that needs it; execute() releases it.
            rel = con.from_arrow(_table(con.execute(sql, params)))
        else:
            rel = con.sql(sql, params=params) if params is not None else con.sql(sql)
    except duckdb.Error as exc:
        raise QueryError(
            f"DuckDB rejected the query `{query_str or ''}`: {exc}",
            asset=asset,
            path=path,
            hint="the query is appended to `FROM <result>`: start it with SELECT, WHERE, GROUP BY, ORDER BY or LIMIT",
        ) from exc
    if rel is None:
        raise QueryError(
            f"the query `{query_str}` returned no relation", asset=asset, path=path,
            hint="use a query that produces rows (SELECT ...)",
        )
    return QueryResult(rel, params, sql, direct=direct, keep=keep)


async def stream_relation(result: QueryResult, batch_rows: int) -> AsyncIterator[pa.RecordBatch]:
    """Arrow batches of at most ``batch_rows`` rows, pulled in a worker thread one at a time."""
    reader = await anyio.to_thread.run_sync(result.to_arrow_reader, batch_rows)
    async for batch in iter_reader(reader):
        yield batch
