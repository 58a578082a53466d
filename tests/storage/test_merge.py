"""Merges by primary key on every backend: rows replace those with the same key, new keys are added,
only files holding a replaced key are rewritten, and a failed or killed merge changes nothing."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import anyio
import pytest

from madstream import ConflictError, DefinitionError, ExtractError, asset

from .conftest import Backend, race

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(240)]

DAYS = [dt.date(2024, 1, d) for d in (1, 2, 3)]


def _customers(ext: str = "parquet", **options: Any):  # type: ignore[no-untyped-def]
    @asset(f"crm/customers.{ext}", name=f"customers_{ext}", write_mode="merge", primary_key="id", **options)
    async def customers(rows: Any = None):
        yield rows or []

    return customers


@pytest.mark.parametrize("ext", ["parquet", "json", "csv"])
async def test_a_merge_replaces_rows_by_key_and_adds_new_keys(backend: Backend, ext: str) -> None:
    if backend.name in ("sftp", "s3") and ext != "parquet":
        pytest.skip("each format runs on local and memory; remote backends run parquet (the storage steps are the same)")
    customers = _customers(ext)
    await customers([{"id": i, "name": f"c{i}", "tier": "basic"} for i in range(5)])
    await customers([{"id": 1, "name": "c1", "tier": "gold"}, {"id": 7, "name": "c7", "tier": "basic"}])
    rows = (await customers.with_arguments(None).query("SELECT id, tier ORDER BY id")).fetchall()
    assert rows == [(0, "basic"), (1, "gold"), (2, "basic"), (3, "basic"), (4, "basic"), (7, "basic")]
    versions = await customers.with_arguments(None).versions()
    assert [v.rows for v in versions] == [5, 6]
    # Time travel still sees the first version's rows.
    assert (await customers.with_arguments(None).query("SELECT tier WHERE id = 1", version=1)).fetchall() == [("basic",)]


async def test_duplicate_keys_in_one_run_keep_the_last_row(backend: Backend) -> None:
    customers = _customers()
    await customers([{"id": 1, "v": "first"}, {"id": 2, "v": "x"}, {"id": 1, "v": "second"}])
    await customers([{"id": 2, "v": "y"}, {"id": 2, "v": "z"}])
    assert (await customers.with_arguments(None).query("SELECT id, v ORDER BY id")).fetchall() == [(1, "second"), (2, "z")]


async def test_a_composite_key_matches_on_every_column(backend: Backend) -> None:
    @asset("crm/stock.json", name="stock", write_mode="merge", primary_key=["store", "sku"])
    async def stock(rows: Any = None):
        yield rows or []

    await stock([{"store": "perth", "sku": "a", "n": 1}, {"store": "hobart", "sku": "a", "n": 2}])
    await stock([{"store": "perth", "sku": "a", "n": 10}, {"store": "perth", "sku": "b", "n": 3}])
    rows = (await stock.with_arguments(None).query("SELECT store, sku, n ORDER BY store, sku")).fetchall()
    assert rows == [("hobart", "a", 2), ("perth", "a", 10), ("perth", "b", 3)]


@pytest.mark.parametrize("ext", ["parquet", "json", "csv"])
@pytest.mark.parametrize("interleaved", [False, True])
async def test_only_the_files_holding_a_replaced_key_are_rewritten(backend: Backend, ext: str, interleaved: bool) -> None:
    if backend.name in ("sftp", "s3") and ext != "parquet":
        pytest.skip("each format runs on local and memory; remote backends run parquet (the storage steps are the same)")
    customers = _customers(ext, partition_by=["day"])
    # Interleaved keys give every file the same key range: the files' keys themselves are looked up.
    key = (lambda d, i: 3 * i + d) if interleaved else (lambda d, i: 100 * d + i)
    await customers([{"id": key(d, i), "day": day, "v": 0} for d, day in enumerate(DAYS) for i in range(50)])
    first = (await customers.with_arguments(None).versions())[-1]
    await customers([{"id": key(1, 1), "day": DAYS[1], "v": 1}])  # one key of the second day
    second = (await customers.with_arguments(None).versions())[-1]
    before = {e.path: e.file for e in first.results}
    after = {e.path: e.file for e in second.results}
    untouched = [p for p in before if after.get(p) == before[p]]
    assert sorted(p.split("/")[2] for p in untouched) == ["day=2024-01-01", "day=2024-01-03"]
    assert len(second.results) == 4  # two untouched, the second day rewritten, the run's part
    result = await customers.with_arguments(None).query("SELECT count(*), sum(v) WHERE day = DATE '2024-01-02'")
    assert result.fetchall() == [(50, 1)]


async def test_a_failed_merge_changes_nothing(backend: Backend) -> None:
    @asset("crm/fail.parquet", name="fail", write_mode="merge", primary_key="id")
    async def flaky(rows: Any = None, fail: bool = False):
        yield rows or []
        if fail:
            raise RuntimeError("cut off")

    await flaky([{"id": 1, "v": "a"}])
    with pytest.raises(ExtractError, match="cut off"):
        await flaky([{"id": 1, "v": "b"}], True)
    assert (await flaky.with_arguments(None).query("SELECT id, v")).fetchall() == [(1, "a")]


@pytest.mark.parametrize("same_key", [True, False])
async def test_two_merges_of_one_key_at_once_is_a_conflict(backend: Backend, same_key: bool) -> None:
    started, go = anyio.Event(), anyio.Event()

    @asset("crm/conflict.parquet", name="conflict", write_mode="merge", primary_key="id")
    async def accounts(rows: Any = None, wait: bool = False):
        if wait:
            started.set()
            await go.wait()
        yield rows or []

    await accounts([{"id": 1, "v": "base"}, {"id": 2, "v": "base"}])
    slow = accounts.with_arguments([{"id": 1, "v": "slow"}], True)
    # The rival commits while `slow` is writing.
    outcome = await race(slow, lambda: accounts([{"id": 1 if same_key else 2, "v": "fast"}]), started, go)
    rows = (await accounts.with_arguments(None).query("SELECT id, v ORDER BY id")).fetchall()
    if same_key:
        assert isinstance(outcome, ConflictError)
        assert "merged some of the same keys while this run was writing; nothing was committed" in str(outcome)
        assert rows == [(1, "fast"), (2, "base")]  # the slow merge committed nothing
    else:
        assert outcome is None
        assert rows == [(1, "slow"), (2, "fast")]  # other keys: both land


def test_merge_options_are_checked_when_the_asset_is_defined() -> None:
    with pytest.raises(DefinitionError, match="go together"):
        asset("x.parquet", write_mode="merge")(lambda: [])
    with pytest.raises(DefinitionError, match="go together"):
        asset("x.parquet", primary_key="id")(lambda: [])
    with pytest.raises(DefinitionError, match="cannot be a partition column"):
        asset("x.parquet", write_mode="merge", primary_key="day", partition_by=["day"])(lambda: [])
    with pytest.raises(DefinitionError, match="one result type"):
        asset("x.parquet|csv", write_mode="merge", primary_key="id")(lambda: [])


JOB = """
import asyncio, sys
from madstream import asset

