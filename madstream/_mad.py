"""The ``mad://`` protocol: plain DuckDB SQL reading and writing madstream's storage.

``MadFileSystem`` maps ``mad://a/b.parquet`` to ``<FILESYSTEM_URL root>/a/b.parquet`` on whatever
backend the root is (local, memory, SFTP, S3, ...). It resolves the backend through a
:class:`~madstream.Storage` on every call instead of capturing one fsspec instance, so a
reconnect after a dropped connection is seen by DuckDB too, and files it opens get the same
error translation and remote buffering as the engine's own files.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from fsspec.implementations.dirfs import DirFileSystem

from ._storage import Storage, clean, current_storage

__all__ = ["MadFileSystem", "ensure_mad_protocol", "register_mad_protocol", "storage_protocol"]

if TYPE_CHECKING:
    import duckdb


class MadFileSystem(DirFileSystem):
    """``DirFileSystem`` under the ``mad`` protocol, rooted at the configured storage base.

    Args:
        storage: the storage to expose (default: the one configured by the environment now).
    """

    protocol = "mad"
    # Each instance wraps a different root: never hand back a cached one for another root.
    cachable = False

    def __init__(self, storage: Storage | None = None, **kwargs: Any) -> None:
        self.storage = storage or current_storage()
        inner = self.storage.fs
        super().__init__(path=str(inner.path), fs=inner.fs, **kwargs)

    # The backend is looked up on each use (it changes after a reconnect); the setters swallow
    # DirFileSystem.__init__'s assignments.
    @property  # type: ignore[override]
    def fs(self) -> Any:
        return self.storage.fs.fs

    @fs.setter
    def fs(self, value: Any) -> None:
        pass

    @property  # type: ignore[override]
    def path(self) -> str:
        return str(self.storage.fs.path)

    @path.setter
    def path(self, value: str) -> None:
        pass

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = str(path)
        # DuckDB may hand over `mad://x`, `mad:/x`, or the protocol twice (`mad://mad://x`).
        prefix = f"{cls.protocol}:"
        while path.startswith(prefix):
            path = path[len(prefix):].lstrip("/")
        return path.lstrip("/")

    def _join(self, path: Any) -> Any:
        return super()._join(self._strip_protocol(path))

    def _relpath(self, path: Any) -> Any:
        rel = super()._relpath(path)
        if isinstance(rel, list):
            return [f"{self.protocol}://{p}" for p in rel]
        return f"{self.protocol}://{rel}"

    def open(self, path: Any, mode: str = "rb", **kwargs: Any) -> Any:  # type: ignore[override]
        """Open through the storage: translated errors, big remote writes, small read-ahead."""
        return self.storage.open_sync(clean(self._strip_protocol(path)), mode, **kwargs)


# Which storage each connection's `mad` filesystem points at, so a changed FILESYSTEM_URL re-registers.
_by_id: dict[int, Storage] = {}
_lock = threading.Lock()


def ensure_mad_protocol(connection: duckdb.DuckDBPyConnection, storage: Storage | None = None) -> None:
    """Register ``mad://`` on ``connection`` for ``storage`` (default: the current one), once."""
    storage = storage or current_storage()
    with _lock:
        registered = connection.filesystem_is_registered("mad")
        if registered and _by_id.get(id(connection)) is storage:
            return
        if registered:
            connection.unregister_filesystem("mad")
        connection.register_filesystem(MadFileSystem(storage))
        _by_id[id(connection)] = storage


# madstream's own queries reach each storage under a protocol of its own, so a query on one
# storage never reads through a registration another storage has since replaced.
_scoped: dict[str, type[MadFileSystem]] = {}


def storage_protocol(connection: duckdb.DuckDBPyConnection, storage: Storage) -> str:
    """The protocol (``mad<key>``) reaching ``storage`` on ``connection``, registered once."""
    # The registered filesystem keeps `storage` alive, so its id stays its own.
    protocol = f"mad{id(storage):x}"
    with _lock:
        cls = _scoped.get(protocol)
        if cls is None:
            cls = _scoped[protocol] = type(f"MadFileSystem_{protocol}", (MadFileSystem,), {"protocol": protocol})
        if not connection.filesystem_is_registered(protocol):
            connection.register_filesystem(cls(storage))
    return protocol


async def register_mad_protocol(connection: duckdb.DuckDBPyConnection | None = None) -> None:
    """Let DuckDB SQL read and write ``mad://relative/path`` on the configured storage.

    Registers on ``connection``, or on DuckDB's default connection (used by ``duckdb.sql``).
    Calling it again is cheap: a connection is registered once per storage root.

    >>> await register_mad_protocol()
    >>> duckdb.sql("SELECT count(*) FROM 'mad://orders/result.parquet'")
    """
    if connection is None:
        import duckdb

        connection = duckdb.default_connection()
    ensure_mad_protocol(connection)
