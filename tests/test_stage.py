"""Stage threads: one thread per stage, calls in order, context carried along."""

from __future__ import annotations

import contextvars
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import anyio
import pytest

from madstream import DataAsset, asset
from madstream.stream.threads import StageThread, _completion

pytestmark = pytest.mark.anyio

_who: contextvars.ContextVar[str] = contextvars.ContextVar("who", default="nobody")


async def _run(stage: StageThread, fn: Callable[[], object]) -> object:
    future = stage.submit(fn)
    await stage.wait(future)
    return future.result()


async def test_a_stage_runs_every_call_in_one_thread_in_order_with_the_callers_context() -> None:
    stage = StageThread("test")
    seen: list[tuple[int, int, str]] = []
    _who.set("caller")
    try:
        for i in range(5):
            got = await _run(stage, lambda i=i: seen.append((i, threading.get_ident(), _who.get())) or i * 2)
            assert got == i * 2
    finally:
        stage.close()
    assert [s[0] for s in seen] == [0, 1, 2, 3, 4]
    assert len({s[1] for s in seen}) == 1 and seen[0][1] != threading.get_ident()
    assert {s[2] for s in seen} == {"caller"}


async def test_a_stage_error_reaches_the_caller() -> None:
    stage = StageThread("test")
    try:
        with pytest.raises(ZeroDivisionError):
            await _run(stage, lambda: 1 / 0)
        assert await _run(stage, lambda: "still serving") == "still serving"
    finally:
        stage.close()


async def test_completion_waits_for_pending_and_finished_futures() -> None:
    # The generic (non-asyncio) wait: a future finished before the wait wakes it in the loop's
    # own thread; one finished later wakes it from the worker thread.
    finished: Future[int] = Future()
    finished.set_result(1)
    await _completion(finished)
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(lambda: time.sleep(0.05) or 2)
        await _completion(pending)
        assert pending.done() and pending.result() == 2


async def test_runs_shorten_the_gil_switch_interval_while_under_way_and_restore_it() -> None:
    from madstream.stream.tuning import SWITCH_INTERVAL

    before = sys.getswitchinterval()
    seen: list[float] = []

    @asset("t/slow.parquet", name="slow")
    async def slow():
        for i in range(3):
            seen.append(sys.getswitchinterval())
            yield [{"i": i}]
            await anyio.sleep(0.01)

    @asset("t/quick.parquet", name="quick")
    async def quick():
        seen.append(sys.getswitchinterval())
        yield [{"i": 1}]

    # Two runs at once: the one that ends first must not restore the interval under the other.
    async with anyio.create_task_group() as tg:
        tg.start_soon(slow)
        tg.start_soon(quick)
    assert seen == [pytest.approx(SWITCH_INTERVAL)] * 4
    assert sys.getswitchinterval() == before
    assert (await slow.query("SELECT count(*)")).fetchone() == (3,)


def _recording(name: str, probe: Callable[[], object], seen: list[object]) -> DataAsset:
    """An asset whose run records ``probe()`` in ``seen`` while its stages work."""

    @asset(f"t/{name}.parquet", name=name)
    async def recording():
        seen.append(probe())
        yield [{"i": 1}]

    return recording


async def test_the_switch_interval_is_left_alone_when_told(monkeypatch) -> None:
    monkeypatch.setenv("MADSTREAM_SWITCH_INTERVAL", "0")
    before = sys.getswitchinterval()
    seen: list[object] = []
    await _recording("plain", sys.getswitchinterval, seen)()
    assert seen == [before] and sys.getswitchinterval() == before


async def test_queued_writes_keep_page_order_and_stop_at_the_first_failed_one() -> None:
    from madstream.base.errors import MadstreamError
    from madstream.stream.channel import pump

    written: list[int] = []
    threads: set[int] = set()

    def write(batch, _json) -> None:
        threads.add(threading.get_ident())
        first = batch.column("i")[0].as_py()
        if first == 3:
            raise MadstreamError("disk full at page 3", asset="pages", hint="free space")
        time.sleep(0.005)  # the writer is behind: the pages after it are queued
        written.append(first)

    async def pages():
        for i in range(8):
            yield [{"i": i}]

    with pytest.raises(MadstreamError, match="disk full at page 3"):
        await pump(pages(), write, asset="pages")
    assert written == [0, 1, 2]  # nothing written after the failed page, nothing out of order
    assert len(threads) == 1 and threading.get_ident() not in threads

    written.clear()

    async def fine():
        for i in range(10, 16):
            yield [{"i": i}]

    assert await pump(fine(), write, asset="pages") == 6
    assert written == [10, 11, 12, 13, 14, 15]


def _printed_by(probe: str) -> list[str]:
    """What ``probe`` prints, run in a fresh interpreter (its process settings are its own)."""
    import subprocess

    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()


def test_the_switch_interval_is_left_alone_on_one_core() -> None:
    import os

    if not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs two processors to pin one")
    probe = (
        "import os, sys; from madstream.stream.tuning import run_tuning\n"
        "before = sys.getswitchinterval()\n"
        "with run_tuning(): print(sys.getswitchinterval() < before)\n"
        "os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\n"
        "with run_tuning(): print(sys.getswitchinterval() == before)\n"
    )
    assert _printed_by(probe) == ["True", "True"]


