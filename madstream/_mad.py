"""The ``mad://`` protocol: DuckDB SQL reading and writing madstream's storage."""

from __future__ import annotations

import threading
from typing import Any

import duckdb
from fsspec.implementations.dirfs import DirFileSystem

from ._storage import current_storage

__all__ = ["MadFileSystem", "register_mad_protocol", "ensure_mad_protocol"]


class MadFileSystem(DirFileSystem):
    """``DirFileSystem`` under the ``mad`` protocol, rooted at the configured storage base.

    DuckDB sees ``mad://a/b.parquet`` and this filesystem maps it to ``<base>/a/b.parquet``.
    """

    protocol = "mad"
    # Each instance wraps a different root: never hand back a cached one for another root.
    cachable = False

    def __init__(self, path: str | None = None, fs: Any = None, **kwargs: Any) -> None:
        if fs is None:
            inner = current_storage().fs
            path, fs = str(inner.path), inner.fs
        super().__init__(path=path, fs=fs, **kwargs)

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = str(path)
        if path.startswith("mad://"):
            path = path[len("mad://"):]
        return path.lstrip("/")

    def _join(self, path: Any) -> Any:
        return super()._join(self._strip_protocol(path))

    def _relpath(self, path: Any) -> Any:
        rel = super()._relpath(path)
        if isinstance(rel, list):
            return [f"mad://{p}" for p in rel]
        return f"mad://{rel}"


# Which root each connection's `mad` filesystem points at, so a changed FILESYSTEM_URL re-registers.
_by_id: dict[int, str] = {}
_lock = threading.Lock()


def ensure_mad_protocol(connection: duckdb.DuckDBPyConnection) -> None:
    """Register ``mad://`` on ``connection`` for the current storage, once per root."""
    storage = current_storage()
    root = storage.basepath
    with _lock:
        if _by_id.get(id(connection)) == root and connection.filesystem_is_registered("mad"):
            return
        if connection.filesystem_is_registered("mad"):
            connection.unregister_filesystem("mad")
        inner = storage.fs
        connection.register_filesystem(MadFileSystem(path=str(inner.path), fs=inner.fs))
        _by_id[id(connection)] = root


async def register_mad_protocol(connection: duckdb.DuckDBPyConnection | None = None) -> None:
    """Let DuckDB SQL read and write ``mad://relative/path`` on the configured storage.

    Registers on ``connection``, or on DuckDB's default connection (used by ``duckdb.sql``).

    >>> await register_mad_protocol()
    >>> duckdb.sql("SELECT count(*) FROM 'mad://orders/result.parquet'")
    """
    ensure_mad_protocol(connection if connection is not None else duckdb.default_connection())
