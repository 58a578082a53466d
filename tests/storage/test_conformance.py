"""One conformance suite, the same asset scenarios on every storage backend.

Each test runs on local disk, ``memory://``, SFTP (asyncssh server via sshfs) and S3 (moto server
via s3fs), configured only through ``FILESYSTEM_URL`` / ``FILESYSTEM_STORAGE_OPTIONS``.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import textwrap
from pathlib import Path

import anyio
import duckdb
import polars as pl
import pytest

from madstream import DataArtifact, ExtractError, asset, get_fs, register_mad_protocol
from madstream.base.types import ARTIFACT_FILE_TYPES

from .conftest import Backend

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

ROWS = [
    {"id": 1, "city": "Perth", "amount": 10.5, "ts": dt.datetime(2024, 1, 2, 3, 4, 5, 123456)},
    {"id": 2, "city": "Hobart", "amount": 4.0, "ts": dt.datetime(2024, 2, 3, 4, 5, 6)},
    {"id": 3, "city": "Perth", "amount": 7.25, "ts": dt.datetime(2024, 3, 4, 5, 6, 7)},
]


@pytest.mark.parametrize("filetype", ["parquet", "json", "csv"])
async def test_materialize_results_and_artifacts(backend: Backend, filetype: ARTIFACT_FILE_TYPES) -> None:
    @asset(f"sales/orders.{filetype}", name=f"orders_{filetype}", artifact_filetype=filetype)
    async def orders():
        yield ROWS[:2]
        yield ROWS[2:]

    artifact = await orders()
    assert artifact.path == f"sales/orders.{filetype}"
    result = await orders.query("SELECT city, sum(amount) AS total, max(ts) AS latest GROUP BY city ORDER BY city")
    assert result.fetchall() == [
        ("Hobart", 4.0, dt.datetime(2024, 2, 3, 4, 5, 6)),
        ("Perth", 17.75, dt.datetime(2024, 3, 4, 5, 6, 7)),
    ]
    fs = await get_fs()
    fragments = fs.glob(f"sales/_artifacts/asset=orders_{filetype}/fragment=*")
    assert [f.rsplit("/", 1)[1] for f in fragments] == [f"fragment=000001.{filetype}", f"fragment=000002.{filetype}"]
    second = DataArtifact(fragments[1])
    assert (await second.query("SELECT id, city")).fetchall() == [(3, "Perth")]


async def test_query_with_params(backend: Backend) -> None:
    @asset("q/orders.parquet", name="orders_params")
    def orders():
        return ROWS

    rows = (await orders.query("SELECT id WHERE city = ? AND amount > ? ORDER BY id", ["Perth", 8])).fetchall()
    assert rows == [(1,)]
    named = await orders.query("SELECT count(*) WHERE amount < $limit", {"limit": 8})
    assert named.fetchone() == (2,)


async def test_stream_into_polars(backend: Backend) -> None:
    @asset("big/numbers.parquet", name="numbers", artifact_filetype="parquet")
    async def numbers():
        for start in range(0, 10_000, 2_500):
            yield [{"n": i, "even": i % 2 == 0} for i in range(start, start + 2_500)]

    frames = [frame async for frame in numbers.stream("WHERE even", batch_rows=1_000)]
    assert all(isinstance(f, pl.DataFrame) and f.height <= 1_000 for f in frames)
    combined = pl.concat(frames)
    assert combined.height == 5_000
    assert combined["n"].sum() == sum(range(0, 10_000, 2))


async def test_cache_expiration_across_processes(backend: Backend, tmp_path: Path) -> None:
    if not backend.shared:
        pytest.skip("memory:// lives inside one process")
    script = tmp_path / "producer.py"
    script.write_text(textwrap.dedent(
        """
        import asyncio, datetime as dt
        from madstream import asset

        @asset("cached/value.json", name="cached_value", cache_expiration=dt.timedelta(hours=1))
        def value():
            return [{"who": "subprocess"}]

        asyncio.run(value())
        """
    ))
    env = {**os.environ, **backend.env, "PYTHONPATH": os.pathsep.join(sys.path)}
    await anyio.run_process([sys.executable, str(script)], env=env, check=True, cwd=tmp_path)

    calls = []

    @asset("cached/value.json", name="cached_value", cache_expiration=dt.timedelta(hours=1))
    def value():
        calls.append(1)
        return [{"who": "this process"}]

    await value()
    assert calls == []  # the other process's result is fresh: reused, not recomputed
    assert (await value.query("SELECT who")).fetchall() == [("subprocess",)]

    expired = value.with_options(cache_expiration=dt.timedelta(microseconds=1))
    await expired()
    assert calls == [1]
    assert (await expired.query("SELECT who")).fetchall() == [("this process",)]


async def test_snapshots_keep_every_run(backend: Backend) -> None:
    run = {"n": 0}

    @asset("snap/daily.parquet", name="daily", artifacts_dir="snap/raw", snapshot_artifacts=True)
    def daily():
        run["n"] += 1
        return [{"run": run["n"]}]

    await daily()
    await daily()
    fs = await get_fs()
    fragments = fs.glob("snap/raw/year=*/month=*/day=*/runtime=*/fragment=*.json")
    assert len(fragments) == 2
    assert len({f.rsplit("/", 1)[0] for f in fragments}) == 2
    assert (await daily.query("SELECT run")).fetchall() == [(2,)]


async def test_multi_type_results(backend: Backend) -> None:
    @asset("multi/out.parquet|csv|json", name="multi")
    def multi():
        return ROWS

    first = await multi()
    assert first.path == "multi/out.parquet"
    for ext in ("parquet", "csv", "json"):
        assert (await get_fs()).exists(f"multi/out.{ext}")
    csv = DataArtifact("multi/out.csv")
    assert (await csv.query("SELECT sum(id)")).fetchone() == (6,)


async def test_mad_protocol_reads_and_writes(backend: Backend) -> None:
    @asset("mad/source.parquet", name="mad_source")
    def source():
        return ROWS

    await source()
    con = duckdb.connect()
    await register_mad_protocol(con)
    await register_mad_protocol(con)  # twice is harmless
    con.sql("COPY (SELECT id, amount * 2 AS doubled FROM 'mad://mad/source.parquet') TO 'mad://mad/copied.parquet'")
    assert con.sql("SELECT sum(doubled) FROM 'mad://mad/copied.parquet'").fetchall() == [(43.5,)]
    assert (await get_fs()).exists("mad/copied.parquet")
    con.close()

    await register_mad_protocol()  # the default connection, as duckdb.sql uses
    counted = duckdb.sql("SELECT count(*) FROM 'mad://mad/copied.parquet'")
    assert counted is not None and counted.fetchall() == [(3,)]


async def test_get_fs_helpers(backend: Backend) -> None:
    fs = await get_fs()
    assert await fs.write_path("helpers/a.txt", b"hello") == "helpers/a.txt"
    assert await fs.read_path("helpers/a.txt") == b"hello"
    assert fs.exists("helpers/a.txt")
    await fs.move_path("helpers/a.txt", "helpers/b.txt")
    assert not fs.exists("helpers/a.txt")
    await fs.write_data("helpers/rows.json", ROWS[:2])
    assert [r["id"] for r in await fs.read_data("helpers/rows.json")] == [1, 2]
    await fs.write_data("helpers/rows.parquet", ROWS)
    assert [r["city"] for r in await fs.read_data("helpers/rows.parquet")] == ["Perth", "Hobart", "Perth"]
    assert fs.glob("helpers/*") == ["helpers/b.txt", "helpers/rows.json", "helpers/rows.parquet"]
    await fs.delete_path("helpers", recursive=True)
    assert not fs.exists("helpers/b.txt")
    assert "sftp" not in repr(fs) or backend.options["password"] not in repr(fs)


async def test_failed_run_keeps_previous_result(backend: Backend) -> None:
    fail = {"now": False}

    @asset("safe/result.parquet|json", name="safe", artifact_filetype="parquet")
    async def safe():
        yield [{"id": i, "run": 2 if fail["now"] else 1} for i in range(1_000)]
        if fail["now"]:
            raise RuntimeError("upstream API went away")
        yield [{"id": 1_000, "run": 1}]

    await safe()
    fail["now"] = True
    with pytest.raises(ExtractError, match="upstream API went away"):
        await safe()
    for path in ("safe/result.parquet", "safe/result.json"):
        rows = (await DataArtifact(path).query("SELECT count(*), max(run)")).fetchone()
        assert rows == (1_001, 1)
    fs = await get_fs()
    leftovers = [p for p in fs.glob("safe/**") if ".tmp" in p or ".staging" in p]
    assert leftovers == []
    fragments = fs.glob("safe/_artifacts/asset=safe/fragment=*")
    assert len(fragments) == 2


async def test_remote_reads_fetch_only_what_the_query_needs(backend: Backend) -> None:
    import pyarrow as pa

    n = 400_000  # several row groups, so DuckDB reads them from parallel threads
    table = pa.table({
        "id": pa.array(range(n), pa.int64()),
        "amount": pa.array([i * 0.5 for i in range(n)], pa.float64()),
        "note": pa.array([f"order {i} shipped to customer {i * 7919 % 100_003} at {i * 31 % 997} Long Road" for i in range(n)]),
    })

    @asset("wide/orders.parquet", name="wide", artifact_filetype="parquet")
    async def wide():
        for batch in table.to_batches(max_chunksize=50_000):
            yield batch

    await wide()
    # Every row group, many threads: the exact answer proves the shared handle is read safely.
    full = await wide.query("SELECT count(*), sum(id), sum(amount), count(DISTINCT note)")
    assert full.fetchone() == (n, n * (n - 1) // 2, n * (n - 1) / 4, n)
    fs = await get_fs()
    if backend.name == "local":
        return  # read natively by DuckDB, not through madstream's file handles
    size = fs.size_sync("wide/orders.parquet")
    fs.io.reset()
    assert (await wide.query("SELECT sum(amount), sum(id)")).fetchone() == (n * (n - 1) / 4, n * (n - 1) // 2)
    projected = fs.io.bytes_fetched
    fs.io.reset()
    assert (await wide.query("SELECT sum(amount) WHERE id < 1000")).fetchone() == (999 * 1000 / 4,)
    filtered = fs.io.bytes_fetched
    assert 0 < projected < size * 0.6  # two columns of three: the text column is never fetched
    assert 0 < filtered < projected * 0.5  # row groups whose id range cannot match are skipped


async def test_schema_change_mid_run_merges_remote_parts(backend: Backend) -> None:
    @asset("evolve/out.parquet|csv", name="evolve", artifact_filetype="parquet")
    async def evolve():
        yield [{"id": 1, "score": 1}]
        yield [{"id": 2, "score": 2.5, "tag": "new"}]  # int → float, and a new column

    await evolve()
    for path in ("evolve/out.parquet", "evolve/out.csv"):
        rows = (await DataArtifact(path).query("SELECT id, score, tag ORDER BY id")).fetchall()
        assert rows == [(1, 1.0, None), (2, 2.5, "new")], path