async def test_a_failed_run_returns_only_after_the_write_under_way_has_finished() -> None:
    # The run's cleanup removes its folder once pump returns: a write still running then would
    # write into a folder being removed.
    from madstream.base.errors import BatchError
    from madstream.stream.channel import pump

    written: list[int] = []

    def slow_write(batch, _json) -> None:
        time.sleep(0.3)
        written.append(batch.column("i")[0].as_py())

    async def pages():
        yield [{"i": 0}]
        await anyio.sleep(0.05)  # the first page's write is under way
        yield {1, 2, 3}  # not a table row: the run fails at batch 2

    with pytest.raises(BatchError, match="batch 2"):
        await pump(pages(), slow_write, asset="pages")
    assert written == [0]


async def test_objects_from_before_a_run_stay_out_of_its_collections_and_come_back_after(monkeypatch) -> None:
    import gc

    assert gc.get_freeze_count() == 0
    gc.collect()  # objects are frozen only after a full pass since the last unfreeze (below)
    seen: list[object] = []
    frozen = _recording("frozen", gc.get_freeze_count, seen)
    await frozen()
    assert seen[0] > 1000  # the modules and objects made before the run
    assert gc.get_freeze_count() == 0

    monkeypatch.setenv("MADSTREAM_FREEZE_GC", "0")
    await frozen()
    assert seen[1] == 0


async def test_an_application_that_froze_objects_itself_keeps_them_frozen() -> None:
    import gc

    gc.freeze()  # as a pre-fork server does
    try:
        frozen_by_app = gc.get_freeze_count()
        seen: list[object] = []
        await _recording("app", gc.get_freeze_count, seen)()
        # Frozen objects that die leave the count; none is added by the run, none unfrozen by it.
        assert 0 < seen[0] <= frozen_by_app
        assert 0 < gc.get_freeze_count() <= frozen_by_app
    finally:
        gc.unfreeze()


async def test_back_to_back_runs_do_not_freeze_again_what_no_full_pass_has_looked_at() -> None:
    # Garbage from before a run is frozen with everything else; were the next run to freeze it
    # again before any full pass, a series of runs would keep it alive for good.
    import gc

    thresholds = gc.get_threshold()
    gc.set_threshold(thresholds[0], thresholds[1], 10**9)  # no full pass but the ones asked for
    try:
        gc.collect()
        seen: list[object] = []
        runs = _recording("b2b", gc.get_freeze_count, seen)
        await runs()
        await runs()
        gc.collect()
        await runs()
    finally:
        gc.set_threshold(*thresholds)
    first, second, third = seen
    assert isinstance(first, int) and first > 1000
    assert second == 0
    assert isinstance(third, int) and third > 1000
    assert gc.get_freeze_count() == 0


async def test_a_failed_write_is_the_runs_error_while_the_extract_is_pages_ahead() -> None:
    # The producer waits to send while the writer fails: the writer's error must come out,
    # not the closed channel's.
    from madstream.stream.channel import pump

    def failing_write(batch, _json) -> None:
        if batch.column("i")[0].as_py() == 2:
            raise PermissionError("the folder is read-only")

    async def pages():
        for i in range(60):
            yield [{"i": i}]

    for _ in range(3):
        with pytest.raises(PermissionError, match="read-only"):
            await pump(pages(), failing_write, asset="pages")


def test_a_process_forked_during_a_run_gets_the_interpreters_own_settings() -> None:
    import os

    if not hasattr(os, "fork") or len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs fork and two processors")
    probe = (
        "import gc, os, sys\n"
        "from madstream.stream.tuning import run_tuning\n"
        "gc.collect(); before = sys.getswitchinterval()\n"
        "with run_tuning():\n"
        "    tuned = sys.getswitchinterval() < before and gc.get_freeze_count() > 0\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        os._exit(0 if sys.getswitchinterval() == before and gc.get_freeze_count() == 0 else 1)\n"
        "    child_ok = os.waitpid(pid, 0)[1] == 0\n"
        "print(tuned, child_ok, sys.getswitchinterval() == before, gc.get_freeze_count() == 0)\n"
    )
    assert _printed_by(probe) == ["True", "True", "True", "True"]


async def test_a_failed_write_comes_before_a_later_extract_error() -> None:
    # Batch 2's write fails while the extract function is already failing at batch 4: batch 2
    # came first, so its error is the run's, as when each batch was written before the next.
    from madstream.base.errors import ExtractError
    from madstream.stream.channel import pump

    def slow_failing_write(batch, _json) -> None:
        if batch.column("i")[0].as_py() == 2:
            time.sleep(0.2)
            raise PermissionError("the folder is read-only")

    async def pages():
        for i in range(1, 4):
            yield [{"i": i}]
        raise RuntimeError("the API went away")

    with pytest.raises(PermissionError, match="read-only"):
        await pump(pages(), slow_failing_write, asset="pages")

    async def fails_alone():
        yield [{"i": 1}]
        raise RuntimeError("the API went away")

    with pytest.raises(ExtractError, match="API went away") as caught:  # no write failed: the extract's error
        await pump(fails_alone(), slow_failing_write, asset="pages")
    assert caught.value.batch == 2
