"""DuckDB filesystems over a :class:`~madstream.storage.store.FileStore`.

:class:`StoreFileSystem` maps ``<protocol>://a/b.parquet`` to ``a/b.parquet`` under a store's root,
on whatever backend the root is (local, memory, SFTP, S3, ...). It resolves the backend through
the store on every call instead of capturing one fsspec instance, so a reconnect after a dropped
connection is seen by DuckDB too, and files it opens get the store's error translation and
remote buffering.

madstream's own queries reach each store under a protocol of its own (:func:`storage_protocol`),
so a query on one store never reads through a registration another store has replaced. Those
registrations hold their store weakly: a store nobody uses any more is freed, and its protocol
is unregistered by the next registration.
"""

from __future__ import annotations

import itertools
import re
import sys
import threading
import weakref
from typing import TYPE_CHECKING, Any

from fsspec.implementations.dirfs import DirFileSystem

from ..base.errors import StorageError
from ..storage.paths import clean
from ..storage.store import FileStore

__all__ = ["StoreFileSystem", "mad_protocol_hint", "register_store", "storage_protocol"]

if TYPE_CHECKING:
    import duckdb


class StoreFileSystem(DirFileSystem):
    """``DirFileSystem`` under the ``mad`` protocol, rooted at a store's base."""

    protocol = "mad"
    # Each instance wraps a different root: never hand back a cached one for another root.
    cachable = False

    def __init__(self, store: FileStore, *, weak: bool = False, **kwargs: Any) -> None:
        self._store_ref: Any = weakref.ref(store) if weak else (lambda: store)
        inner = store.fs
        super().__init__(path=str(inner.path), fs=inner.fs, **kwargs)

    @property
    def storage(self) -> FileStore:
        """The store this filesystem reads and writes."""
        store: FileStore | None = self._store_ref()
        if store is None:
            raise StorageError(
                f"protocol `{self.protocol}` belonged to a storage that no longer exists",
                hint="keep the storage (or the artifact or result made from it) while querying it",
            )
        return store

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
        # DuckDB opens exactly the names glob/ls/info hand back, so each carries the protocol,
        # once: DirFileSystem maps a list through this very method, item by item.
        if isinstance(path, list):
            return [self._relpath(p) for p in path]
        return f"{self.protocol}://{super()._relpath(path)}"

    def open(self, path: Any, mode: str = "rb", **kwargs: Any) -> Any:  # type: ignore[override]
        """Open through the store: translated errors, big remote writes, small read-ahead."""
        return self.storage.open_sync(clean(self._strip_protocol(path)), mode, **kwargs)


_lock = threading.Lock()
_numbers = itertools.count(1)
#: The protocol each live store is reached by on madstream's connections.
_protocols: weakref.WeakKeyDictionary[FileStore, str] = weakref.WeakKeyDictionary()
#: Registrations to drop: (connection, protocol) of stores that have been freed.
_dead: list[tuple[Any, str]] = []


def storage_protocol(connection: duckdb.DuckDBPyConnection, store: FileStore) -> str:
    """The protocol (``mad<n>``) reaching ``store`` on ``connection``, registered once."""
    with _lock:
        while _dead:  # unregistered here, not in the finalizer: it may run mid-query on any thread
            con, gone = _dead.pop()
            if con.filesystem_is_registered(gone):
                con.unregister_filesystem(gone)
        protocol = _protocols.get(store)
        if protocol is None:
            protocol = _protocols[store] = f"mad{next(_numbers)}"
        if not connection.filesystem_is_registered(protocol):
            register_store(connection, protocol, store)
            weakref.finalize(store, _dead.append, (connection, protocol))
    return protocol


def register_store(
    connection: duckdb.DuckDBPyConnection, protocol: str, store: FileStore, kind: type[StoreFileSystem] = StoreFileSystem,
) -> None:
    """Register ``store`` on ``connection`` under ``protocol`` (a ``kind`` subclass of that name), held weakly:
    whoever runs SQL on it keeps the store alive."""
    cls = type(f"{kind.__name__}_{protocol}", (kind,), {"protocol": protocol})
    fs = cls(store, weak=True)
    # fsspec's metaclass stores the constructor's args after __init__: a strong ref to the store.
    fs.storage_args = ()
    connection.register_filesystem(fs)


#: DuckDB's words when a path matches no file; for ``mad://`` that is what an unregistered protocol says too.
_NO_FILES = re.compile(r'No files found that match the pattern "mad://')


def mad_protocol_hint(exc: BaseException) -> str | None:
    """What to do about DuckDB's "No files found" for a ``mad://`` path (``None`` for any other error).

    Until ``register_mad_protocol()`` has run, DuckDB treats ``mad://`` as an unknown local path
    and says only that no file matches, which does not tell anyone the registration is missing.
    """
    if not _NO_FILES.search(str(exc)):
        return None
    duckdb = sys.modules.get("duckdb")
    if duckdb is not None and duckdb.default_connection().filesystem_is_registered("mad"):
        return "no file under the storage root matches it (mad:// paths are relative to the storage root)"
    return (
        "DuckDB reads mad:// paths only once `await register_mad_protocol()` has run (it registers them on "
        "DuckDB's default connection; pass your own connection to register them there): call it before the query"
    )
