"""What an asset's ``path`` and ``artifacts_dir`` say once rendered: result files and hive keys."""

from __future__ import annotations

import posixpath
from typing import Any

__all__ = ["hive_keys", "result_paths", "result_types"]


def result_types(path: str) -> list[str]:
    """``x/a.parquet|csv`` → ``["parquet", "csv"]``."""
    head, *more = path.split("|")
    return [posixpath.splitext(head)[1].lstrip(".").lower(), *[m.strip().lstrip(".").lower() for m in more]]


def result_paths(path: str) -> tuple[str, ...]:
    """``x/a.parquet|csv`` → ``("x/a.parquet", "x/a.csv")``."""
    head, *more = path.split("|")
    stem = posixpath.splitext(head)[0]
    return (head, *[f"{stem}.{m.strip().lstrip('.')}" for m in more])


def hive_keys(folder: str) -> tuple[tuple[str, Any], ...]:
    """``key=value`` segments of ``folder`` as typed constants (ints stay ints)."""
    out: dict[str, Any] = {}
    for part in folder.replace("\\", "/").split("/"):
        key, eq, value = part.partition("=")
        if eq and key and key != "asset":
            out[key] = int(value) if value.lstrip("-").isdigit() else value
    return tuple(out.items())
