"""Run observers: an optional hook that lets progress displays, the CLI and Prefect watch runs.

The engine calls :func:`observers` once per run; with none registered (the default off a
terminal) a run pays nothing. Observers see each written batch from the writer's worker thread,
so anything they do per batch must be cheap (count, and redraw at most a few times a second).

>>> with observe(collector := RunCollector()):
...     await orders()
>>> collector.runs[0].rows
3
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import pyarrow as pa

    from ._catalog import DataAssetRun
    from ._types import Encoded

__all__ = ["RunCollector", "RunObserver", "human_bytes", "observe", "observers", "progress_enabled", "summary", "watch_writes"]

#: Called with (rows, in-memory bytes) of each batch as it is written.
BatchCallback = Callable[[int, int], None]


def human_bytes(n: float) -> str:
    """``1536`` → ``"1.5 KB"`` (progress lines and CLI summaries)."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def summary(run: DataAssetRun, path: str, seconds: float) -> str:
    """One line about a finished run: ``orders: 300 rows in 3 batches, 10.3 KB written, 0.41 s (731 rows/s) → path``."""
    rows, batches = run.rows or 0, run.batches or 0
    noun = "batch" if batches == 1 else "batches"
    return (
        f"{run.asset_name}: {rows:,} rows in {batches:,} {noun}, {human_bytes(run.bytes or 0)} written, "
        f"{seconds:.2f} s ({rows / max(seconds, 1e-9):,.0f} rows/s) → {path}"
    )


class RunObserver(Protocol):
    """Something that wants to know about runs (all methods may be called from worker threads)."""

    def run_started(self, run: DataAssetRun) -> BatchCallback | None:
        """A run began; return a per-batch callback, or ``None`` to skip batch events."""

    def run_finished(self, run: DataAssetRun) -> None:
        """The run ended: ``run.status`` is ``succeeded`` or ``failed`` and its counts are set."""


_active: contextvars.ContextVar[tuple[RunObserver, ...]] = contextvars.ContextVar("madstream_observers", default=())


@contextlib.contextmanager
def observe(*extra: RunObserver) -> Iterator[None]:
    """Register ``extra`` observers for the runs started inside this block (and its tasks)."""
    token = _active.set(_active.get() + extra)
    try:
        yield
    finally:
        _active.reset(token)


def progress_enabled(option: bool | None = None) -> bool:
    """Whether to draw progress: ``option`` if given, else on a terminal unless ``MADSTREAM_PROGRESS=0``."""
    if option is not None:
        return option
    if os.environ.get("MADSTREAM_PROGRESS", "").strip().lower() in ("0", "false", "no", "off"):
        return False
    stream = sys.stderr
    return bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())


def observers() -> tuple[RunObserver, ...]:
    """The observers of a run starting now: the registered ones, plus progress on a terminal."""
    found = _active.get()
    if progress_enabled() and not any(getattr(o, "draws_progress", False) for o in found):
        from ._progress import shared_display  # imports rich only when a terminal will show it

        found = (*found, shared_display())
    return found


def watch_writes(
    write: Callable[[pa.RecordBatch, Encoded | None], None], callbacks: list[BatchCallback]
) -> Callable[[pa.RecordBatch, Encoded | None], None]:
    """``write`` that also reports each batch's rows and bytes to ``callbacks``."""

    def watched(batch: pa.RecordBatch, json: Encoded | None = None) -> None:
        write(batch, json)
        rows, nbytes = batch.num_rows, batch.nbytes
        for callback in callbacks:
            callback(rows, nbytes)

    return watched


class RunCollector:
    """Keeps the finished run records it sees (the CLI's summary and Prefect's metadata use it)."""

    def __init__(self) -> None:
        self.runs: list[DataAssetRun] = []
        self._lock = threading.Lock()

    def run_started(self, run: DataAssetRun) -> BatchCallback | None:
        return None

    def run_finished(self, run: DataAssetRun) -> None:
        with self._lock:
            self.runs.append(run)

    def last(self, asset_id: str) -> DataAssetRun | None:
        """The latest finished run of the configuration ``asset_id`` (``None``: cached, not run)."""
        with self._lock:
            return next((r for r in reversed(self.runs) if r.asset_id == asset_id), None)
