"""Appends and incremental cursors on every backend: each run adds its rows as one version, a failed
or killed append leaves the dataset exactly as it was, and concurrent appenders all land once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import anyio
import pytest

from madstream import DefinitionError, ExtractError, asset, get_fs, incremental
from madstream.commit.versions import Dataset

from .conftest import Backend

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(240)]


def _appender(name: str = "events", path: str = "app/events.parquet"):  # type: ignore[no-untyped-def]
    @asset(path, name=name, write_mode="append")
    async def events(batch: list[dict[str, object]] | None = None):
        yield batch or []

    return events


async def test_each_append_adds_its_rows_as_a_new_version(backend: Backend) -> None:
    events = _appender()
    for run in range(3):
        await events([{"run": run, "i": i} for i in range(run + 1)])
    result = await events.query("SELECT run, count(*) GROUP BY run ORDER BY run")
    assert result.fetchall() == [(0, 1), (1, 2), (2, 3)]
    history = Dataset(await get_fs(), "app/events.parquet").history()
    assert [(v.version, v.rows) for v in history] == [(1, 1), (2, 3), (3, 6)]  # rows so far, per version
    # Time travel: version 2 holds the first two runs' rows only.
    assert (await events.query("SELECT count(*)", version=2)).fetchall() == [(3,)]
    fs = await get_fs()
    parts = fs.glob("app/events/part-*.parquet")
    assert len(parts) == 3  # the seed-side view: one part per run, in the dataset's folder


async def test_an_append_with_no_rows_adds_nothing(backend: Backend) -> None:
    events = _appender("quiet", "app/quiet.json")
    await events([{"a": 1}])
    await events([])
    assert (await events.query("SELECT count(*)")).fetchall() == [(1,)]


@pytest.mark.parametrize("ext", ["parquet", "json", "csv"])
async def test_appends_widen_the_schema_losslessly(backend: Backend, ext: str) -> None:
    if backend.name in ("sftp", "s3") and ext != "parquet":
        pytest.skip("each format runs on local and memory; remote backends run parquet (the storage steps are the same)")
    events = _appender(f"wide_{ext}", f"app/wide.{ext}")
    await events([{"id": 1, "day": "2024-01-02"}])
    await events([{"id": "A-2", "day": "2024-01-03", "extra": 2.5}])
    result = await events.query("SELECT id, day, extra ORDER BY day")
    assert [str(t) for t in result.types] == ["VARCHAR", "DATE", "DOUBLE"]
    assert [(r[0], r[1].isoformat(), r[2]) for r in result.fetchall()] == [("1", "2024-01-02", None), ("A-2", "2024-01-03", 2.5)]


async def test_a_failed_append_leaves_the_dataset_as_it_was(backend: Backend) -> None:
    @asset("app/fail.parquet", name="fail", write_mode="append")
    async def flaky(fail: bool):
        yield [{"n": 1}, {"n": 2}]
        if fail:
            raise RuntimeError("the source went away")

    await flaky(False)
    with pytest.raises(ExtractError, match="the source went away"):
        await flaky(True)
    assert (await flaky.with_arguments(False).query("SELECT count(*)")).fetchall() == [(2,)]
    fs = await get_fs()
    assert len(fs.glob("app/fail/part-*")) == 1


def test_an_unknown_write_mode_is_refused_when_the_asset_is_defined() -> None:
    with pytest.raises(DefinitionError, match="write_mode `upsert`"):
        asset("x.parquet", write_mode="upsert")(lambda: [])


# -- incremental cursors ------------------------------------------------------------------------------

SOURCE = [{"id": i, "updated_at": 10 * i} for i in range(1, 10)]


async def test_an_incremental_cursor_fetches_only_newer_rows_and_commits_its_mark(backend: Backend) -> None:
    seen: list[object] = []

    @asset("inc/events.parquet", name="inc_events", write_mode="append")
    async def events(since=incremental("updated_at", initial_value=0)):  # type: ignore[no-untyped-def]
        seen.append(since.last_value)
        yield [row for row in SOURCE if row["updated_at"] > since.last_value][:4]

    for _ in range(4):
        await events()
    assert seen == [0, 40, 80, 90]
    result = await events.query("SELECT count(*), count(DISTINCT id), max(updated_at)")
    assert result.fetchall() == [(9, 9, 90)]


async def test_a_failed_run_never_advances_the_cursor(backend: Backend) -> None:
    seen: list[object] = []
    fail = [False]

    @asset("inc/flaky.parquet", name="inc_flaky", write_mode="append")
    async def events(since=incremental("updated_at", initial_value=0)):  # type: ignore[no-untyped-def]
        seen.append(since.last_value)
        yield [row for row in SOURCE if row["updated_at"] > since.last_value][:3]
        if fail[0]:
            raise RuntimeError("cut off")

    await events()
    fail[0] = True
    with pytest.raises(ExtractError):
        await events()
    fail[0] = False
    await events()
    assert seen == [0, 30, 30]  # the failed run's rows were never committed: fetched again
    assert (await events.query("SELECT count(*), count(DISTINCT id)")).fetchall() == [(6, 6)]


async def test_lag_min_and_end_value_behave_as_declared(backend: Backend) -> None:
    lagged: list[object] = []

    @asset("inc/lag.parquet", name="inc_lag", write_mode="append")
    async def late(since=incremental("updated_at", initial_value=0, lag=15)):  # type: ignore[no-untyped-def]
        lagged.append(since.last_value)
        yield [row for row in SOURCE if since.last_value < row["updated_at"] <= since.last_value + 40]

    await late()
    await late()
    assert lagged == [0, 25]  # committed 40, minus a lag of 15

    backwards: list[object] = []

    @asset("inc/min.parquet", name="inc_min", write_mode="append")
    async def older(cursor=incremental("updated_at", initial_value=1000, last_value_func="min")):  # type: ignore[no-untyped-def]
        backwards.append(cursor.last_value)
        yield [row for row in SOURCE if row["updated_at"] < cursor.last_value][-2:]

    await older()
    await older()
    assert backwards == [1000, 80]

    marks: list[object] = []

    @asset("inc/backfill.parquet", name="inc_backfill", write_mode="append")
    async def backfill(since=incremental("updated_at", initial_value=0)):  # type: ignore[no-untyped-def]
        marks.append(since.last_value)
        end = since.end_value if since.end_value is not None else 10**9
        yield [row for row in SOURCE if since.last_value < row["updated_at"] <= end]

    await backfill.with_arguments(since=incremental("updated_at", initial_value=0, end_value=30))()
    await backfill()  # a backfill never moves the live mark: this run starts from the initial value
    assert marks == [0, 0]
    [first, second] = await backfill.versions()
    assert second.state["cursor"]["last_value"]["value"] == 90
    assert first.state["cursor"]["last_value"] is None


async def test_a_datetime_cursor_round_trips_exactly(backend: Backend) -> None:
    import datetime as dt

    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    seen: list[object] = []

    @asset("inc/times.parquet", name="inc_times", write_mode="append")
    async def stamped(since=incremental("at", initial_value=start)):  # type: ignore[no-untyped-def]
        seen.append(since.last_value)
        yield [{"at": since.last_value + dt.timedelta(hours=h)} for h in (1, 2)]

    await stamped()
    await stamped()
    assert seen == [start, start + dt.timedelta(hours=2)]


# -- processes: kills and concurrent appenders -------------------------------------------------------

JOB = """
import asyncio, sys
from madstream import asset

