"""Partitioned datasets on every backend: rows routed to hive folders as batches pass, values encoded
reversibly, queries pruned to the partitions they filter on, replace and append both one version."""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys
import textwrap
from pathlib import Path

import anyio
import pytest

from madstream import BatchError, asset, get_fs

from .conftest import Backend

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(240)]

DAYS = [dt.date(2024, 1, d) for d in (1, 2, 3)]
AWKWARD = ["eu", "a/b c", None, "NULL", "%", "", "__HIVE_DEFAULT_PARTITION__", "ü=?"]


@pytest.mark.parametrize("ext", ["parquet", "json", "csv"])
async def test_rows_land_in_their_partition_and_read_back_with_their_types(backend: Backend, ext: str) -> None:
    if backend.name in ("sftp", "s3") and ext != "parquet":
        pytest.skip("each format runs on local and memory; remote backends run parquet (the storage steps are the same)")
    @asset(f"sales/orders.{ext}", name=f"orders_{ext}", partition_by=["day"])
    async def orders():
        for page in range(3):
            yield [{"id": page * 10 + i, "day": DAYS[i % 3], "amount": i * 1.5} for i in range(6)]

    await orders()
    result = await orders.query("SELECT day, count(*), sum(amount) GROUP BY day ORDER BY day")
    assert [str(t) for t in result.types] == ["DATE", "BIGINT", "DOUBLE"]
    assert result.fetchall() == [(DAYS[0], 6, 13.5), (DAYS[1], 6, 22.5), (DAYS[2], 6, 31.5)]
    fs = await get_fs()
    shown = sorted(fs.glob(f"sales/orders/day=*/part-*.{ext}"))
    assert [p.split("/")[2] for p in shown] == ["day=2024-01-01", "day=2024-01-02", "day=2024-01-03"]


async def test_awkward_and_null_values_round_trip_through_folder_names(backend: Backend) -> None:
    @asset("odd/rows.parquet", name="odd", partition_by=["region"])
    async def odd():
        yield [{"region": r, "i": i} for i, r in enumerate(AWKWARD)]

    await odd()
    rows = (await odd.query("SELECT region, i ORDER BY i")).fetchall()
    assert rows == [(r, i) for i, r in enumerate(AWKWARD)]
    fs = await get_fs()
    folders = {p.split("/")[2] for p in fs.glob("odd/rows/*/part-*")}
    assert "region=__HIVE_DEFAULT_PARTITION__" in folders  # the null value's folder
    assert "region=a%2Fb%20c" in folders and "region=%4EULL" in folders


async def test_a_query_on_a_partition_column_reads_only_that_partition(backend: Backend) -> None:
    days = [dt.date(2024, 1, d) for d in range(1, 9)]

    @asset("prune/events.parquet", name="prune", partition_by=["day"])
    async def events():
        for day in days:
            yield [{"day": day, "payload": f"{n:0200d}", "n": n} for n in range(1000)]

    await events()
    fs = await get_fs()
    before = fs.io.bytes_read
    assert (await events.query("SELECT count(*), sum(length(payload))")).fetchall() == [(8000, 8000 * 200)]
    everything = fs.io.bytes_read - before
    before = fs.io.bytes_read
    query = "SELECT count(*), sum(length(payload)) WHERE day = DATE '2024-01-02'"
    assert (await events.query(query)).fetchall() == [(1000, 1000 * 200)]
    one_day = fs.io.bytes_read - before
    if backend.name in ("sftp", "s3"):  # bytes fetched over the wire: that day's file (and a schema)
        assert 0 < one_day < everything / 3, (one_day, everything)


async def test_few_open_files_still_write_every_row(backend: Backend) -> None:
    import pyarrow as pa

    size = 70_000  # a row group's worth: each page is written out on its own

    @asset("lru/rows.parquet", name="lru", partition_by=["k"], max_open_files=2)
    async def rows():
        for page in range(10):  # partitions 0-4, twice over: each comes back after its file was closed
            ids = pa.array(range(size), pa.int64())
            yield pa.table({"k": pa.array([page % 5] * size, pa.int64()), "page": pa.array([page] * size, pa.int64()), "i": ids})

    await rows()
    result = await rows.query("SELECT k, count(*), count(DISTINCT page), count(DISTINCT i) GROUP BY k ORDER BY k")
    assert result.fetchall() == [(k, 2 * size, 2, size) for k in range(5)]
    fs = await get_fs()
    assert len(fs.glob("lru/rows/k=0/part-*")) > 1  # the partition continued in new files


