"""Sinks: text results reuse the fragments' encoded bytes; parquet results are complete on any storage."""

from __future__ import annotations

from pathlib import Path

import pytest

from madstream import asset

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("filetype", ["csv", "json"])
async def test_result_from_fragment_bytes_has_every_row_once(storage_root: Path, filetype: str) -> None:
    @asset(f"enc/orders.{filetype}", name=f"enc_{filetype}", artifact_filetype=filetype)
    async def orders():
        yield [{"id": 1, "where": {"city": "Perth, WA"}}, {"id": 2, "where": None}]
        yield [{"id": 3, "where": {"city": "Hobart"}}]
        yield [{"id": 4, "where": {"city": "Darwin"}, "amount": 1.5}]  # schema widens mid-run

    await orders()
    lines = (storage_root / "enc" / f"orders.{filetype}").read_text().splitlines()
    if filetype == "csv":
        assert lines[0] == "id,where,amount"
        assert sum(line.startswith("id,") for line in lines) == 1
    rows = (await orders.query("SELECT id, \"where\".city, amount ORDER BY id")).fetchall()
    assert rows == [(1, "Perth, WA", None), (2, None, None), (3, "Hobart", None), (4, "Darwin", 1.5)]


async def test_parquet_result_on_remote_storage_is_complete(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Non-local files are written through an Arrow-side buffer; closing must flush all of it.
    monkeypatch.setenv("FILESYSTEM_URL", f"memory://{tmp_path.name}")

    @asset("remote/orders.parquet", name="remote_orders", artifact_filetype="parquet")
    async def orders():
        yield [{"id": i, "name": f"n{i}"} for i in range(70_000)]  # more than one row group
        yield [{"id": 70_000, "name": "last", "amount": 2.5}]  # schema widens: parts are merged

    await orders()
    rows = (await orders.query("SELECT count(*), sum(id), count(amount)")).fetchone()
    assert rows == (70_001, sum(range(70_001)), 1)
