"""Query: DuckDB over committed files, returned as a :class:`QueryResult`.

``QueryResult`` keeps the DuckDB-relation usage the seed's users rely on working on DuckDB 1.5
and 2.x alike: ``fetchone``/``fetchmany`` stream rows from a cursor of their own (successive calls
continue), ``execute()`` (a cursor of its own), ``fetchall``, ``pl``, ``df``, ``arrow`` (a
``pyarrow.Table``), ``columns``, ``types``, ``description``, and relational methods, whose results
are wrapped again.

Queries run confined to the storages they read (see :mod:`.confine`).
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import anyio.to_thread
import pyarrow as pa

from ..base.errors import QueryError
from ..base.types import STREAM_BATCH_ROWS, Params
from .confine import CLIMBS_OUT, EXTERNAL_ACCESS_ENV, check_single_select, connection, duckdb_message, query_connection, stores_of
from .rechunk import check_batch_rows, exact_batches

if TYPE_CHECKING:
    import duckdb

# duckdb itself is imported by the first query: materializing never needs it (12 MiB of RSS).

__all__ = ["QueryResult", "connection", "iter_reader", "relation_reader", "run_query", "stream_relation", "stream_result"]

#: Rows fetched at a time when a result is iterated.
_FETCH_ROWS = 2_048


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
    except Exception as exc:
        error = _failed(exc, streamed=True)
        if error is exc:
            raise
        raise error from exc


def _duckdb_batches(reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
    """The batches of DuckDB's ``reader``, its errors as QueryErrors."""
    while (batch := _next_batch(reader)) is not None:
        yield batch


def _failed(exc: BaseException, *, streamed: bool = False) -> BaseException:
    """A DuckDB error raised while rows are fetched, as a QueryError without row data.

    ``streamed``: ``exc`` came out of a record batch reader, across whose Arrow C stream DuckDB's
    errors arrive as plain ``OSError``s (with the offending value in the message).
    """
    ours = type(exc).__module__.startswith(("duckdb", "_duckdb")) or isinstance(exc, pa.ArrowException)
    if not ours and not (streamed and isinstance(exc, OSError)):
        return exc
    return QueryError(
        f"DuckDB failed while reading the result: {duckdb_message(exc)}",
        hint="check the query's casts and the data's types (the values are not repeated here)",
    )


T = TypeVar("T")