@asset("crm/race.parquet", name="race", write_mode="merge", primary_key="id")
async def race(rows=None):
    yield rows or []

async def main():
    writer, count = int(sys.argv[1]), int(sys.argv[2])
    for n in range(count):
        await race([{"id": writer * 1000 + n, "writer": writer}])

asyncio.run(main())
"""


async def test_concurrent_merges_of_other_keys_all_land(backend: Backend, tmp_path: Path) -> None:
    if not backend.shared:
        pytest.skip("memory:// lives inside one process")
    script = tmp_path / "race.py"
    script.write_text(textwrap.dedent(JOB))
    count = 4 if backend.name == "local" else 2
    children = [
        subprocess.Popen([sys.executable, str(script), str(w), str(count)], env=backend.child_env(), cwd=tmp_path,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for w in (1, 2)
    ]
    for child in children:
        assert child.wait(timeout=200) == 0, child.stderr.read().decode()[-2000:] if child.stderr else ""

    @asset("crm/race.parquet", name="race", write_mode="merge", primary_key="id")
    async def race(rows: Any = None):
        yield rows or []

    result = await race.query("SELECT count(*), count(DISTINCT id), count(DISTINCT writer)")
    assert result.fetchall() == [(2 * count, 2 * count, 2)]


@pytest.mark.parametrize("step", ["written", "committing"])
async def test_a_merge_killed_before_its_commit_changes_nothing(backend: Backend, tmp_path: Path, step: str) -> None:
    if not backend.shared:
        pytest.skip("memory:// lives inside one process")

    @asset("crm/race.parquet", name="race", write_mode="merge", primary_key="id")
    async def race(rows: Any = None):
        yield rows or []

    await race([{"id": 1000, "writer": 0}])
    script = tmp_path / "race.py"
    script.write_text(textwrap.dedent(JOB))
    done = await anyio.run_process([sys.executable, str(script), "1", "1"], env=backend.child_env(MADSTREAM_CRASH_AT=step),
                                   check=False, cwd=tmp_path)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
    assert (await race.with_arguments(None).query("SELECT id, writer")).fetchall() == [(1000, 0)]
