"""Prefect asset keys: the same for one result file on every machine that shares the storage."""

from __future__ import annotations

import hashlib
import re

from ..api.asset import DataAsset
from ..storage.paths import clean

__all__ = ["asset_key"]

#: Prefect's limit on an asset key's length.
_MAX_KEY = 512
_RESTRICTED = re.compile(r"[\s#?&%\"'<>\[\]{}|\\^`\x00]")


def asset_key(asset: DataAsset, path: str | None = None) -> str:
    """The Prefect asset key of ``path`` (default: the asset's first result) on the current storage.

    Stable across runs and machines that share the storage: the redacted storage URL joined with
    the result path, characters Prefect refuses replaced by ``_``.

    >>> asset_key(orders)
    'file:///data/storage/sales/orders.parquet'
    """
    plan = asset._plan()
    where = path if path is not None else plan.results[0]
    scheme, sep, rest = plan.store.url.partition("://")
    scheme = re.sub(r"[^a-z0-9]", "", scheme.lower()) or "file"
    key = f"{scheme}://{rest.rstrip('/')}/{clean(where)}" if sep else f"file://{scheme.rstrip('/')}/{clean(where)}"
    key = _RESTRICTED.sub("_", key)
    if len(key) > _MAX_KEY:  # keep the readable start, make the end unique
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        key = f"{key[: _MAX_KEY - 18]}--{digest}"
    return key
