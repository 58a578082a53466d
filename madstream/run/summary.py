"""One-line summaries of finished runs, and byte counts for people (CLI, Prefect logs, progress)."""

from __future__ import annotations

from collections.abc import Sequence

from ..commit.catalog import RunRecord

__all__ = ["counted", "human_bytes", "summary"]


def human_bytes(n: float) -> str:
    """``1536`` → ``"1.5 KB"`` (progress lines and CLI summaries)."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def summary(
    run: RunRecord, path: str, seconds: float | None = None, *,
    around: str | None = None, schema_changes: Sequence[str] = (),
) -> str:
    """One line about a finished run: ``orders: 300 rows in 3 batches, 10.3 KB written, 0.41 s (731 rows/s) → path``.

    The time is the run's own (its record's duration), so a caller's start-up never inflates
    the rate; ``seconds`` (the caller's wall time) is used only when the record has none. With
    ``around`` (what wrapped the run, e.g. ``"Prefect"``) the rest of ``seconds`` is said apart:
    ``0.53 s (23 rows/s; +9.71 s Prefect)``. Schema changes the run published follow the path.
    """
    rows, batches = run.rows or 0, run.batches or 0
    own = run.duration_miliseconds / 1000 if run.duration_miliseconds is not None else (seconds or 0.0)
    extra = ""
    if around is not None and seconds is not None and seconds > own:
        extra = f"; +{seconds - own:.2f} s {around}"
    line = (
        f"{run.asset_name}: {counted(rows, 'row')} in {counted(batches, 'batch')}, {human_bytes(run.bytes or 0)} written, "
        f"{own:.2f} s ({rows / max(own, 1e-9):,.0f} rows/s{extra}) → {path}"
    )
    if schema_changes:
        line += f"; schema changed: {'; '.join(schema_changes)}"
    return line


def counted(n: int, noun: str) -> str:
    """``1 row``, ``2 rows``, ``1 batch``, ``3 batches``."""
    plural = noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")
    return f"{n:,} {noun if n == 1 else plural}"
