"""Scan: the DuckDB table-function SQL that reads committed files of an asset or artifact.

Local files are read by native path (DuckDB's own readers, with projection and filter
pushdown); anything else through a ``mad``-protocol filesystem for that storage, registered on
the connection (one protocol per storage, see :func:`storage_protocol`).
JSON and CSV written by madstream are read with the column types recorded when they were
written, so timestamps, decimals, UUIDs and nested values come back as they went in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..storage.paths import clean
from ..storage.store import FileStore
from .mad import storage_protocol
from .options import sql_arguments, sql_literal

__all__ = ["EMPTY_SQL", "scan_sql"]

if TYPE_CHECKING:
    import duckdb

#: A relation with no rows, standing in for an asset that produced nothing.
EMPTY_SQL = "(SELECT NULL AS _empty WHERE false)"

_READERS = {"parquet": "read_parquet", "json": "read_json", "csv": "read_csv"}


def location(store: FileStore, path: str, con: duckdb.DuckDBPyConnection) -> str:
    """What DuckDB should open for the storage-relative ``path``."""
    native = store.native(path)
    if native is not None:
        return native
    return f"{storage_protocol(con, store)}://{clean(path)}"


def scan_sql(
    store: FileStore,
    paths: Sequence[str],
    filetype: str,
    options: Mapping[str, Any] | None,
    column_types: Mapping[str, str] | None,
    *,
    con: duckdb.DuckDBPyConnection,
    hive_partitioning: bool = False,
    union_by_name: bool = False,
) -> str:
    """``read_<filetype>([...], ...)`` over ``paths`` with the reader options merged in."""
    if filetype not in _READERS:
        raise ValueError(f"unsupported file type `{filetype}`")
    locs = [location(store, p, con) for p in paths]
    opts: dict[str, Any] = {"hive_partitioning": hive_partitioning}
    if union_by_name:
        opts["union_by_name"] = True
    if filetype == "csv":
        opts["header"] = True
    user = dict(options or {})
    if column_types and filetype != "parquet":
        # Recorded types first; the user's `columns` override (or add) individual entries.
        columns = dict(column_types)
        columns.update(user.pop("columns", {}) or {})
        opts["columns"] = columns
    opts.update(user)
    if filetype == "parquet":
        opts = {k: v for k, v in opts.items() if k in _PARQUET_OPTIONS}
    files = sql_literal(locs if len(locs) != 1 else locs[0])
    args = sql_arguments(opts)
    return f"{_READERS[filetype]}({files}{', ' + args if args else ''})"


_PARQUET_OPTIONS = {"hive_partitioning", "union_by_name", "filename", "hive_types", "hive_types_autocast"}
