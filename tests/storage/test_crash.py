"""Kills, racing writers and readers during commits, with real processes on every shared backend.

A child process runs an asset and is killed with SIGKILL at each named step of the commit
protocol (``MADSTREAM_CRASH_AT``) or at a random moment; another writes while this one reads;
two write the same configuration at once. After each, the invariants hold: readers see whole
versions only, the user's folders hold no temporary names, the next run succeeds and the seed's
paths show the latest version, and ``vacuum`` clears what the dead run left.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import anyio
import pyarrow.parquet as pq
import pytest

from madstream import asset, get_fs
from madstream.commit.crashpoints import STEPS
from madstream.commit.retention import vacuum
from madstream.commit.versions import Dataset

from .conftest import Backend

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]

#: Rows per page and pages per run: every row of a version carries the same `gen`.
ROWS, PAGES = 50, 3

JOB = """
import asyncio, os, sys
from madstream import asset

@asset("crash/out.parquet|csv", name="crash", artifact_filetype="json")
async def crash(gen: int = 0):
    for page in range({pages}):
        yield [{{"gen": gen, "page": page, "i": i}} for i in range({rows})]
        await asyncio.sleep(float(os.environ.get("PAGE_SLEEP", "0")))

async def main():
    first, count = int(sys.argv[1]), int(sys.argv[2])
    for gen in range(first, first + count):
        await crash(gen=gen)
        print("committed", gen, flush=True)

asyncio.run(main())
"""


@pytest.fixture
def shared(backend: Backend) -> Backend:
    if not backend.shared:
        pytest.skip("memory:// lives inside one process")
    return backend


@asset("crash/out.parquet|csv", name="crash", artifact_filetype="json")
async def crash(gen: int = 0):
    for page in range(PAGES):
        yield [{"gen": gen, "page": page, "i": i} for i in range(ROWS)]


def _job(tmp_path: Path) -> Path:
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(JOB.format(pages=PAGES, rows=ROWS)))
    return script


async def _all_versions() -> list:
    fs = await get_fs()
    return Dataset(fs, "crash/out.parquet").history()


async def _check_invariants(expect_versions: int | None = None) -> None:
    fs = await get_fs()
    history = Dataset(fs, "crash/out.parquet").history()
    if expect_versions is not None:
        assert len(history) == expect_versions
    for version in history:  # each version is one run's files, whole
        gen = int(version.parameters.split(":")[1].rstrip("}"))  # '{"gen":N}'
        rows = (await crash.with_arguments(gen=gen).query("SELECT count(*), min(gen), max(gen)", version=version.version)).fetchall()
        assert rows == [(PAGES * ROWS, gen, gen)]
        assert len(version.fragments) == PAGES
    user = fs.glob("crash/**")
    assert not [p for p in user if "/." in "/" + p or p.endswith(".tmp")], user


async def _next_run_succeeds_and_shows(gen: int) -> None:
    artifact = await crash(gen=gen)
    fs = await get_fs()
    shown = pq.read_table(io.BytesIO(await fs.read_path("crash/out.parquet")))
    assert shown.num_rows == PAGES * ROWS and set(shown.column("gen").to_pylist()) == {gen}
    fragments = fs.glob("crash/_artifacts/asset=crash/fragment=*")
    assert len(fragments) == PAGES
    assert artifact.version == (await _all_versions())[-1].version


async def _vacuum_clears_leftovers() -> None:
    fs = await get_fs()
    dataset = Dataset(fs, "crash/out.parquet")
    await anyio.to_thread.run_sync(lambda: vacuum(dataset, grace=0))
    listed = {v.run_id for v in dataset.history()}
    runs = {p.rsplit("/", 1)[1] for p in fs.glob(f"{dataset.root}/runs/*")}
    assert runs == listed
    assert fs.glob(f"{dataset.root}/scratch/*") == []


@pytest.mark.parametrize("step", STEPS)
async def test_a_run_killed_at_each_step_leaves_whole_versions_only(shared: Backend, tmp_path: Path, step: str) -> None:
    await crash(gen=1)
    done = await anyio.run_process(
        [sys.executable, str(_job(tmp_path)), "2", "1"], env=shared.child_env(MADSTREAM_CRASH_AT=step), check=False, cwd=tmp_path,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
    committed = step not in ("written", "committing")
    await _check_invariants(expect_versions=2 if committed else 1)
    await _next_run_succeeds_and_shows(3)
    await _vacuum_clears_leftovers()
    await _check_invariants(expect_versions=3 if committed else 2)


async def test_runs_killed_at_random_moments_leave_whole_versions_only(shared: Backend, tmp_path: Path) -> None:
    kills = int(os.environ.get("MADSTREAM_STRESS_KILLS", "3"))
    rng = random.Random(kills)
    job = _job(tmp_path)
    for k in range(kills):
        child = subprocess.Popen(
            [sys.executable, str(job), str(10 * (k + 1)), "5"], env=shared.child_env(PAGE_SLEEP="0.02"), cwd=tmp_path,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        await anyio.sleep(rng.uniform(1.0, 2.5))  # past the imports: somewhere in a run or a commit
        child.send_signal(signal.SIGKILL)
        child.wait()
        await _check_invariants()
    await _next_run_succeeds_and_shows(1000)
    await _vacuum_clears_leftovers()
    await _check_invariants()


async def test_a_reader_never_sees_a_mixed_state_while_another_process_commits(shared: Backend, tmp_path: Path) -> None:
    writes = 6
    writer = subprocess.Popen(
        [sys.executable, str(_job(tmp_path)), "1", str(writes)], env=shared.child_env(), cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    ran = []

    @asset("crash/out.parquet|csv", name="crash", artifact_filetype="json", cache_expiration=dt.timedelta(hours=1))
    async def reader(gen: int = 0):
        ran.append(gen)
        yield [{"gen": -1}]

    seen, errors = set(), []
    deadline = time.monotonic() + 120
    while writer.poll() is None and time.monotonic() < deadline:
        fs = await get_fs()
        history = Dataset(fs, "crash/out.parquet").history()
        if not history:
            await anyio.sleep(0.05)
            continue
        gen = int(history[-1].parameters.split(":")[1].rstrip("}"))
        try:
            rows = (await reader.with_arguments(gen=gen).query("SELECT count(*), min(gen), max(gen)")).fetchall()
        except Exception as exc:  # noqa: BLE001 - every error is a failure of the test, counted
            errors.append(repr(exc))
            continue
        assert rows == [(PAGES * ROWS, gen, gen)]
        seen.add(gen)
    assert writer.wait() == 0, writer.stderr.read().decode()[-2000:] if writer.stderr else ""
    assert errors == [] and ran == []
    assert len(seen) >= 2  # the reader overlapped several commits


async def test_two_processes_racing_one_configuration_commit_one_run_per_version(shared: Backend, tmp_path: Path) -> None:
    job = _job(tmp_path)
    children = [
        subprocess.Popen([sys.executable, str(job), str(first), "3"], env=shared.child_env(), cwd=tmp_path,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for first in (100, 200)
    ]
    for child in children:
        assert child.wait(timeout=150) == 0, child.stderr.read().decode()[-2000:] if child.stderr else ""
    history = await _all_versions()
    assert [v.version for v in history] == list(range(1, 7))
    await _check_invariants(expect_versions=6)
    fs = await get_fs()
    shown = pq.read_table(io.BytesIO(await fs.read_path("crash/out.parquet")))
    latest_gen = int(history[-1].parameters.split(":")[1].rstrip("}"))
    assert set(shown.column("gen").to_pylist()) == {latest_gen}
