"""Confinement: why queries cannot leave the storage.

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
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..base.errors import QueryError
from ..storage.store import FileStore
from .mad import StoreFileSystem, register_store, storage_protocol

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "CLIMBS_OUT", "EXTERNAL_ACCESS_ENV", "check_single_select", "connection", "duckdb_message", "external_access",
    "query_connection", "stores_of",
]

_con: duckdb.DuckDBPyConnection | None = None
_con_lock = threading.Lock()
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


CLIMBS_OUT = "`..` is not allowed"


class _ConfinedFileSystem(StoreFileSystem):
    """A storage's filesystem on a query connection: no path may climb out of the root."""

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        stripped = super()._strip_protocol(path)
        for part in stripped if isinstance(stripped, list) else [stripped]:
            if ".." in str(part).split("/"):
                raise PermissionError(f"`{path}`: {CLIMBS_OUT} in a storage path")
        return stripped


def stores_of(keep: object) -> list[FileStore]:
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
        register_store(con, protocol, store, _ConfinedFileSystem)  # the result holds the store while it can still run
    # Replacement scans would let a query read Python variables of the calling frame.
    con.execute("SET python_enable_replacements = false")
    if not external:
        # Set before external access goes off: DuckDB refuses to change them afterwards.
        con.execute("SET allowed_directories = $dirs", {"dirs": [*directories, *(f"{p}://" for p in remote)]})
        con.execute("SET allowed_paths = $paths", {"paths": []})
        con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


#: SQL texts already found to be one SELECT: a dashboard or a stream repeats the same query, and
#: parsing it again (~0.1-0.3 ms, the query names its files) was a tenth of a small query's cost.
#: Bounded in count and in text length (a long IN list is parsed each time), so at most ~4 MiB.
_SELECTS_KEPT = 128
_SELECT_CHARS_KEPT = 32_768
_selects: OrderedDict[str, None] = OrderedDict()


def check_single_select(con: duckdb.DuckDBPyConnection, sql: str, *, asset: str | None, path: str | None) -> None:
    """Refuse SQL that is not exactly one SELECT statement, before any of it runs.

    DuckDB's own parser splits the statements, so a `;` inside a string literal or a comment is
    not mistaken for one. The message never echoes the query (nor any row). Only verdicts that
    let a query through are remembered; a refused text is parsed again each time.
    """
    with _con_lock:
        if sql in _selects:
            _selects.move_to_end(sql)
            return
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
    if len(sql) > _SELECT_CHARS_KEPT:
        return
    with _con_lock:
        _selects[sql] = None
        while len(_selects) > _SELECTS_KEPT:
            _selects.popitem(last=False)




#: Longest part of a DuckDB message madstream repeats: enough for any binder or parser error.
_MESSAGE_CHARS = 400


#: DuckDB errors about the query itself: what they quote is the user's SQL, not row data.
_ABOUT_THE_QUERY = frozenset({"BinderException", "ParserException", "CatalogException", "PermissionException"})
_QUOTED = re.compile(r"'(?:[^']|'')*'")


def duckdb_message(exc: BaseException) -> str:
    """DuckDB's message without the rows it may quote (a CSV error prints the offending line, a
    conversion error the value): values in quotes are dropped unless the error is about the SQL."""
    text = str(exc)
    if type(exc).__name__ not in _ABOUT_THE_QUERY:
        text = _QUOTED.sub("'…'", text)
    lines = [line for line in text.splitlines() if line.strip()]
    kept = []
    for line in lines:
        if line.lstrip().startswith(("Original Line", "Possible Solution", "LINE ")):
            break
        kept.append(line.strip())
    text = " ".join(kept) or type(exc).__name__
    return text if len(text) <= _MESSAGE_CHARS else text[: _MESSAGE_CHARS - 1] + "…"
