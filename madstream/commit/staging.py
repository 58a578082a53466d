"""Temporary names: the one place that names every file madstream writes before it publishes.

Nothing temporary is ever written inside the user's folders. One-off writes (an artifact, the
seed's ``write_data``, a collector) stage their files under madstream's own staging folder,
one folder per transaction, whose name starts with the transaction's creation time::

    <metadata root>/staging/<txn id>/files/<final path>      published as <final path>
    <metadata root>/staging/<txn id>/scratch/<final path>.<tag>   a working file, never published

A run of an asset needs no staging at all: it writes its files once, in a run folder of its
dataset (see :mod:`.versions`), and a version record makes them visible. Commits and view
refreshes write their few temporary files in the dataset's ``scratch/`` folder, named by
:func:`scratch_name`. A killed transaction
leaves its staging folder behind; :func:`leftover_time` tells its age, so a later commit deletes
those older than :data:`STALE_AFTER`.
"""

from __future__ import annotations

import posixpath
import re
import secrets
import time

from ..storage.paths import clean
from .catalog import metadata_root

__all__ = [
    "STALE_AFTER", "leftover_time", "new_transaction_id", "scratch_name", "scratch_path", "staged_path", "staging_root",
    "transaction_folder",
]

#: Age after which another transaction's leftovers are deleted (seconds).
STALE_AFTER = 24 * 3600
_ID = re.compile(r"([0-9a-f]{8})[0-9a-f]{8}")


def new_transaction_id() -> str:
    """A unique id whose first 8 hex digits are the current Unix time."""
    return f"{int(time.time()):08x}{secrets.token_hex(4)}"


def staging_root() -> str:
    """The folder that holds every transaction's staging folder."""
    return posixpath.join(metadata_root(), "staging")


def transaction_folder(txn_id: str) -> str:
    """The staging folder of transaction ``txn_id``."""
    if not _ID.fullmatch(txn_id):
        raise ValueError(f"`{txn_id}` is not a transaction id (see new_transaction_id)")
    return posixpath.join(staging_root(), txn_id)


def staged_path(txn_id: str, final: str) -> str:
    """Where transaction ``txn_id`` writes the file it publishes as ``final``."""
    return posixpath.join(transaction_folder(txn_id), "files", clean(final))


def scratch_path(txn_id: str, final: str, tag: str) -> str:
    """A working file of transaction ``txn_id`` for ``final`` (``tag``: part2, merged, ...)."""
    return posixpath.join(transaction_folder(txn_id), "scratch", f"{clean(final)}.{tag}")


def scratch_name(name: str) -> str:
    """A unique name for a temporary file of a commit or a view refresh (``<txn id>-<name>``)."""
    return f"{new_transaction_id()}-{name}"


def leftover_time(name: str) -> int | None:
    """The creation time (Unix seconds) of the staging folder called ``name``, else ``None``."""
    found = _ID.fullmatch(name)
    return int(found.group(1), 16) if found else None