def _translated(method: Callable[..., T]) -> Callable[..., T]:
    """``method`` with DuckDB's errors (raised lazily, when rows are fetched) as QueryErrors."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return method(*args, **kwargs)
        except Exception as exc:
            error = _failed(exc)
            if error is exc:
                raise
            raise error from exc

    return wrapper


async def iter_reader(reader: pa.RecordBatchReader) -> AsyncIterator[pa.RecordBatch]:
    """The non-empty batches of ``reader``, each read in a worker thread."""
    while (batch := await anyio.to_thread.run_sync(_next_batch, reader)) is not None:
        if batch.num_rows:
            yield batch


def _exact_reader(rel: duckdb.DuckDBPyRelation, rows: int) -> pa.RecordBatchReader:
    """A streaming reader over ``rel`` whose batches have exactly ``rows`` rows, but the last."""
    reader = relation_reader(rel, rows)
    return pa.RecordBatchReader.from_batches(reader.schema, exact_batches(_duckdb_batches(reader), rows))


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
        con: duckdb.DuckDBPyConnection | None = None,
    ) -> None:
        self._relation = relation
        # What the SQL reads through (a storage): kept alive while the result can still run.
        self._keep = keep
        # The (confined) connection the relation belongs to: re-runs and streams use its cursors.
        self._con = con if con is not None else connection()
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
            if not self._direct:
                # Closed, never just dropped: DuckDB 1.5 tears a dropped cursor down in the wrong
                # order (its connection with the GIL released, then its still-open stream with
                # the GIL held), and that stream, last owner of the query, waits for DuckDB's
                # scan threads, which need the GIL to close their mad:// files: a deadlock.
                # close() drops the stream first and waits for the scan threads GIL-free.
                weakref.finalize(self, self._rows.close)
        return self._rows

    def _execute(self) -> Any:
        if self._direct:
            return self._relation
        return self._run()

    def _run(self) -> Any:
        cursor = self._con.cursor()
        sql = self._sql or self._relation.sql_query()
        return cursor.execute(sql, self._params) if self._params is not None else cursor.execute(sql)

    def execute(self) -> Any:
        """Run the query on a cursor of its own and return that cursor.

        Its ``fetchone``/``fetchmany``/``fetchall`` continue where the previous call stopped
        (DuckDB 2 relations no longer have ``execute()``; this works on 1.5 and 2.x alike)::

            cursor = result.execute()
            while rows := cursor.fetchmany(1_000):
                ...
            cursor.close()   # on DuckDB 1.5, a half-read cursor over remote storage must be closed
        """
        if not self._direct:
            return self._run()
        # DuckDB 1.x with params: the rows are held already; a relation of its own over them
        # streams independently of this result's own fetches.
        rel: Any = self._relation.project("*")
        rel.execute()
        return rel

    @_translated
    def fetchone(self) -> tuple[Any, ...] | None:
        """The next row, or ``None`` when all rows have been fetched."""
        return self._cursor().fetchone()

    @_translated
    def fetchmany(self, size: int = 1) -> list[tuple[Any, ...]]:
        """Up to ``size`` next rows; continues where the previous fetch stopped."""
        return self._cursor().fetchmany(size)

    @_translated
    def fetchall(self) -> list[tuple[Any, ...]]:
        """Every remaining row (all rows if nothing was fetched yet)."""
        if self._rows is None:
            return self._relation.fetchall()
        return self._rows.fetchall()

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        cursor = self._execute()
        try:
            while rows := cursor.fetchmany(_FETCH_ROWS):
                yield from rows
        finally:
            if not self._direct:
                cursor.close()  # a half-read iteration too (see _cursor)

    # -- whole results -------------------------------------------------------------------------
    @_translated
    def arrow(self) -> pa.Table:
        """The whole result as a ``pyarrow.Table``."""
        return _table(self._relation)

    @_translated
    def own_reader(self, batch_rows: int) -> pa.RecordBatchReader:
        """Like :meth:`to_arrow_reader`, but streaming on the result's own cursor, with no second
        bind of its SQL: only for a result no one else holds (see :func:`stream_result`)."""
        return _exact_reader(self._relation, batch_rows)

    @_translated
    def to_arrow_reader(self, batch_rows: int = STREAM_BATCH_ROWS) -> pa.RecordBatchReader:
        """The result as a streaming ``pyarrow.RecordBatchReader``.

        Every batch but the last has exactly ``batch_rows`` rows (DuckDB alone would hand over
        a parquet row group at a time; see :mod:`.rechunk`). The stream runs on a cursor of its
        own: DuckDB 2 allows one open streaming result per connection, and a half-read stream
        must not block other queries on this result.
        """
        check_batch_rows(batch_rows)
        if self._direct:
            return _exact_reader(self._relation, batch_rows)
        sql = self._sql or self._relation.sql_query()
        cursor = self._con.cursor()
        rel = cursor.sql(sql, params=self._params) if self._params is not None else cursor.sql(sql)
        return _exact_reader(rel, batch_rows)

    @_translated
    def pl(self) -> Any:
        """The whole result as a ``polars.DataFrame``."""
        return self._relation.pl()

    @_translated
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
                return QueryResult(out, self._params, direct=self._direct, keep=self._keep, con=self._con)
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
    """``FROM <source_sql> {query_str}`` on a connection confined to the storages in ``keep``.

    ``keep`` (a store, or several) is held by the result and results derived from it: the
    storages its SQL reads. ``query_str`` must add up to one SELECT statement (see the module
    comment); ``params`` are bound by DuckDB.
    """
    import duckdb

    sql = f"FROM {source_sql} {query_str or ''}".rstrip()
    hint = "the query is appended to `FROM <result>`: start it with SELECT, WHERE, GROUP BY, ORDER BY or LIMIT"
    try:
        base = query_connection(stores_of(keep))
        # A cursor per query: relations may be fetched from worker threads concurrently, and
        # nothing a query leaves on its cursor reaches the next one.
        con = base.cursor()
        check_single_select(con, sql, asset=asset, path=path)
        direct = params is not None and duckdb.__version__.startswith("1.")
        if direct:
            # DuckDB 1.x runs a parameterized sql() eagerly without releasing the GIL, which
            # deadlocks a Python filesystem (mad://) that needs it; execute() releases it.
            rel = con.from_arrow(_table(con.execute(sql, params)))
        else:
            rel = con.sql(sql, params=params) if params is not None else con.sql(sql)
    except duckdb.Error as exc:
        if not isinstance(exc, duckdb.PermissionException) and CLIMBS_OUT not in str(exc):
            raise QueryError(
                f"DuckDB rejected the query `{query_str or ''}`: {duckdb_message(exc)}", asset=asset, path=path, hint=hint,
            ) from exc
        # A storage path with `..` fails in the filesystem: its message carries a Python traceback.
        reason = duckdb_message(exc) if isinstance(exc, duckdb.PermissionException) else f"{CLIMBS_OUT} in a storage path"
        raise QueryError(
            f"the query `{query_str or ''}` reaches outside the storage: {reason}",
            asset=asset,
            path=path,
            hint=f"queries read only the storage they query; trusted code may set {EXTERNAL_ACCESS_ENV}=1 "
            "to let them read other files",
        ) from exc
    if rel is None:
        raise QueryError(
            f"the query `{query_str}` returned no relation", asset=asset, path=path,
            hint="use a query that produces rows (SELECT ...)",
        )
    return QueryResult(rel, params, sql, direct=direct, keep=keep, con=base)


async def stream_result(
    open_result: Callable[[], QueryResult | None], batch_rows: int,
) -> AsyncIterator[pa.RecordBatch]:
    """The batches of a query result made for this stream alone: the query, its reader and the
    first batch in one worker-thread hop (a small result's whole cost is otherwise the hops and
    a second bind), then one hop per batch; a short batch is the last (the reader re-chunks to
    ``batch_rows``), so a result of one batch takes one hop. ``open_result`` returns ``None``
    for no rows."""

    def first() -> tuple[QueryResult | None, pa.RecordBatchReader | None, pa.RecordBatch | None]:
        result = open_result()
        if result is None:
            return None, None, None
        reader = result.own_reader(batch_rows)
        return result, reader, _next_batch(reader)

    result, reader, batch = await anyio.to_thread.run_sync(first)
    while batch is not None and reader is not None:
        if batch.num_rows:
            yield batch
        if batch.num_rows < batch_rows:  # only the last batch is short: no hop to learn the end
            break
        batch = await anyio.to_thread.run_sync(_next_batch, reader)
    del result  # held until the stream ends: its cursor and storages serve the reader


async def stream_relation(result: QueryResult, batch_rows: int) -> AsyncIterator[pa.RecordBatch]:
    """Arrow batches of exactly ``batch_rows`` rows (the last may have fewer), pulled in a worker
    thread one at a time."""
    reader = await anyio.to_thread.run_sync(result.to_arrow_reader, batch_rows)
    async for batch in iter_reader(reader):
        yield batch
