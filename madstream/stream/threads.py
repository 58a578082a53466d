"""Stage threads: one thread per pipeline stage for a whole run, awaited from async code.

A stage keeps its own thread rather than taking whichever worker is idle: allocators keep
per-thread heaps, and a stage that hops between threads leaves freed buffers cached in every
heap it touched (~30 MiB of peak RSS on the standard bench, ``benches/bench_memory.py``).

While a run's stages work, the interpreter hands the GIL over more often (:func:`quick_handoffs`).
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

import anyio
import anyio.from_thread
import anyio.lowlevel

__all__ = ["StageThread", "quick_handoffs"]

T = TypeVar("T")

#: The GIL switch interval while runs are under way (seconds; the interpreter's default is 5 ms).
#: A write stage releases the GIL inside every Arrow call and needs it back a few times a page;
#: each time, the thread converting the next page holds it until the interval runs out. At 5 ms
#: the writer spends most of a run waiting, and two cores run slower than one; at 0.1 ms the
#: stages overlap (benches/README.md, "Handing the GIL over"). ``MADSTREAM_SWITCH_INTERVAL``
#: sets another value; 0 leaves the interpreter's own. On one core a hand-off is a context
#: switch and nothing runs beside the holder, so there the interval is left alone.
SWITCH_INTERVAL = 0.0001

_handoffs_lock = threading.Lock()
_runs_under_way = 0
_interval_before = 0.0


def _interval() -> float:
    try:
        wanted = float(os.environ.get("MADSTREAM_SWITCH_INTERVAL", SWITCH_INTERVAL))
    except ValueError:
        wanted = SWITCH_INTERVAL
    return wanted if _cores() > 1 else 0.0


def _cores() -> int:
    """The processors this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextmanager
def quick_handoffs() -> Iterator[None]:
    """Shorten the GIL switch interval while at least one run's stages work, and put the
    interpreter's own back when the last one ends (never lengthen a shorter one set by the user)."""
    global _runs_under_way, _interval_before
    wanted = _interval()
    with _handoffs_lock:
        _runs_under_way += 1
        if _runs_under_way == 1:
            _interval_before = sys.getswitchinterval()
            if 0 < wanted < _interval_before:
                sys.setswitchinterval(wanted)
    try:
        yield
    finally:
        with _handoffs_lock:
            _runs_under_way -= 1
            if _runs_under_way == 0:
                sys.setswitchinterval(_interval_before)


def _on_asyncio() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def _completion(future: Future[Any]) -> None:
    """Wait for ``future`` on any anyio backend."""
    done, token, loop_thread = anyio.Event(), anyio.lowlevel.current_token(), threading.get_ident()

    def wake(_: Future[Any]) -> None:
        # A future already done runs this at once, in the loop's own thread.
        if threading.get_ident() == loop_thread:
            done.set()
        else:
            anyio.from_thread.run_sync(done.set, token=token)

    future.add_done_callback(wake)
    await done.wait()


class StageThread:
    """One thread that runs a stage's blocking calls in order, awaited from async code."""

    def __init__(self, name: str) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"madstream-{name}")

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        # Like anyio.to_thread.run_sync: the caller's context variables go along, and a
        # cancelled caller still waits for the call to finish (the thread owns its files).
        future = self.submit(fn, *args)
        with anyio.CancelScope(shield=True):
            await self.wait(future)
        return future.result()

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Queue ``fn(*args)`` behind the calls before it, with the caller's context; not awaited."""
        return self._executor.submit(contextvars.copy_context().run, fn, *args)

    async def wait(self, future: Future[Any]) -> None:
        """Wait until ``future`` (from :meth:`submit`) is done, whatever its outcome."""
        if _on_asyncio():
            wrapped = asyncio.wrap_future(future)
            await asyncio.wait([wrapped])
            if not wrapped.cancelled():
                wrapped.exception()  # marks it seen: the caller reads `future` itself
        else:
            await _completion(future)

    def close(self) -> None:
        # Calls still queued belong to a run that is over (it failed): they are dropped.
        self._executor.shutdown(wait=False, cancel_futures=True)
