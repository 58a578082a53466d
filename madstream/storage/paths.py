"""Storage-relative paths and storage URLs: the small pure helpers every layer above uses."""

from __future__ import annotations

import urllib.parse
from typing import Any

import orjson

__all__ = ["clean", "protocols", "split_url"]


def clean(path: str) -> str:
    """Normalize a storage-relative path: forward slashes, no leading slash, no ``.`` parts."""
    path = path.replace("\\", "/")
    return "/".join(p for p in path.split("/") if p not in ("", "."))


def split_url(url: str) -> tuple[str, dict[str, Any]]:
    """``s3://b/p?endpoint_url=http://h:9000&anon=false`` → (``s3://b/p``, options from the query).

    Query values that parse as JSON (numbers, booleans, null) take that type; others stay text.
    """
    base, q, query = url.partition("?")
    if not q or "://" not in base:
        return url, {}
    options: dict[str, Any] = {}
    for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        try:
            options[key] = orjson.loads(value)
        except orjson.JSONDecodeError:
            options[key] = value
    return base, options


def protocols(fs: Any) -> tuple[str, ...]:
    """The protocol names of an fsspec filesystem (``()`` for anything else)."""
    proto = getattr(fs, "protocol", ())
    return (proto,) if isinstance(proto, str) else tuple(proto)