async def test_more_partitions_than_open_files_do_not_split_small_partitions(backend: Backend) -> None:
    @asset("lru/many.parquet", name="many", partition_by=["k"], max_open_files=3)
    async def rows():
        for page in range(20):  # every page touches all 12 partitions, in turn
            yield [{"k": k, "page": page} for k in range(12)]

    await rows()
    result = await rows.query("SELECT k, count(*) GROUP BY k ORDER BY k")
    assert result.fetchall() == [(k, 20) for k in range(12)]
    fs = await get_fs()
    # Rows are held per partition, apart from its file: each small partition is written once.
    assert [len(fs.glob(f"lru/many/k={k}/part-*")) for k in range(12)] == [1] * 12


async def test_a_replaced_partitioned_result_shows_only_the_new_run(backend: Backend) -> None:
    @asset("swap/rows.parquet", name="swap", partition_by=["day"])
    async def rows(days: int = 3):
        yield [{"day": day, "v": days} for day in DAYS[:days]]

    await rows(3)
    await rows.with_arguments(1)()  # another configuration of the same dataset
    assert (await rows.with_arguments(1).query("SELECT day, v")).fetchall() == [(DAYS[0], 1)]
    fs = await get_fs()
    assert len(fs.glob("swap/rows/**/part-*.parquet")) == 1
    # The first configuration's version is still whole.
    assert (await rows.query("SELECT count(*)")).fetchall() == [(3,)]


async def test_appends_into_partitions_accumulate(backend: Backend) -> None:
    @asset("inc/parts.json", name="parts", partition_by=["day"], write_mode="append")
    async def parts(n: int):
        yield [{"day": DAYS[n % 3], "n": n}]

    for n in range(5):
        await parts(n)
    result = await parts.with_arguments(0).query("SELECT day, count(*) GROUP BY day ORDER BY day")
    assert result.fetchall() == [(DAYS[0], 2), (DAYS[1], 2), (DAYS[2], 1)]


async def test_a_column_widening_mid_run_keeps_every_partition_readable(backend: Backend) -> None:
    @asset("widen/rows.csv", name="widen", partition_by=["day"])
    async def rows():
        yield [{"day": DAYS[0], "id": 1}]
        yield [{"day": DAYS[0], "id": "A-2"}, {"day": DAYS[1], "id": "B-3"}]

    await rows()
    assert (await rows.query("SELECT day, id ORDER BY id")).fetchall() == [(DAYS[0], "1"), (DAYS[0], "A-2"), (DAYS[1], "B-3")]


async def test_a_missing_or_nested_partition_column_is_a_batch_error(backend: Backend) -> None:
    @asset("bad/rows.parquet", name="bad_missing", partition_by=["day"])
    async def missing():
        yield [{"other": 1}]

    with pytest.raises(BatchError, match="no partition column"):
        await missing()

    @asset("bad/nested.parquet", name="bad_nested", partition_by=["day"])
    async def nested():
        yield [{"day": {"y": 2024}}]

    with pytest.raises(BatchError, match="cannot partition by a struct"):
        await nested()


JOB = """
import asyncio, datetime as dt
from madstream import asset

@asset("kill/rows.parquet", name="kill", partition_by=["day"], write_mode="append")
async def rows(n: int):
    yield [{"day": dt.date(2024, 1, 1 + i % 3), "n": n, "i": i} for i in range(30)]

asyncio.run(rows(1))
"""


@pytest.mark.parametrize("step", ["written", "committing"])
async def test_a_partitioned_append_killed_before_its_commit_leaves_nothing(backend: Backend, tmp_path: Path, step: str) -> None:
    if not backend.shared:
        pytest.skip("memory:// lives inside one process")

    @asset("kill/rows.parquet", name="kill", partition_by=["day"], write_mode="append")
    async def rows(n: int):
        yield [{"day": dt.date(2024, 1, 1 + i % 3), "n": n, "i": i} for i in range(30)]

    await rows(0)
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(JOB))
    env = {**os.environ, **backend.env, "PYTHONPATH": os.pathsep.join(sys.path), "MADSTREAM_PROGRESS": "0",
           "MADSTREAM_CRASH_AT": step}
    done = await anyio.run_process([sys.executable, str(script)], env=env, check=False, cwd=tmp_path)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
    assert (await rows.with_arguments(0).query("SELECT count(*), max(n)")).fetchall() == [(30, 0)]
    await rows(2)
    assert (await rows.with_arguments(0).query("SELECT count(*), count(DISTINCT n)")).fetchall() == [(60, 2)]
