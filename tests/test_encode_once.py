"""A text result of the fragments' own type reuses their encoded bytes, and stays a valid file."""

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
