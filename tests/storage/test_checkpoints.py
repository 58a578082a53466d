"""Checkpoints: a long append commits its progress as it goes, and a crash then a re-run of an
incremental asset leaves every row exactly once (real processes, killed, on every shared backend)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from madstream import DefinitionError, asset, get_fs, incremental
from madstream.commit.versions import Dataset

from .conftest import Backend

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(240)]

ROWS, PAGE = 200, 10

JOB = f"""
import asyncio, os, time
from madstream import asset, incremental

@asset("ck/events.parquet", name="ck", write_mode="append", checkpoint_every=30)
async def events(since=incremental("at", initial_value=0)):
    for start in range(0, {ROWS}, {PAGE}):
        yield [{{"id": i, "at": i}} for i in range(start + 1, start + {PAGE} + 1) if i > since.last_value]
        await asyncio.sleep(float(os.environ.get("PAGE_SLEEP", "0")))

asyncio.run(events())
"""


@asset("ck/events.parquet", name="ck", write_mode="append", checkpoint_every=30)
async def events(since=incremental("at", initial_value=0)):  # type: ignore[no-untyped-def]
    for start in range(0, ROWS, PAGE):
        yield [{"id": i, "at": i} for i in range(start + 1, start + PAGE + 1) if i > since.last_value]


async def _history() -> list[Any]:
    return Dataset(await get_fs(), "ck/events.parquet").history()


async def _every_row_once() -> None:
    await events()  # the re-run resumes from the last checkpoint's mark
    result = await events.query("SELECT count(*), count(DISTINCT id), min(id), max(id)")
    assert result.fetchall() == [(ROWS, ROWS, 1, ROWS)]


async def test_a_long_append_commits_a_version_at_each_checkpoint(backend: Backend) -> None:
    await events()
    history = await _history()
    assert [v.rows for v in history] == [30, 60, 90, 120, 150, 180, 200]
    assert [v.state["cursor"]["last_value"]["value"] for v in history] == [30, 60, 90, 120, 150, 180, 200]
    assert len({v.run_id for v in history}) == 1  # one run, seven versions
    assert (await events.query("SELECT count(*)", version=2)).fetchall() == [(60,)]


async def test_a_run_killed_after_a_checkpoint_resumes_from_it(backend: Backend, tmp_path: Path) -> None:
    if not backend.shared:
        pytest.skip("memory:// lives inside one process")
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(JOB))
    done = await anyio.run_process([sys.executable, str(script)], env=backend.child_env(MADSTREAM_CRASH_AT="committed"),
                                   check=False, cwd=tmp_path)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
    assert [v.rows for v in await _history()] == [30]  # the first checkpoint stands
    await _every_row_once()


async def test_a_run_killed_at_a_random_moment_loses_and_repeats_nothing(backend: Backend, tmp_path: Path) -> None:
    if not backend.shared:
        pytest.skip("memory:// lives inside one process")
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(JOB))
    child = subprocess.Popen([sys.executable, str(script)], env=backend.child_env(PAGE_SLEEP="0.05"), cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while len(await _history()) < 2 and child.poll() is None and time.monotonic() < deadline:
        await anyio.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    history = await _history()
    assert len(history) >= 2
    for version in history:  # every committed version is whole: its rows are 1..mark
        mark = version.state["cursor"]["last_value"]["value"]
        rows = (await events.query("SELECT count(*), count(DISTINCT id), max(id)", version=version.version)).fetchall()
        assert rows == [(mark, mark, mark)]
    await _every_row_once()


def test_checkpoints_need_an_appended_or_merged_dataset() -> None:
    with pytest.raises(DefinitionError, match="checkpoint_every needs"):
        asset("x.parquet", checkpoint_every=10)(lambda: [])
    with pytest.raises(DefinitionError, match="neither a number of rows nor a size"):
        asset("x.parquet", write_mode="append", checkpoint_every="lots")(lambda: [])


async def test_a_checkpoint_can_be_a_size(backend: Backend) -> None:
    @asset("ck/sized.parquet", name="sized", write_mode="append", checkpoint_every="4KB")
    async def sized():
        for page in range(4):
            yield [{"page": page, "text": "x" * 100} for _ in range(50)]  # ~5 KB of Arrow data a page

    await sized()
    assert [v.rows for v in await sized.versions()] == [50, 100, 150, 200]
