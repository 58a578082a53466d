"""Logging around Prefect runs: the engine's records go to the run logger; quiet consoles.

Both are installed only while a run needs them (counted, since task runs overlap in threads),
never at import: importing ``madstream.prefect`` leaves every logger and handler as it was.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator

from prefect.context import FlowRunContext, TaskRunContext
from prefect.logging import get_run_logger
from prefect.logging.handlers import PrefectConsoleHandler

__all__ = ["forwarding_logs", "quiet_console"]


class _ForwardToRunLogger(logging.Handler):
    """Sends the engine's log records to the Prefect run logger when a run is active."""

    def emit(self, record: logging.LogRecord) -> None:
        if TaskRunContext.get() is None and FlowRunContext.get() is None:
            return  # outside a run: standard logging handles it as usual
        try:
            get_run_logger().log(record.levelno, record.getMessage())
        except Exception:  # noqa: BLE001 - logging must never raise into the engine
            self.handleError(record)


class _NoTracebacks(logging.Filter):
    """Drops the traceback of Prefect's records on the console; the message line stays.

    A console handler is the last stop of a record (Prefect's API handler, on the run loggers,
    has already sent it with its traceback to the server, where the UI shows it).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("prefect") and record.exc_info:
            record.exc_info = None
            record.exc_text = None
        return True


class _Counted:
    """Something installed while at least one user needs it, removed when the last one leaves."""

    def __init__(self, install: Callable[[], None], remove: Callable[[], None]) -> None:
        self._install, self._remove = install, remove
        self._users = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            self._users += 1
            if self._users == 1:
                self._install()
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    self._remove()


_FORWARDER = _ForwardToRunLogger()
_NO_TRACEBACKS = _NoTracebacks()


def _filter_consoles(add: bool) -> None:
    for handler in logging.getLogger().handlers:
        if isinstance(handler, PrefectConsoleHandler):
            (handler.addFilter if add else handler.removeFilter)(_NO_TRACEBACKS)


#: Send the engine's (``madstream`` logger) records to Prefect's run logger while a task run materializes.
forwarding_logs = _Counted(
    lambda: logging.getLogger("madstream").addHandler(_FORWARDER),
    lambda: logging.getLogger("madstream").removeHandler(_FORWARDER),
)

#: Keep Prefect's tracebacks off the console (its one-line messages stay; the UI keeps tracebacks).
quiet_console = _Counted(lambda: _filter_consoles(True), lambda: _filter_consoles(False))
