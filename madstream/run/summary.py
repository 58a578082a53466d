"""One-line summaries of finished runs, and byte counts for people (CLI, Prefect logs, progress)."""

from __future__ import annotations

from ..commit.catalog import RunRecord

__all__ = ["human_bytes", "summary"]


def human_bytes(n: float) -> str:
    """``1536`` → ``"1.5 KB"`` (progress lines and CLI summaries)."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def summary(run: RunRecord, path: str, seconds: float) -> str:
    """One line about a finished run: ``orders: 300 rows in 3 batches, 10.3 KB written, 0.41 s (731 rows/s) → path``."""
    rows, batches = run.rows or 0, run.batches or 0
    return (
        f"{run.asset_name}: {_count(rows, 'row')} in {_count(batches, 'batch')}, {human_bytes(run.bytes or 0)} written, "
        f"{seconds:.2f} s ({rows / max(seconds, 1e-9):,.0f} rows/s) → {path}"
    )


def _count(n: int, noun: str) -> str:
    """``1 row``, ``2 rows``, ``1 batch``, ``3 batches``."""
    plural = noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")
    return f"{n:,} {noun if n == 1 else plural}"
