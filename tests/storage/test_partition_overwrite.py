"""Partition overwrite on every backend: a run's rows replace exactly the partitions they fall in,
as one version; other partitions, earlier versions and concurrent writers of other partitions are
untouched, and two writers changing one partition at once is a conflict."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import anyio
import pytest

from madstream import ConflictError, DefinitionError, ExtractError, asset, get_fs

from .conftest import Backend, race

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(240)]


def _daily(path: str = "ow/sales.parquet", name: str = "sales"):  # type: ignore[no-untyped-def]
    @asset(path, name=name, partition_by=["day"], write_mode="overwrite_partitions")
    async def sales(rows: Any = None):
        yield rows or []

    return sales


def _rows(days: str, tag: str, n: int = 2) -> list[dict[str, object]]:
    return [{"day": day, "tag": tag, "i": i} for day in days for i in range(n)]


@pytest.mark.parametrize("ext", ["parquet", "json", "csv"])
async def test_a_run_replaces_only_the_partitions_its_rows_fall_in(backend: Backend, ext: str) -> None:
    if backend.name in ("sftp", "s3") and ext != "parquet":
        pytest.skip("each format runs on local and memory; remote backends run parquet (the storage steps are the same)")
    sales = _daily(f"ow/sales.{ext}", f"sales_{ext}")
    await sales(_rows("abc", "v1", 3))
    await sales(_rows("b", "v2", 1) + _rows("d", "v2", 2))  # reloads b (3 rows → 1), adds d
    read = sales.with_arguments(None)
    result = await read.query("SELECT day, tag, count(*) GROUP BY ALL ORDER BY day")
    assert result.fetchall() == [("a", "v1", 3), ("b", "v2", 1), ("c", "v1", 3), ("d", "v2", 2)]
    [first, second] = await read.versions()
    assert (first.rows, second.rows) == (9, 9)
    # Time travel: the first version still holds b's first load.
    assert (await read.query("SELECT tag, count(*) WHERE day = 'b' GROUP BY tag", version=1)).fetchall() == [("v1", 3)]
    fs = await get_fs()
    shown = sorted(p.split("/")[2] for p in fs.glob(f"ow/sales/day=*/part-*.{ext}"))
    assert shown == ["day=a", "day=b", "day=c", "day=d"]  # b's earlier file left the seed's view


async def test_a_run_with_no_rows_changes_no_partition(backend: Backend) -> None:
    sales = _daily()
    await sales(_rows("ab", "v1"))
    await sales([])
    assert (await sales.with_arguments(None).query("SELECT count(*)")).fetchall() == [(4,)]


async def test_columns_widen_across_overwrites_and_null_is_a_partition(backend: Backend) -> None:
    sales = _daily()
    await sales([{"day": "a", "amount": 1}, {"day": None, "amount": 2}])
    await sales([{"day": None, "amount": 2.5, "note": "late"}])  # the null partition is reloaded
    result = await sales.with_arguments(None).query("SELECT day, amount, note ORDER BY amount")
    assert [str(t) for t in result.types] == ["VARCHAR", "DOUBLE", "VARCHAR"]
    assert result.fetchall() == [("a", 1.0, None), (None, 2.5, "late")]


async def test_an_overwrite_after_a_replaced_partitioned_result_keeps_the_other_partitions(backend: Backend) -> None:
    @asset("ow/mixed.parquet", name="mixed", partition_by=["day"])
    async def full():
        yield _rows("abc", "full")

    await full()

    @asset("ow/mixed.parquet", name="mixed", partition_by=["day"], write_mode="overwrite_partitions")
    async def daily():
        yield _rows("c", "daily", 1)

    await daily()
    result = await daily.query("SELECT day, tag, count(*) GROUP BY ALL ORDER BY day")
    assert result.fetchall() == [("a", "full", 2), ("b", "full", 2), ("c", "daily", 1)]


async def test_a_failed_overwrite_changes_nothing(backend: Backend) -> None:
    @asset("ow/fail.parquet", name="fail", partition_by=["day"], write_mode="overwrite_partitions")
    async def flaky(rows: Any = None, fail: bool = False):
        yield rows or []
        if fail:
            raise RuntimeError("the source went away")

    await flaky(_rows("ab", "good"))
    with pytest.raises(ExtractError, match="the source went away"):
        await flaky(_rows("a", "bad"), True)
    result = await flaky.with_arguments(None).query("SELECT day, tag, count(*) GROUP BY ALL ORDER BY day")
    assert result.fetchall() == [("a", "good", 2), ("b", "good", 2)]


@pytest.mark.parametrize("rival", ["overwrite-same", "overwrite-other", "append-same"])
async def test_a_change_to_a_partition_being_overwritten_is_a_conflict(backend: Backend, rival: str) -> None:
    started, go = anyio.Event(), anyio.Event()

    @asset("ow/race.parquet", name="race", partition_by=["day"], write_mode="overwrite_partitions")
    async def sales(rows: Any = None, wait: bool = False):
        if wait:
            started.set()
            await go.wait()
        yield rows or []

    @asset("ow/race.parquet", name="race", partition_by=["day"], write_mode="append")
    async def late(rows: Any = None):
        yield rows or []

    await sales(_rows("ab", "base", 1))
    if rival == "append-same":
        rival_run = late.with_arguments(_rows("a", "appended", 1))
    else:
        rival_run = sales.with_arguments(_rows("a" if rival == "overwrite-same" else "b", "fast", 1))
    # The rival commits while the slow overwrite is writing.
    outcome = await race(sales.with_arguments(_rows("a", "slow", 1), True), rival_run, started, go)
    rows = (await sales.with_arguments(None).query("SELECT day, tag ORDER BY day, tag")).fetchall()
    if rival == "overwrite-other":
        assert outcome is None
        assert rows == [("a", "slow"), ("b", "fast")]  # disjoint partitions: both land
        return
    assert isinstance(outcome, ConflictError)
    assert "changed `ow/race/day=a` while this run was overwriting it; nothing was committed" in str(outcome)
    expected = [("a", "fast")] if rival == "overwrite-same" else [("a", "appended"), ("a", "base")]
    assert rows == [*expected, ("b", "base")]  # the slow overwrite committed nothing


def test_overwrite_options_are_checked_when_the_asset_is_defined() -> None:
    with pytest.raises(DefinitionError, match="needs partition_by"):
        asset("x.parquet", write_mode="overwrite_partitions")(lambda: [])
    with pytest.raises(DefinitionError, match="checkpoint_every needs write_mode='append' or 'merge'"):
        asset("x.parquet", partition_by=["d"], write_mode="overwrite_partitions", checkpoint_every=10)(lambda: [])


# -- processes: concurrent overwriters and kills ----------------------------------------------------

JOB = """
import asyncio, sys
from madstream import asset

