"""The version protocol on every backend: one commit point per run, time travel, retention, integrity.

Each test runs on local disk, ``memory://``, SFTP and S3, configured through the environment.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import threading
import time

import pyarrow.parquet as pq
import pytest

from madstream import MadstreamError, QueryError, asset, get_fs
from madstream.storage.atomic import create_exclusive

from .conftest import Backend

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]


async def test_exactly_one_writer_creates_a_record(backend: Backend) -> None:
    fs = await get_fs()
    won: list[bool] = []

    def create(i: int) -> None:
        won.append(create_exclusive(fs, "_asset_metadata/race/v1.json", f"writer {i}".encode(), f"_asset_metadata/scratch/{i}"))

    threads = [threading.Thread(target=create, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(won) == [False] * 5 + [True]
    winner = won.index(True)
    assert (await fs.read_path("_asset_metadata/race/v1.json")).startswith(b"writer ")
    assert create_exclusive(fs, "_asset_metadata/race/v1.json", b"late", "_asset_metadata/scratch/late") is False
    assert winner >= 0


async def test_versions_time_travel_and_the_seeds_view(backend: Backend) -> None:
    generation = {"n": 0}

    @asset("tt/out.parquet", name="tt", artifact_filetype="json")
    async def tt():
        generation["n"] += 1
        for page in range(generation["n"]):  # version n has n fragments of 2 rows
            yield [{"gen": generation["n"], "page": page, "i": i} for i in range(2)]

    await tt()
    first_done = dt.datetime.now(dt.UTC)
    await asyncio.sleep(0.05)
    await tt()
    await tt()
    versions = await tt.versions()
    assert [(v.version, v.rows) for v in versions] == [(1, 2), (2, 4), (3, 6)]
    assert versions[0].committed <= first_done < versions[1].committed
    assert all(len(v.fragments) == v.version and v.results[0].path == "tt/out.parquet" for v in versions)

    latest = await tt.query("SELECT count(*), min(gen), max(gen)")
    assert latest.fetchall() == [(6, 3, 3)]
    assert (await tt.query("SELECT count(*), max(gen)", version=1)).fetchall() == [(2, 1)]
    assert (await tt.query("SELECT count(*), max(gen)", as_of=first_done)).fetchall() == [(2, 1)]
    frames = [f async for f in tt.stream("SELECT gen", version=2)]
    assert sum(f.height for f in frames) == 4 and {g for f in frames for g in f["gen"]} == {2}
    with pytest.raises(QueryError, match="there is no version 9"):
        await tt.query(version=9)
    with pytest.raises(QueryError, match="no version was committed at or before"):
        await tt.query(as_of=first_done - dt.timedelta(days=1))
    assert generation["n"] == 3  # time travel never runs the extract function

    # The seed's paths show the latest version, for tools outside madstream.
    fs = await get_fs()
    shown = pq.read_table(io.BytesIO(await fs.read_path("tt/out.parquet")))
    assert shown.num_rows == 6 and set(shown.column("gen").to_pylist()) == {3}
    fragments = fs.glob("tt/_artifacts/asset=tt/*")
    assert [f.rsplit("/", 1)[1] for f in fragments] == [f"fragment=00000{i}.json" for i in (1, 2, 3)]
    everything = fs.glob("tt/**")
    assert not [p for p in everything if "/." in p or p.endswith(".tmp")]  # nothing temporary in the user's folders


async def test_concurrent_calls_of_one_configuration_share_one_run(backend: Backend) -> None:
    calls = []

    @asset("share/out.parquet", name="share")
    async def share():
        calls.append(1)
        await asyncio.sleep(0.2)
        yield [{"x": 1}]

    artifacts = await asyncio.gather(share(), share(), share())
    assert len(calls) == 1
    assert {a.version for a in artifacts} == {1}
    assert [v.version for v in await share.versions()] == [1]


async def test_retention_keeps_the_newest_and_vacuum_removes_the_rest(backend: Backend) -> None:
    @asset("keep/out.parquet", name="keep", keep_versions=2, keep_for=dt.timedelta(0))
    async def keep(n: int):
        yield [{"n": n}]

    for _ in range(4):
        await keep(0)  # one configuration: four versions
    other = keep.with_arguments(1)
    await other()
    assert [v.version for v in await keep.with_arguments(0).versions()] == [4]  # 3 retention, the newest of config 0 kept
    assert [v.version for v in await other.versions()] == [5]
    removed = await other.vacuum()
    assert removed.versions == []
    fs = await get_fs()
    runs = [p for p in fs.glob("_asset_metadata/datasets/*/runs/*")]
    assert len(runs) == 2  # only the files of the versions kept
    assert (await keep.with_arguments(0).query("SELECT n")).fetchall() == [(0,)]


async def test_a_changed_result_is_never_served_as_committed(backend: Backend) -> None:
    calls = []

    @asset("integrity/out.json", name="integrity", cache_expiration=dt.timedelta(hours=1))
    async def integrity():
        calls.append(1)
        yield [{"amount": 12497500}]

    first = await integrity()
    assert first.version == 1
    [version] = await integrity.versions()
    fs = await get_fs()
    time.sleep(1.1)  # SFTP and S3 keep modification times in whole seconds
    raw = await fs.read_path(version.results[0].file)
    await fs.write_path(version.results[0].file, raw.replace(b"12497500", b"12502500"))  # the same size
    assert (await integrity.verify()) == [f"version 1: `{version.results[0].file}` does not match its committed checksum"]
    with pytest.raises(MadstreamError, match="the files of version 1 changed after it was committed"):
        await integrity.query(version=1)
    again = await integrity()  # the cached version is no longer intact: the run goes again
    assert len(calls) == 2 and again.version == 2
    assert (await integrity.query("SELECT amount")).fetchall() == [(12497500,)]


async def test_a_changed_part_of_a_many_part_dataset_is_caught(backend: Backend) -> None:
    # Six partition files: remote storage checks them with one listing of the run's folder.
    calls = []

    @asset("integrity/parts.parquet", name="integrity_parts", partition_by=["k"], cache_expiration=dt.timedelta(hours=1))
    async def parts():
        calls.append(1)
        yield [{"k": k, "v": k * 10} for k in range(6)]

    await parts()
    [version] = await parts.versions()
    assert len(version.results) == 6
    assert (await parts.query("SELECT sum(v)", version=1)).fetchall() == [(150,)]  # intact: served
    fs = await get_fs()
    time.sleep(1.1)  # SFTP and S3 keep modification times in whole seconds
    changed = version.results[3].file
    await fs.write_path(changed, await fs.read_path(changed) + b"\0")
    with pytest.raises(MadstreamError, match="the files of version 1 changed after it was committed"):
        await parts.query(version=1)
    again = await parts()
    assert len(calls) == 2 and again.version == 2
    assert (await parts.query("SELECT sum(v)")).fetchall() == [(150,)]
