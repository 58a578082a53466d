"""Temporary names: the one place that names every file or folder a run writes before it publishes.

Every temporary name is hidden (it starts with a dot, so globs and DuckDB's readers skip it) and
carries a transaction id whose first 8 hex digits are its creation time in Unix seconds::

    <folder>/.staging-<id>/<name>          a fragment, published as <folder>/<name>
    <folder>/.<name>.<id>.tmp              a result or a catalog record, published as <folder>/<name>
    <folder>/.<name>.<id>.<tag>.tmp        a working file that is never published (tag: part2, merged)

A run that was killed, or whose storage was unreachable when it cleaned up, leaves such names
behind; :func:`leftover_time` recognises every one of them, so a later commit can delete those
older than :data:`STALE_AFTER`.
"""

from __future__ import annotations

import posixpath
import re
import secrets
import time

from ..storage.paths import clean

__all__ = ["STALE_AFTER", "leftover_time", "new_transaction_id", "staged_file", "staging_folder"]

#: Age after which another run's leftover temporary files are deleted (seconds).
STALE_AFTER = 24 * 3600
_ID = re.compile(r"[0-9a-f]{16}")
_LEFTOVER = re.compile(r"^\.(?:staging-|.+\.)([0-9a-f]{8})[0-9a-f]{8}(?:\.[a-z0-9]+)?(?:\.tmp)?$")


def new_transaction_id() -> str:
    """A unique id whose first 8 hex digits are the current Unix time."""
    return f"{int(time.time()):08x}{secrets.token_hex(4)}"


def staged_file(final: str, txn_id: str, tag: str | None = None) -> str:
    """The hidden temporary path beside ``final`` for transaction ``txn_id`` (``tag``: a working copy)."""
    if not _ID.fullmatch(txn_id):
        raise ValueError(f"`{txn_id}` is not a transaction id (see new_transaction_id)")
    folder, name = posixpath.split(clean(final))
    suffix = f".{tag}" if tag else ""
    return posixpath.join(folder, f".{name}.{txn_id}{suffix}.tmp")


def staging_folder(folder: str, txn_id: str) -> str:
    """The hidden folder under ``folder`` where transaction ``txn_id`` stages its fragments."""
    if not _ID.fullmatch(txn_id):
        raise ValueError(f"`{txn_id}` is not a transaction id (see new_transaction_id)")
    return posixpath.join(clean(folder), f".staging-{txn_id}")


def leftover_time(name: str) -> int | None:
    """The creation time (Unix seconds) of the temporary file or folder called ``name``, else ``None``."""
    found = _LEFTOVER.match(name)
    return int(found.group(1), 16) if found else None
