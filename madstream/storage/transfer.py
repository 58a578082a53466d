"""Bulk publishing: many moves or deletes at once, concurrent where each is a round trip.

A commit publishes every file of a run; on SFTP each move is a round trip and on object stores
a server-side copy, so they run side by side. Local moves are plain ``os.replace`` calls.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from fsspec.implementations.dirfs import DirFileSystem

from .atomic import Placement, copy_many
from .paths import clean
from .store import FileStore
from .together import async_target

__all__ = ["PUBLISH_THREADS", "delete_many", "move_many"]

#: Concurrent publishes (renames on SFTP, server-side copies on object stores) per commit.
PUBLISH_THREADS = 16


def delete_many(store: FileStore, paths: Sequence[str]) -> None:
    """Delete files (missing ones are fine): one bulk request on object stores."""
    paths = [clean(p) for p in paths]
    if not paths:
        return
    if store.local_root is not None:
        for path in paths:
            store.delete_sync(path)
        return

    def delete(fs: DirFileSystem) -> None:
        if store.is_object_store:  # bulk delete; absent keys are no error
            fs.rm(paths)
            return
        present = [p for p in paths if fs.exists(p)]
        if present:
            fs.rm(present)

    store.run("delete", paths[0], delete)


def move_many(store: FileStore, moves: Sequence[tuple[str, str]]) -> None:
    """Publish several files, each replacing what was at its destination."""
    if store.local_root is not None or len(moves) < 2:
        for src, dst in moves:
            store.move_sync(src, dst)
        return
    for folder in sorted({posixpath.dirname(clean(dst)) for _, dst in moves}):
        store.makedirs_sync(folder)
    pairs = [(clean(src), clean(dst)) for src, dst in moves]
    if store.is_object_store and async_target(store) is not None:
        # Server-side copies all sent together, then one bulk delete of the sources.
        copy_many(store, [Placement(src, dst) for src, dst in pairs])
        sources = [src for src, _ in pairs]
        store.run("delete", sources[0], lambda fs: fs.rm(sources))
        return
    with ThreadPoolExecutor(max_workers=min(PUBLISH_THREADS, len(pairs))) as pool:
        list(pool.map(lambda pair: store.move_remote(*pair), pairs))
