"""A live progress display of running materializations, drawn with rich on a terminal.

One display per process, one line per running asset: rows, batches, bytes, rows/s and elapsed
time. The writer threads only add to counters; rich's own refresh thread reads them four times a
second, so a run pays two additions per batch whether or not anyone is watching. The display
appears only once a run has lasted ``DELAY`` seconds (short runs never flash a bar) and clears
itself when the last run ends. The engine imports this module only when progress is enabled
(:func:`madstream.run.observe.progress_enabled`), so rich is never imported off a terminal.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import Progress, ProgressColumn, SpinnerColumn, Task, TaskID, TextColumn, TimeElapsedColumn
from rich.text import Text

from .summary import human_bytes

if TYPE_CHECKING:
    from ..commit.catalog import RunRecord
    from .observe import BatchCallback

__all__ = ["DELAY", "RunProgress", "shared_display"]

#: Seconds a run must last before the display appears.
DELAY = 0.5
#: Redraws per second (rich's refresh thread; the engine never redraws).
REFRESH_PER_SECOND = 4


@dataclass
class _Counts:
    started: float = field(default_factory=time.monotonic)
    rows: int = 0
    batches: int = 0
    nbytes: int = 0


class _StatsColumn(ProgressColumn):
    """``12,000 rows · 3 batches · 1.2 MB · 40,000 rows/s`` from a run's live counters."""

    def render(self, task: Task) -> Text:
        counts: _Counts = task.fields["counts"]
        elapsed = max(time.monotonic() - counts.started, 1e-9)
        return Text(
            f"{counts.rows:,} rows · {counts.batches:,} batches · {human_bytes(counts.nbytes)} in Arrow"
            f" · {counts.rows / elapsed:,.0f} rows/s",
            style="cyan",
        )


class RunProgress:
    """The process's progress display; a :class:`~madstream.run.observe.RunObserver`."""

    #: Tells :func:`madstream.run.observe.observers` not to add a second display.
    draws_progress = True

    def __init__(self, console: Console | None = None, delay: float = DELAY) -> None:
        self._progress = Progress(
            SpinnerColumn(), TextColumn("[bold]{task.description}"), _StatsColumn(), TimeElapsedColumn(),
            console=console or Console(stderr=True), transient=True, refresh_per_second=REFRESH_PER_SECOND,
        )
        self._delay = delay
        self._lock = threading.Lock()
        self._tasks: dict[str, TaskID] = {}
        self._shown = False

    def run_started(self, run: RunRecord) -> BatchCallback:
        counts = _Counts()
        show_after = counts.started + self._delay
        with self._lock:
            self._tasks[run.id or ""] = self._progress.add_task(run.asset_name or "asset", total=None, counts=counts)

        def on_batch(rows: int, nbytes: int) -> None:
            counts.rows += rows
            counts.batches += 1
            counts.nbytes += nbytes
            if not self._shown and time.monotonic() >= show_after:
                self._show()

        return on_batch

    def _show(self) -> None:
        with self._lock:
            if not self._shown and self._tasks:
                self._progress.start()
                self._shown = True

    def run_finished(self, run: RunRecord) -> None:
        with self._lock:
            task = self._tasks.pop(run.id or "", None)
            if task is not None:
                self._progress.remove_task(task)
            if self._shown and not self._tasks:
                self._progress.stop()
                self._shown = False


_display: RunProgress | None = None
_display_lock = threading.Lock()


def shared_display() -> RunProgress:
    """The one display of this process (rich allows one live display at a time)."""
    global _display
    with _display_lock:
        if _display is None:
            _display = RunProgress()
        return _display
