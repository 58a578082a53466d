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
    noun = "batch" if batches == 1 else "batches"
    return (
        f"{run.asset_name}: {rows:,} rows in {batches:,} {noun}, {human_bytes(run.bytes or 0)} written, "
        f"{seconds:.2f} s ({rows / max(seconds, 1e-9):,.0f} rows/s) → {path}"
    )
