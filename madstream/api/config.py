"""Which storage is current: one made active in this context, else the one the environment configures.

``FILESYSTEM_URL`` (default ``file://./.tmp/storage``), ``FILESYSTEM_STORAGE_OPTIONS`` (JSON) and
``FILESYSTEM_BLOCK_NAME`` (a saved ``FsspecFileSystem`` Prefect block) configure it, as in the
seed. Each configuration gets one :class:`Storage` per process, so its connection is reused.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import orjson

from ..base.errors import PermanentStorageError
from ..storage.store import DEFAULT_URL
from .storage import Storage, active_storage

__all__ = ["current_storage", "get_fs", "storage_config"]


def storage_config() -> tuple[str, dict[str, Any], str | None]:
    """Read ``FILESYSTEM_URL``, ``FILESYSTEM_STORAGE_OPTIONS`` (JSON) and ``FILESYSTEM_BLOCK_NAME``."""
    url = os.environ.get("FILESYSTEM_URL") or DEFAULT_URL
    raw = os.environ.get("FILESYSTEM_STORAGE_OPTIONS")
    try:
        options = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError as exc:
        raise PermanentStorageError(
            f"FILESYSTEM_STORAGE_OPTIONS is not valid JSON ({exc})",
            hint='set it to a JSON object, e.g. {"password": "...", "known_hosts": null}',
        ) from None
    if not isinstance(options, dict):
        raise PermanentStorageError(
            "FILESYSTEM_STORAGE_OPTIONS must be a JSON object", hint='e.g. {"key": "...", "secret": "..."}'
        )
    return url, options, os.environ.get("FILESYSTEM_BLOCK_NAME") or None


_cache: dict[tuple[str, str, str | None], Storage] = {}
_cache_lock = threading.Lock()


def current_storage() -> Storage:
    """The storage in use right now: one made active by :meth:`Storage.active`, else the one
    configured by the environment (one per configuration and process)."""
    chosen = active_storage()
    if chosen is not None:
        return chosen
    url, options, block = storage_config()
    key = (url, orjson.dumps(options, option=orjson.OPT_SORT_KEYS).decode(), block)
    with _cache_lock:
        found = _cache.get(key)
    if found is not None:
        return found
    made = _from_block(block) if block else Storage(_absolute(url), options)
    with _cache_lock:
        return _cache.setdefault(key, made)


def _absolute(url: str) -> str:
    """A local root resolved against the working directory once, here; other URLs as they are."""
    if url.startswith(("file://", "/")) or "://" not in url:
        return "file://" + os.path.abspath(url.removeprefix("file://"))
    return url


def _from_block(name: str) -> Storage:
    # Imported here: the block module imports prefect, which only a block configuration needs.
    from .block import load_block_storage

    return load_block_storage(name)


async def get_fs() -> Storage:
    """The filesystem configured by ``FILESYSTEM_URL`` (default ``file://./.tmp/storage``).

    >>> fs = await get_fs()
    >>> await fs.write_path("hello.txt", b"hi")
    """
    return current_storage()
