"""Run records, caching (in and across processes), and failures that lose nothing."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

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


async def test_a_cached_result_overwritten_by_another_configuration_is_not_served() -> None:
    # The path leaves out `region`: both configurations write the same file, with the same size.
    calls: list[str] = []

    @asset("shared/latest.parquet", name="shared", cache_expiration=dt.timedelta(hours=1))
    async def shared(region: str):
        calls.append(region)
        yield [{"region": region}]

    eu, us = shared.with_arguments("eu"), shared.with_arguments("us")
    await eu()
    await us()  # overwrites shared/latest.parquet
    assert (await eu.query("SELECT region")).fetchall() == [("eu",)]  # runs again: the file is us's
    await eu()  # ... and now eu's result is back in place, so this one is cached
    assert calls == ["eu", "us", "eu"]
    assert (await us.query("SELECT region")).fetchall() == [("us",)]
    assert calls == ["eu", "us", "eu", "us"]


def test_a_result_two_runs_raced_for_is_trusted_by_neither() -> None:
    from madstream.api.config import current_storage
    from madstream.commit.catalog import Manifest, claim_results, owns_results, verify_claims

    storage = current_storage()
    now = dt.datetime.now(dt.UTC)
    a, b = (Manifest(asset_id=i, asset_name="x", run_id=i, materialized=now, results=["race/out.parquet"]) for i in "ab")
    claim_results(storage, a.results, "a")
    claim_results(storage, b.results, "b")  # b claims while a is publishing
    verify_claims(storage, a.results, "a")  # a finds b's claim: nobody can tell whose file is there
    assert not owns_results(storage, a) and not owns_results(storage, b)
    claim_results(storage, b.results, "b")
    verify_claims(storage, b.results, "b")  # a run on its own keeps its claim
    assert owns_results(storage, b)


async def test_leftovers_of_killed_runs_are_swept_once_they_are_a_day_old(storage_root: Path) -> None:
    import time

    from madstream.commit.staging import STALE_AFTER

    def txn_id(age: float) -> str:
        return f"{int(time.time() - age):08x}" + "ab12cd34"

    old, recent = txn_id(STALE_AFTER + 60), txn_id(60)
    fragments = storage_root / "swept" / "_artifacts" / "asset=swept"
    for tid in (old, recent):  # what a killed run leaves: a staging folder and a result temp file
        (fragments / f".staging-{tid}").mkdir(parents=True)
        (fragments / f".staging-{tid}" / "fragment=000001.json").write_text("{}")
        (storage_root / "swept" / f".out.parquet.{tid}.tmp").write_bytes(b"partial")
    (storage_root / "swept" / ".keep.me").write_text("not ours")

    @asset("swept/out.parquet", name="swept")
    async def swept():
        yield [{"x": 1}]

    await swept()
    hidden = sorted(p.name for p in (storage_root / "swept").iterdir() if p.name.startswith("."))
    assert hidden == [".keep.me", f".out.parquet.{recent}.tmp"]
    assert sorted(p.name for p in fragments.iterdir()) == [f".staging-{recent}", "fragment=000001.json"]
    assert (await swept.query("SELECT x")).fetchall() == [(1,)]


async def test_every_kind_of_leftover_is_swept_catalog_records_included(storage_root: Path) -> None:
    import time

    from madstream.commit.staging import STALE_AFTER, leftover_time, staged_file, staging_folder

    old = f"{int(time.time() - STALE_AFTER - 60):08x}" + "0badc0de"
    planted = [
        staged_file("kinds/out.parquet", old, "part1"),  # a result part before a merge
        staged_file("kinds/out.parquet", old, "merged"),  # the merge itself
        staged_file("_asset_metadata/result_owners/0123abcd.json", old),  # an owner record
        staging_folder("kinds/_artifacts/asset=kinds", old) + "/fragment=000001.json",
    ]
    for rel in planted:
        (storage_root / rel).parent.mkdir(parents=True, exist_ok=True)
        (storage_root / rel).write_bytes(b"left by a killed run")
    assert all(leftover_time(Path(rel).name) is not None for rel in planted[:3])

    @asset("kinds/out.parquet", name="kinds")
    async def kinds():
        yield [{"x": 1}]

    await kinds()
    left = [p.relative_to(storage_root).as_posix() for p in storage_root.rglob(".*")]
    assert left == []
    assert (await kinds.query("SELECT x")).fetchall() == [(1,)]


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
