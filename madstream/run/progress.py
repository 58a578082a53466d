"""A live progress display of running materializations, drawn with rich on a terminal.

One display per process, one line per running asset: rows, batches, bytes, rows/s and elapsed
time, then the current rate (batches and bytes per second over the last few seconds) and, when
the run's size is known (an asset yielding another announces its row count), a bar. The writer
threads only add to counters and note each batch's time; rich's own refresh thread reads them
four times a second, so a run pays a few additions per batch whether or not anyone is watching. The display
appears only once a run has lasted ``DELAY`` seconds (short runs never flash a bar) and clears
itself when the last run ends. The engine imports this module only when progress is enabled
(:func:`madstream.run.observe.progress_enabled`), so rich is never imported off a terminal.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rich.console import Console, RenderableType
from rich.progress import Progress, ProgressColumn, SpinnerColumn, Task, TaskID, TextColumn, TimeElapsedColumn
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from .summary import counted, human_bytes

if TYPE_CHECKING:
    from ..commit.catalog import RunRecord
    from .observe import BatchCallback

__all__ = ["DELAY", "RunProgress", "shared_display"]

#: Seconds a run must last before the display appears.
DELAY = 0.5
#: Redraws per second (rich's refresh thread; the engine never redraws).
REFRESH_PER_SECOND = 4
#: Seconds of recent batches the current rate is measured over.
WINDOW = 3.0
#: Width of the bar drawn for a run of known size.
BAR_WIDTH = 24


@dataclass
class _Counts:
    """A run's live counters, written by its writer thread and read by rich's refresh thread."""

    started: float = field(default_factory=time.monotonic)
    rows: int = 0
    batches: int = 0
    nbytes: int = 0
    #: Rows announced by the run (see :func:`madstream.run.observe.expect_rows`); ``0``: unknown.
    expected: int = 0
    #: (time, bytes) of the latest batches, for the current rate.
    recent: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=256))

    def __call__(self, rows: int, nbytes: int) -> None:
        self.rows += rows
        self.batches += 1
        self.nbytes += nbytes
        self.recent.append((time.monotonic(), nbytes))

    def expect_rows(self, rows: int) -> None:
        self.expected += rows

    def current_rate(self, now: float) -> tuple[float, float]:
        """Batches and bytes per second over the last ``WINDOW`` seconds (or the run's life, if shorter)."""
        span = min(WINDOW, max(now - self.started, 1e-9))
        window = [nbytes for at, nbytes in list(self.recent) if now - at <= span]  # list(): one atomic copy
        return len(window) / span, sum(window) / span


class _StatsColumn(ProgressColumn):
    """``12,000 rows · 3 batches · 1.2 MB in Arrow · 40,000 rows/s · now 2.0 batches/s, 350.0 KB/s``."""

    def render(self, task: Task) -> Text:
        counts: _Counts = task.fields["counts"]
        now = time.monotonic()
        elapsed = max(now - counts.started, 1e-9)
        batch_rate, byte_rate = counts.current_rate(now)
        return Text(
            f"{counted(counts.rows, 'row')} · {counted(counts.batches, 'batch')} · {human_bytes(counts.nbytes)} in Arrow"
            f" · {counts.rows / elapsed:,.0f} rows/s · now {batch_rate:,.1f} batches/s, {human_bytes(byte_rate)}/s",
            style="cyan",
        )


class _SizeColumn(ProgressColumn):
    """A bar and a percentage for a run that announced its size; nothing for the others."""

    def render(self, task: Task) -> RenderableType:
        counts: _Counts = task.fields["counts"]
        if counts.expected <= 0:
            return Text("")
        done = min(counts.rows, counts.expected)
        grid = Table.grid(padding=(0, 1))
        grid.add_row(ProgressBar(total=counts.expected, completed=done, width=BAR_WIDTH), f"{done / counts.expected:.0%}")
        return grid


class _Watch(_Counts):
    """A run's counters as its batch callback: counts, and starts the display once the run lasted the delay."""

    def __init__(self, display: RunProgress, delay: float) -> None:
        super().__init__()
        self._display = display
        self._show_after = self.started + delay

    def __call__(self, rows: int, nbytes: int) -> None:
        super().__call__(rows, nbytes)
        if not self._display.shown and time.monotonic() >= self._show_after:
            self._display.show()


class RunProgress:
    """The process's progress display; a :class:`~madstream.run.observe.RunObserver`."""

    #: Tells :func:`madstream.run.observe.observers` not to add a second display.
    draws_progress = True

    def __init__(self, console: Console | None = None, delay: float = DELAY) -> None:
        self._progress = Progress(
            SpinnerColumn(), TextColumn("[bold]{task.description}"), _SizeColumn(), _StatsColumn(), TimeElapsedColumn(),
            console=console or Console(stderr=True), transient=True, refresh_per_second=REFRESH_PER_SECOND,
        )
        self._delay = delay
        self._lock = threading.Lock()
        self._tasks: dict[str, TaskID] = {}
        self.shown = False

    def run_started(self, run: RunRecord) -> BatchCallback:
        counts = _Watch(self, self._delay)
        with self._lock:
            self._tasks[run.id or ""] = self._progress.add_task(run.asset_name or "asset", total=None, counts=counts)
        return counts

    def show(self) -> None:
        """Start drawing (once a run has lasted the delay)."""
        with self._lock:
            if not self.shown and self._tasks:
                self._progress.start()
                self.shown = True

    def run_finished(self, run: RunRecord) -> None:
        with self._lock:
            task = self._tasks.pop(run.id or "", None)
            if task is not None:
                self._progress.remove_task(task)
            if self.shown and not self._tasks:
                self._progress.stop()
                self.shown = False


_display: RunProgress | None = None
_display_lock = threading.Lock()


def shared_display() -> RunProgress:
    """The one display of this process (rich allows one live display at a time)."""
    global _display
    with _display_lock:
        if _display is None:
            _display = RunProgress()
        return _display
