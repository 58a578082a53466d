"""Run records, caching (in and across processes), and failures that lose nothing."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from madstream import DataAssetRun, ExtractError, asset

pytestmark = pytest.mark.anyio


def _records(root: Path, meta: str = "_asset_metadata") -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((root / meta).rglob("metadata.json"))]


async def test_run_record_has_the_seed_fields_and_layout(storage_root: Path) -> None:
    @asset("runs/out.parquet", name="recorded")
    async def recorded(region: str = "eu"):
        yield [{"id": 1}]

    await recorded("apac")
    [record] = _records(storage_root)
    run = DataAssetRun.model_validate(record)
    assert run.asset_name == "recorded" and run.asset_path == "runs/out.parquet"
    assert json.loads(run.parameters or "") == {"region": "apac"}
    assert run.status == "succeeded" and run.rows == 1
    assert run.materialized is not None and run.runtime is not None and run.materialized >= run.runtime
    assert isinstance(run.duration_miliseconds, int)
    folder = storage_root / "_asset_metadata" / "asset_name=recorded" / f"asset_id={run.asset_id}"
    expected = folder / f"asset_run_id={run.id}" / "metadata.json"
    assert expected.is_file()


async def test_metadata_location_env(storage_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSET_METADATA_LOCATION", "meta/runs")

    @asset("runs/env.json", name="env_meta")
    def env_meta():
        return [{"id": 1}]

    await env_meta()
    assert len(_records(storage_root, "meta/runs")) == 1


async def test_cache_expiration_skips_the_function() -> None:
    calls = []

    @asset("cache/{x}.parquet", name="cached", cache_expiration=dt.timedelta(hours=1))
    async def cached(x: int):
        calls.append(x)
        yield [{"x": x}]

    await cached(1)
    await cached(1)
    assert calls == [1]
    await cached(2)  # other arguments: another configuration
    assert calls == [1, 2]
    assert (await cached.with_arguments(1).query("SELECT x")).fetchall() == [(1,)]
    assert calls == [1, 2]


async def test_expired_cache_runs_again() -> None:
    calls = []

    @asset("cache/short.parquet", name="short", cache_expiration=dt.timedelta(microseconds=1))
    async def short():
        calls.append(1)
        yield [{"x": 1}]

    await short()
    await short()
    assert len(calls) == 2


async def test_configurations_sharing_a_path_each_read_their_own_version(storage_root: Path) -> None:
    # The path leaves out `region`: both configurations publish at the same file, with the same size.
    calls: list[str] = []

    @asset("shared/latest.parquet", name="shared", cache_expiration=dt.timedelta(hours=1))
    async def shared(region: str):
        calls.append(region)
        yield [{"region": region}]

    eu, us = shared.with_arguments("eu"), shared.with_arguments("us")
    await eu()
    await us()  # the seed's path now shows us's rows ...
    assert pq.read_table(storage_root / "shared" / "latest.parquet").to_pylist() == [{"region": "us"}]
    # ... but each configuration reads its own committed version, cached, without running again
    assert (await eu.query("SELECT region")).fetchall() == [("eu",)]
    assert (await us.query("SELECT region")).fetchall() == [("us",)]
    await eu()
    assert calls == ["eu", "us"]
    assert [(v.version, v.parameters) for v in await eu.versions()] == [(1, '{"region":"eu"}')]
    assert [(v.version, v.parameters) for v in await us.versions()] == [(2, '{"region":"us"}')]


def _txn_id(age: float) -> str:
    import time

    return f"{int(time.time() - age):08x}" + "ab12cd34"


async def test_what_killed_runs_leave_is_vacuumed_once_it_is_a_day_old(storage_root: Path) -> None:
    from madstream.commit.staging import STALE_AFTER
    from madstream.commit.versions import Dataset
    from madstream.storage.store import FileStore

    old, recent = _txn_id(STALE_AFTER + 60), _txn_id(60)
    runs = storage_root / Dataset(FileStore(f"file://{storage_root}"), "swept/out.parquet").root / "runs"
    for tid in (old, recent):  # what a killed run leaves: its run folder, never anything in the user's folders
        (runs / tid / "fragments").mkdir(parents=True)
        (runs / tid / "fragments" / "fragment=000001.json").write_text("{}")

    @asset("swept/out.parquet", name="swept")
    async def swept():
        yield [{"x": 1}]

    await swept()  # a commit applies retention: the old leftover goes, the recent one may still be writing
    [version] = await swept.versions()
    assert sorted(p.name for p in runs.iterdir()) == sorted([recent, version.run_id])
    assert (await swept.query("SELECT x")).fetchall() == [(1,)]


async def test_no_temporary_name_ever_appears_in_the_users_folders(storage_root: Path) -> None:
    pages = {"fail": False}

    @asset("clean/out.parquet|csv", name="clean")
    async def clean():
        yield [{"x": 1}]
        yield [{"x": 2, "y": "b"}]  # a schema change: the parquet and csv results roll over and merge
        if pages["fail"]:
            raise ValueError("boom")

    await clean()
    pages["fail"] = True
    with pytest.raises(ExtractError):
        await clean()
    user = sorted(p.relative_to(storage_root).as_posix() for p in (storage_root / "clean").rglob("*") if p.is_file())
    assert user == [
        "clean/_artifacts/asset=clean/fragment=000001.json", "clean/_artifacts/asset=clean/fragment=000002.json",
        "clean/out.csv", "clean/out.parquet",
    ]
    assert (await clean.query("SELECT count(*), count(y)")).fetchall() == [(2, 1)]
    assert not list((storage_root / "_asset_metadata").rglob("*.tmp"))


async def test_cache_is_shared_across_processes(storage_root: Path, tmp_path: Path) -> None:
    module = tmp_path / "cached_job.py"
    module.write_text(textwrap.dedent("""
        import asyncio, datetime as dt, sys
        from madstream import asset

        @asset("xproc/out.parquet", name="xproc", cache_expiration=dt.timedelta(hours=1))
        async def job():
            print("RAN", flush=True)
            yield [{"v": 41}]

        async def main():
            await job()
            print("VALUE", (await job.query("SELECT v + 1")).fetchone()[0])
        asyncio.run(main())
    """))
    env = {**os.environ, "FILESYSTEM_URL": f"file://{storage_root}"}
    outs = [subprocess.run([sys.executable, str(module)], capture_output=True, text=True, env=env, check=True).stdout for _ in range(2)]
    assert outs[0].split() == ["RAN", "VALUE", "42"]
    assert outs[1].split() == ["VALUE", "42"]


async def test_query_does_not_rematerialize_in_process() -> None:
    calls = []

    @asset("q/out.parquet", name="once")
    async def once():
        calls.append(1)
        yield [{"v": 1}]

    await once.query()  # never materialized here: runs
    await once.query("SELECT v")
    await once()  # an explicit call always runs (no cache_expiration)
    await once.query()
    assert len(calls) == 2


@pytest.mark.parametrize("ext", ["parquet", "json", "csv"])
async def test_failure_mid_stream_keeps_previous_result(ext: str, storage_root: Path) -> None:
    state = {"fail": False}

    @asset(f"safe/out.{ext}", name=f"safe_{ext}", artifact_filetype=ext)
    async def safe():
        yield [{"id": 1, "v": "old" if not state["fail"] else "new"}]
        if state["fail"]:
            raise ValueError("upstream API went away")
        yield [{"id": 2, "v": "old"}]

    await safe()
    before = sorted(str(p.relative_to(storage_root)) for p in storage_root.rglob("*") if p.is_file() and "_asset_metadata" not in str(p))
    state["fail"] = True
    with pytest.raises(ExtractError, match=rf"asset `safe_{ext}`.*path `safe/out.{ext}`.*ValueError: upstream API went away"):
        await safe()
    after = sorted(str(p.relative_to(storage_root)) for p in storage_root.rglob("*") if p.is_file() and "_asset_metadata" not in str(p))
    assert after == before  # no temp files left, nothing replaced
    assert (await safe.query("SELECT id, v ORDER BY id")).fetchall() == [(1, "old"), (2, "old")]
    statuses = sorted(r["status"] for r in _records(storage_root))
    assert statuses == ["failed", "succeeded"]
    failed = next(r for r in _records(storage_root) if r["status"] == "failed")
    assert "upstream API went away" in failed["error"]


async def test_sync_function_raising_before_yielding() -> None:
    @asset("safe/sync.parquet", name="sync_fail")
    def sync_fail():
        raise RuntimeError("no credentials")

    with pytest.raises(ExtractError, match="no credentials") as info:
        await sync_fail()
    assert isinstance(info.value.__cause__, RuntimeError)


async def test_a_result_path_that_is_a_folder_fails_before_anything_is_published(storage_root: Path) -> None:
    from madstream import DefinitionError

    (storage_root / "k" / "x.csv").mkdir(parents=True)
    calls = []

    @asset("k/x.parquet|csv", name="k")
    async def k():
        calls.append(1)
        yield [{"x": 1}]

    with pytest.raises(DefinitionError, match="the result path `k/x.csv` is a folder"):
        await k()
    assert calls == [] and not (storage_root / "k" / "x.parquet").exists()
    assert not (storage_root / "k" / "_artifacts").exists()
    assert await k.versions() == []


async def test_a_cancelled_run_is_recorded_as_cancelled(storage_root: Path) -> None:
    import anyio

    @asset("cancel/out.parquet", name="cancelled")
    async def slow():
        yield [{"id": 1}]
        await anyio.sleep(30)

    with anyio.move_on_after(0.5):
        await slow()
    [record] = _records(storage_root)
    assert record["status"] == "failed"
    assert record["error"] == "CancelledError: the run was cancelled before it committed; the previous result is unchanged"
