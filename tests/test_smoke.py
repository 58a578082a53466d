"""The shortest path through the public API, on local storage."""

from __future__ import annotations

import pytest

from madstream import asset

pytestmark = pytest.mark.anyio


async def test_materialize_and_query_parquet() -> None:
    @asset("sales/orders.parquet", name="orders", artifact_filetype="parquet")
    async def orders():
        yield [{"id": 1, "amount": 2.5}, {"id": 2, "amount": 4.0}]
        yield [{"id": 3, "amount": 1.0}]

    artifact = await orders()
    assert artifact.path == "sales/orders.parquet"
    result = await orders.query("SELECT count(*), sum(amount)")
    assert result.fetchone() == (3, 7.5)
