"""Query: DuckDB over committed files, returned as a :class:`QueryResult`.

``QueryResult`` keeps the DuckDB-relation usage the seed's users rely on working on DuckDB 1.5
and 2.x alike: ``fetchone``/``fetchmany`` stream rows from a cursor of their own (successive calls
continue), ``execute()`` (a cursor of its own), ``fetchall``, ``pl``, ``df``, ``arrow`` (a
``pyarrow.Table``), ``columns``, ``types``, ``description``, and relational methods, whose results
are wrapped again.

Confinement (why queries cannot leave the storage):

* A query runs on a *query connection* made for the storages it reads (:func:`query_connection`):
  ``enable_external_access`` is off, and ``allowed_directories`` holds only the local root of each
  local storage and the ``mad<n>://`` protocol of each remote one (its filesystem registered on
  that connection, refusing ``..`` so no path climbs out of the storage's root). So
  ``read_text('/etc/passwd')`` and ``COPY ... TO '/elsewhere'`` fail with a permission error.
  DuckDB refuses to change ``allowed_directories`` once external access is off, so these settings
  cannot be widened per query on one shared connection: each distinct set of storages gets a
  connection of its own (a handful are cached, as almost every process reads one storage; the
  cache keeps DuckDB's metadata and remote-file caches warm, which a connection per query would
  throw away, and costs nothing per query where a fresh connection costs ~20 ms).
* ``lock_configuration`` is on and Python replacement scans are off on those connections, and the
  query string is parsed before it runs: it must be ONE ``SELECT`` statement. ``; SET threads = 1``,
  ``; COPY ...``, ``; ATTACH ...``, ``; PRAGMA ...`` are rejected as a whole, never half-run (DuckDB
  itself runs every statement but the last eagerly). Each query runs on a fresh cursor, so
  connection-local state never reaches the next query either.
* Parameters are bound by DuckDB, never spliced into the SQL.
* Trusted code that needs queries to read other files sets ``MADSTREAM_QUERY_EXTERNAL_ACCESS=1``:
  query connections then have DuckDB's full file access (one statement, locked settings still).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import pyarrow as pa

from ..base.errors import QueryError
from ..base.types import STREAM_BATCH_ROWS, Params
from ..storage.store import FileStore
from .mad import StoreFileSystem, storage_protocol

if TYPE_CHECKING:
    import duckdb

# duckdb itself is imported by the first query: materializing never needs it (12 MiB of RSS).

__all__ = [
    "EXTERNAL_ACCESS_ENV", "QueryResult", "connection", "external_access", "iter_reader", "query_connection",
    "relation_reader", "run_query", "stream_relation",
]

_con: duckdb.DuckDBPyConnection | None = None
_con_lock = threading.Lock()
#: Rows fetched at a time when a result is iterated.
_FETCH_ROWS = 2_048
#: ``MADSTREAM_QUERY_EXTERNAL_ACCESS=1``: queries may read (and write) any file DuckDB can reach.
EXTERNAL_ACCESS_ENV = "MADSTREAM_QUERY_EXTERNAL_ACCESS"
#: Query connections kept for reuse, one per set of storages (most recently used last).
_QUERY_CONNECTIONS = 4
_query_cons: OrderedDict[tuple[Any, ...], duckdb.DuckDBPyConnection] = OrderedDict()


def connection() -> duckdb.DuckDBPyConnection:
    """madstream's own DuckDB connection (one per process; user settings never leak in).

    It plans scans: the ``mad<n>`` protocol of each remote storage is registered here (see
    :func:`~madstream.query.mad.storage_protocol`). It reads no file itself (external access
    off, settings locked); queries run on a :func:`query_connection` confined to the storages
    they read.
    """
    global _con
    if _con is None:
        with _con_lock:
            if _con is None:
                _con = _confined_connection([], {}, external=False)
    return _con


def external_access() -> bool:
    """Whether ``MADSTREAM_QUERY_EXTERNAL_ACCESS`` lets queries reach files outside the storage."""
    return os.environ.get(EXTERNAL_ACCESS_ENV, "").strip().lower() in ("1", "true", "yes", "on")


_CLIMBS_OUT = "`..` is not allowed"


class _ConfinedFileSystem(StoreFileSystem):
    """A storage's filesystem on a query connection: no path may climb out of the root."""

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        stripped = super()._strip_protocol(path)
        for part in stripped if isinstance(stripped, list) else [stripped]:
            if ".." in str(part).split("/"):
                raise PermissionError(f"`{path}`: {_CLIMBS_OUT} in a storage path")
        return stripped


def _stores(keep: object) -> list[FileStore]:
    """The storages a query reads: ``keep`` is one store, several, or ``None``."""
    if isinstance(keep, FileStore):
        return [keep]
    if isinstance(keep, Iterable) and not isinstance(keep, (str, bytes)):
        return list(dict.fromkeys(s for s in keep if isinstance(s, FileStore)))
    return []