@asset("race/events.parquet", name="race", write_mode="append")
async def race(writer: int, n: int):
    yield [{{"writer": writer, "n": n, "i": i}} for i in range({rows})]

async def main():
    writer, count = int(sys.argv[1]), int(sys.argv[2])
    for n in range(count):
        await race(writer, n)

asyncio.run(main())
"""


def _script(tmp_path: Path, rows: int = 5) -> Path:
    script = tmp_path / "race.py"
    script.write_text(textwrap.dedent(JOB.format(rows=rows)))
    return script


@asset("race/events.parquet", name="race", write_mode="append")
async def race(writer: int, n: int):  # type: ignore[no-untyped-def]
    yield [{"writer": writer, "n": n, "i": i} for i in range(5)]


async def test_concurrent_appenders_all_land_exactly_once(backend: Backend, tmp_path: Path) -> None:
    if not backend.shared:
        pytest.skip("memory:// lives inside one process")
    writers, appends = (4, 10) if backend.name == "local" else (2, int(os.environ.get("MADSTREAM_STRESS_APPENDS", "4")))
    script = _script(tmp_path)
    children = [
        subprocess.Popen([sys.executable, str(script), str(w), str(appends)], env=backend.child_env(), cwd=tmp_path,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for w in range(writers)
    ]
    for child in children:
        assert child.wait(timeout=200) == 0, child.stderr.read().decode()[-2000:] if child.stderr else ""
    result = await race.with_arguments(0, 0).query("SELECT count(*), count(DISTINCT (writer, n, i)), count(DISTINCT (writer, n))")
    assert result.fetchall() == [(writers * appends * 5, writers * appends * 5, writers * appends)]
    history = Dataset(await get_fs(), "race/events.parquet").history()
    assert [v.version for v in history] == list(range(1, writers * appends + 1))  # one version per append
    assert len({v.run_id for v in history}) == writers * appends


@pytest.mark.parametrize("step", ["written", "committing", "committed"])
async def test_an_append_killed_at_a_commit_step_is_all_or_nothing(backend: Backend, tmp_path: Path, step: str) -> None:
    if not backend.shared:
        pytest.skip("memory:// lives inside one process")
    await race(0, 0)
    done = await anyio.run_process(
        [sys.executable, str(_script(tmp_path)), "1", "1"], env=backend.child_env(MADSTREAM_CRASH_AT=step), check=False,
        cwd=tmp_path,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
    landed = step == "committed"
    expected = [(10, 2)] if landed else [(5, 1)]
    assert (await race.with_arguments(0, 0).query("SELECT count(*), count(DISTINCT writer)")).fetchall() == expected
    await race(2, 0)  # the next append lands on top of whatever was committed
    assert (await race.with_arguments(0, 0).query("SELECT count(*)")).fetchall() == [(expected[0][0] + 5,)]