@asset("ow/proc.parquet", name="proc", partition_by=["region"], write_mode="overwrite_partitions")
async def proc(writer: int, n: int):
    yield [{"region": f"r{writer}", "n": n, "i": i} for i in range(n + 1)]

async def main():
    writer, count = int(sys.argv[1]), int(sys.argv[2])
    for n in range(count):
        await proc(writer, n)

asyncio.run(main())
"""


@asset("ow/proc.parquet", name="proc", partition_by=["region"], write_mode="overwrite_partitions")
async def proc(writer: int, n: int):  # type: ignore[no-untyped-def]
    yield [{"region": f"r{writer}", "n": n, "i": i} for i in range(n + 1)]


async def test_concurrent_overwriters_of_their_own_partitions_all_land(backend: Backend, tmp_path: Path) -> None:
    if not backend.shared:
        pytest.skip("memory:// lives inside one process")
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(JOB))
    writers, count = (4, 4) if backend.name == "local" else (3, 2)
    children = [
        subprocess.Popen([sys.executable, str(script), str(w), str(count)], env=backend.child_env(), cwd=tmp_path,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for w in range(writers)
    ]
    for child in children:
        assert child.wait(timeout=200) == 0, child.stderr.read().decode()[-2000:] if child.stderr else ""
    last = count - 1
    result = await proc.with_arguments(0, 0).query("SELECT region, min(n), max(n), count(*) GROUP BY region ORDER BY region")
    # Each region holds exactly its writer's last run (last + 1 rows), none lost to another writer.
    assert result.fetchall() == [(f"r{w}", last, last, last + 1) for w in range(writers)]
    assert len(await proc.with_arguments(0, 0).versions()) == writers * count


@pytest.mark.parametrize("step", ["written", "committing"])
async def test_an_overwrite_killed_before_its_commit_changes_nothing(backend: Backend, tmp_path: Path, step: str) -> None:
    if not backend.shared:
        pytest.skip("memory:// lives inside one process")
    await proc(0, 2)
    await proc(1, 1)
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(JOB))
    done = await anyio.run_process([sys.executable, str(script), "0", "4"], env=backend.child_env(MADSTREAM_CRASH_AT=step),
                                   check=False, cwd=tmp_path)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
    read = proc.with_arguments(0, 0)
    assert (await read.query("SELECT region, max(n), count(*) GROUP BY region ORDER BY region")).fetchall() == [
        ("r0", 2, 3), ("r1", 1, 2),
    ]
    await proc(0, 3)  # the next run lands over the kill's leftovers
    assert (await read.query("SELECT region, max(n), count(*) GROUP BY region ORDER BY region")).fetchall() == [
        ("r0", 3, 4), ("r1", 1, 2),
    ]
    fs = await get_fs()
    assert len(fs.glob("ow/proc/region=r0/part-*")) == 1