def query_connection(stores: Iterable[FileStore]) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that reads only ``stores`` (see the module comment), locked.

    Local storages are reached by native path under their root; remote ones through their
    ``mad<n>://`` protocol, registered on this connection. With ``MADSTREAM_QUERY_EXTERNAL_ACCESS=1``
    DuckDB's file access is not restricted.
    """
    external = external_access()
    directories: set[str] = set()
    remote: dict[str, FileStore] = {}
    for store in stores:
        root = store.local_root
        if root is not None:
            directories.update({root, os.path.abspath(root), os.path.realpath(root)})
        else:
            remote[storage_protocol(connection(), store)] = store
    key = (external, frozenset(directories), frozenset(remote))
    with _con_lock:
        con = _query_cons.get(key)
        if con is not None:
            _query_cons.move_to_end(key)
            return con
    con = _confined_connection(sorted(directories), remote, external=external)
    with _con_lock:
        con = _query_cons.setdefault(key, con)
        _query_cons.move_to_end(key)
        while len(_query_cons) > _QUERY_CONNECTIONS:
            _query_cons.popitem(last=False)  # results still using it keep it alive
    return con


def _confined_connection(
    directories: list[str], remote: dict[str, FileStore], *, external: bool,
) -> duckdb.DuckDBPyConnection:
    import duckdb

    con = duckdb.connect()
    for protocol, store in remote.items():
        cls = type(f"QueryFileSystem_{protocol}", (_ConfinedFileSystem,), {"protocol": protocol})
        fs = cls(store, weak=True)  # the result holds the store while it can still run
        fs.storage_args = ()  # fsspec keeps the constructor's args: a strong ref to the store
        con.register_filesystem(fs)
    # Replacement scans would let a query read Python variables of the calling frame.
    con.execute("SET python_enable_replacements = false")
    if not external:
        # Set before external access goes off: DuckDB refuses to change them afterwards.
        con.execute("SET allowed_directories = $dirs", {"dirs": [*directories, *(f"{p}://" for p in remote)]})
        con.execute("SET allowed_paths = $paths", {"paths": []})
        con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


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
        """
        if not self._direct:
            return self._run()
        # DuckDB 1.x with params: the rows are held already; a relation of its own over them
        # streams independently of this result's own fetches.
        rel: Any = self._relation.project("*")
        rel.execute()
        return rel

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
        cursor = self._con.cursor()
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
        base = query_connection(_stores(keep))
        # A cursor per query: relations may be fetched from worker threads concurrently, and
        # nothing a query leaves on its cursor reaches the next one.
        con = base.cursor()
        _check_single_select(con, sql, asset=asset, path=path)
        direct = params is not None and duckdb.__version__.startswith("1.")
        if direct:
            # DuckDB 1.x runs a parameterized sql() eagerly without releasing the GIL, which
            # deadlocks a Python filesystem (mad://) that needs it; execute() releases it.
            rel = con.from_arrow(_table(con.execute(sql, params)))
        else:
            rel = con.sql(sql, params=params) if params is not None else con.sql(sql)
    except duckdb.Error as exc:
        if not isinstance(exc, duckdb.PermissionException) and _CLIMBS_OUT not in str(exc):
            raise QueryError(
                f"DuckDB rejected the query `{query_str or ''}`: {exc}", asset=asset, path=path, hint=hint,
            ) from exc
        # A storage path with `..` fails in the filesystem: its message carries a Python traceback.
        reason = exc if isinstance(exc, duckdb.PermissionException) else f"{_CLIMBS_OUT} in a storage path"
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


def _check_single_select(con: duckdb.DuckDBPyConnection, sql: str, *, asset: str | None, path: str | None) -> None:
    """Refuse SQL that is not exactly one SELECT statement, before any of it runs.

    DuckDB's own parser splits the statements, so a `;` inside a string literal or a comment is
    not mistaken for one. The message never echoes the query (nor any row).
    """
    statements = con.extract_statements(sql)
    if len(statements) != 1:
        raise QueryError(
            f"a query must be one statement; this one has {len(statements)} (a `;` ends the first)",
            asset=asset,
            path=path,
            hint="drop the `;` and what follows it: queries only read (SET, COPY, ATTACH, ... are not allowed)",
        )
    kind = statements[0].type
    name = getattr(kind, "name", str(kind))
    if name != "SELECT":
        raise QueryError(
            f"a query must be a SELECT statement, not {name}", asset=asset, path=path,
            hint="the query is appended to `FROM <result>` and only reads rows",
        )


async def stream_relation(result: QueryResult, batch_rows: int) -> AsyncIterator[pa.RecordBatch]:
    """Arrow batches of at most ``batch_rows`` rows, pulled in a worker thread one at a time."""
    reader = await anyio.to_thread.run_sync(result.to_arrow_reader, batch_rows)
    async for batch in iter_reader(reader):
        yield batch
