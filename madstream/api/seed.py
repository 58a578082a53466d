"""The seed's remaining public utilities: ``DataAssetRun``, ``MadFileSystem`` and ``register_mad_protocol``.

Each is a thin public face over a lower layer that takes its storage explicitly; here the
storage defaults to the current one (:func:`~madstream.api.config.current_storage`), as the
seed's users expect.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from ..commit.catalog import RunRecord
from ..query.mad import StoreFileSystem
from ..storage.store import FileStore
from .config import current_storage
from .storage import Storage

if TYPE_CHECKING:
    import duckdb

__all__ = ["DataAssetRun", "MadFileSystem", "register_mad_protocol"]


class DataAssetRun(RunRecord):
    """One execution of an asset (the seed's fields, plus status, error and what was written)."""

    async def persist(self, storage: FileStore | None = None) -> None:
        """Write the run record to ``storage`` (default: the current storage)."""
        await anyio.to_thread.run_sync(self.persist_sync, storage or current_storage())


class MadFileSystem(StoreFileSystem):
    """``DirFileSystem`` under the ``mad`` protocol, rooted at a storage's base.

    Args:
        storage: a :class:`Storage`, or a base URL (then ``storage_options`` are its fsspec
            options, as in the seed); default: the current storage.
    """

    def __init__(
        self, storage: FileStore | str | None = None, storage_options: dict[str, Any] | None = None, **kwargs: Any,
    ) -> None:
        if isinstance(storage, str):
            storage = Storage(storage, storage_options)
        super().__init__(storage or current_storage(), **kwargs)


_lock = threading.Lock()
# Which storage each connection's `mad` filesystem points at (held weakly: the registration on
# the connection keeps it alive as long as the connection), so a changed storage re-registers.
_registered: dict[int, weakref.ref[FileStore]] = {}


def ensure_mad_protocol(connection: duckdb.DuckDBPyConnection, storage: FileStore) -> None:
    """Register ``mad://`` on ``connection`` for ``storage``, once."""
    with _lock:
        registered = connection.filesystem_is_registered("mad")
        known = _registered.get(id(connection))
        if registered and known is not None and known() is storage:
            return
        if registered:
            connection.unregister_filesystem("mad")
        connection.register_filesystem(MadFileSystem(storage))
        _registered[id(connection)] = weakref.ref(storage)


async def register_mad_protocol(connection: duckdb.DuckDBPyConnection | None = None) -> None:
    """Let DuckDB SQL read and write ``mad://relative/path`` on the current storage.

    Registers on ``connection``, or on DuckDB's default connection (used by ``duckdb.sql``).
    Calling it again is cheap: a connection is registered once per storage. Until it has run,
    DuckDB takes ``mad://`` for a local path and says only "No files found that match the
    pattern"; an extract function failing that way gets an error whose hint says to call this.
    Names DuckDB reports (``glob()``, ``filename=true``) are ``mad://relative/path``.

    >>> await register_mad_protocol()
    >>> duckdb.sql("SELECT count(*) FROM 'mad://orders/result.parquet'")
    """
    if connection is None:
        import duckdb

        connection = duckdb.default_connection()
    ensure_mad_protocol(connection, current_storage())
