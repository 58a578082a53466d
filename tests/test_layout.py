"""Where fragments go: default folder, artifacts_dir, snapshots, replacement, hive keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from madstream import DataArtifact, DataArtifactQuery, asset

pytestmark = pytest.mark.anyio


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


async def test_previous_fragments_are_replaced_without_snapshots(storage_root: Path) -> None:
    pages = {"n": 3}

    @asset("r/out.parquet", name="replace", artifact_filetype="json")
    async def replace():
        for i in range(pages["n"]):
            yield [{"i": i}]

    await replace()
    folder = storage_root / "r" / "_artifacts" / "asset=replace"
    assert _files(folder) == [f"fragment=00000{i}.json" for i in (1, 2, 3)]
    pages["n"] = 1
    await replace()
    assert _files(folder) == ["fragment=000001.json"]
    assert (await replace.query("SELECT count(*)")).fetchone() == (1,)


async def test_snapshots_keep_history_under_date_partitions(storage_root: Path) -> None:
    @asset("s/out.parquet", name="snap", snapshot_artifacts=True, artifact_filetype="parquet")
    async def snap():
        yield [{"v": 1}]

    await snap()
    await snap()
    folder = storage_root / "s" / "_artifacts" / "asset=snap"
    files = _files(folder)
    assert len(files) == 2
    for f in files:
        parts = f.split("/")
        assert [p.split("=")[0] for p in parts[:4]] == ["year", "month", "day", "runtime"]
        assert parts[4] == "fragment=000001.parquet"
    assert len({f.split("/")[3] for f in files}) == 2  # two distinct runtimes
    # The result holds the function's columns only: no layout keys leak in.
    result = await snap.query()
    assert result.columns == ["v"]


async def test_artifacts_dir_template_and_user_hive_keys_become_result_columns(storage_root: Path) -> None:
    @asset("sales/{year}/orders.parquet", artifacts_dir="raw/month={month}/year={year}", name="orders_{year}_{month}")
    async def orders(year: int, month: int):
        yield [{"id": 1}, {"id": 2}]

    await orders(2024, 12)
    assert _files(storage_root / "raw") == ["month=12/year=2024/fragment=000001.json"]
    result = await orders.with_arguments(2024, 12).query("SELECT id, month, year ORDER BY id")
    assert result.fetchall() == [(1, 12, 2024), (2, 12, 2024)]


async def test_fragments_can_be_queried_together_with_hive_partitions(storage_root: Path) -> None:
    @asset("h/out.parquet", artifacts_dir="h/raw/region={region}", name="by_region_{region}")
    async def by_region(region: str):
        yield [{"id": 1}]
        yield [{"id": 2, "extra": "x"}]

    await by_region("eu")
    await by_region("us")
    artifacts = [DataArtifact(str(p.relative_to(storage_root))) for p in sorted((storage_root / "h" / "raw").rglob("*.json"))]
    assert len(artifacts) == 4
    result = await DataArtifactQuery(artifacts).query("SELECT region, count(*), count(extra) GROUP BY ALL ORDER BY region")
    assert result.fetchall() == [("eu", 2, 1), ("us", 2, 1)]
