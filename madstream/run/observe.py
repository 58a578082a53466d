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

    from ..base.types import Encoded
    from ..commit.catalog import RunRecord

__all__ = [
    "BatchCallback", "RunCollector", "RunObserver", "expect_rows", "observe", "observers", "progress_enabled",
    "show_progress", "sizing", "watch_writes",
]

#: Called with (rows, in-memory bytes) of each batch as it is written. A callback may also have an
#: ``expect_rows(rows)`` method: then it hears how many rows the run will write, when that is known.
BatchCallback = Callable[[int, int], None]


class RunObserver(Protocol):
    """Something that wants to know about runs (all methods may be called from worker threads)."""

    def run_started(self, run: RunRecord) -> BatchCallback | None:
        """A run began; return a per-batch callback, or ``None`` to skip batch events."""

    def run_finished(self, run: RunRecord) -> None:
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


_progress_choice: contextvars.ContextVar[bool | None] = contextvars.ContextVar("madstream_progress", default=None)


@contextlib.contextmanager
def show_progress(enabled: bool) -> Iterator[None]:
    """Draw (or never draw) the progress display for runs started inside this block.

    The command line's ``--no-progress`` uses it, so the process environment stays untouched.
    """
    token = _progress_choice.set(enabled)
    try:
        yield
    finally:
        _progress_choice.reset(token)


def progress_enabled(option: bool | None = None) -> bool:
    """Whether to draw progress: ``option`` if given, else the :func:`show_progress` choice in
    effect, else on a terminal unless ``MADSTREAM_PROGRESS=0``."""
    if option is None:
        option = _progress_choice.get()
    if option is not None:
        return option
    if os.environ.get("MADSTREAM_PROGRESS", "").strip().lower() in ("0", "false", "no", "off"):
        return False
    stream = sys.stderr
    return bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())


def observers() -> tuple[RunObserver, ...]:
    """The observers registered for a run starting now (the progress display is added by the run)."""
    return _active.get()


_sizing: contextvars.ContextVar[tuple[BatchCallback, ...]] = contextvars.ContextVar("madstream_sizing", default=())


@contextlib.contextmanager
def sizing(callbacks: list[BatchCallback]) -> Iterator[None]:
    """Inside this block (a run's extract and stream), :func:`expect_rows` reaches ``callbacks``.

    A nested run opens its own block, so what it announces goes to its own observers.
    """
    token = _sizing.set(tuple(callbacks))
    try:
        yield
    finally:
        _sizing.reset(token)


def expect_rows(rows: int) -> None:
    """Tell the current run's observers that ``rows`` more rows are coming (e.g. a yielded asset's
    row count), so a display can draw a bar; nothing happens outside a watched run."""
    for callback in _sizing.get():
        expect = getattr(callback, "expect_rows", None)
        if expect is not None:
            expect(rows)


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
        self.runs: list[RunRecord] = []
        self._lock = threading.Lock()

    def run_started(self, run: RunRecord) -> BatchCallback | None:
        return None

    def run_finished(self, run: RunRecord) -> None:
        with self._lock:
            self.runs.append(run)

    def last(self, asset_id: str) -> RunRecord | None:
        """The latest finished run of the configuration ``asset_id`` (``None``: cached, not run)."""
        with self._lock:
            return next((r for r in reversed(self.runs) if r.asset_id == asset_id), None)
