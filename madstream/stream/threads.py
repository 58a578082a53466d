"""Stage threads: one thread per pipeline stage for a whole run, awaited from async code.

A stage keeps its own thread rather than taking whichever worker is idle: allocators keep
per-thread heaps, and a stage that hops between threads leaves freed buffers cached in every
heap it touched (~30 MiB of peak RSS on the standard bench, ``benches/bench_memory.py``).
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import anyio
import anyio.from_thread
import anyio.lowlevel

__all__ = ["StageThread"]

T = TypeVar("T")

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


def _seen(wrapped: asyncio.Future[Any]) -> None:
    if not wrapped.cancelled():
        wrapped.exception()


class StageThread:
    """One thread that runs a stage's blocking calls in order, awaited from async code."""

    def __init__(self, name: str) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"madstream-{name}")

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Queue ``fn(*args)`` behind the calls before it, with the caller's context variables
        (as ``anyio.to_thread.run_sync`` passes them); not awaited."""
        return self._executor.submit(contextvars.copy_context().run, fn, *args)

    async def wait(self, future: Future[Any]) -> None:
        """Wait until ``future`` (from :meth:`submit`) is done, whatever its outcome."""
        if _on_asyncio():
            wrapped = asyncio.wrap_future(future)
            try:
                await asyncio.wait([wrapped])
            finally:
                # The caller reads `future` itself; the wrapper's outcome is marked seen, also
                # when this wait is cancelled first (asyncio would log it as never retrieved).
                wrapped.add_done_callback(_seen)
        else:
            await _completion(future)

    def close(self) -> None:
        # Calls still queued belong to a run that is over (it failed): they are dropped.
        self._executor.shutdown(wait=False, cancel_futures=True)
