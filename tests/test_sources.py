"""Every kind of extract function and every kind of batch becomes the same rows."""

from __future__ import annotations

import dataclasses
import json
import threading
from typing import Any

import duckdb
import httpx
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from pydantic import BaseModel

from madstream import BatchError, DataArtifact, asset, yield_data_batches

pytestmark = pytest.mark.anyio

ROWS = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]


@dataclasses.dataclass
class Point:
    id: int
    name: str


class Model(BaseModel):
    id: int
    name: str


async def _rows(a: Any) -> list[tuple[Any, ...]]:
    await a()
    return (await a.query("SELECT id, name ORDER BY id")).fetchall()


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: ROWS, id="list-of-dicts"),
        pytest.param(lambda: [Point(1, "a"), Point(2, "b")], id="dataclasses"),
        pytest.param(lambda: [Model(id=1, name="a"), Model(id=2, name="b")], id="pydantic"),
        pytest.param(lambda: pd.DataFrame(ROWS), id="pandas"),
        pytest.param(lambda: pl.DataFrame(ROWS), id="polars"),
        pytest.param(lambda: pa.Table.from_pylist(ROWS), id="arrow-table"),
        pytest.param(lambda: pa.RecordBatch.from_pylist(ROWS), id="arrow-batch"),
        pytest.param(lambda: duckdb.sql("SELECT * FROM (VALUES (1, 'a'), (2, 'b')) t(id, name)"), id="duckdb"),
        pytest.param(
            lambda: httpx.Response(200, content=json.dumps(ROWS).encode(), headers={"content-type": "application/json"}),
            id="httpx",
        ),
    ],
)
async def test_batch_types(make: Any) -> None:
    @asset("t/out.parquet", name="kinds")
    def kinds():
        return make()

    assert await _rows(kinds) == [(1, "a"), (2, "b")]


async def test_single_dict_dataclass_and_model_are_one_row_each() -> None:
    @asset("t/single.parquet", name="single")
    async def single():
        yield {"id": 1, "name": "a"}
        yield Point(2, "b")
        yield Model(id=3, name="c")

    assert await _rows(single) == [(1, "a"), (2, "b"), (3, "c")]


async def test_function_shapes_sync_async_generators() -> None:
    main_thread = threading.get_ident()
    seen_threads: list[int] = []

    @asset("t/sync_gen.json", name="sync_gen")
    def sync_gen():
        seen_threads.append(threading.get_ident())
        yield ROWS[:1]
        yield ROWS[1:]

    @asset("t/async_gen.json", name="async_gen")
    async def async_gen():
        yield ROWS[:1]
        yield ROWS[1:]

    @asset("t/coro.json", name="coro")
    async def coro():
        return ROWS

    @asset("t/plain.json", name="plain")
    def plain():
        return ROWS

    for a in (sync_gen, async_gen, coro, plain):
        assert await _rows(a) == [(1, "a"), (2, "b")], a.name
    # A blocking sync generator is pulled in a worker thread, not on the event loop.
    assert seen_threads and seen_threads[0] != main_thread


async def test_none_and_empty_batches_are_skipped() -> None:
    @asset("t/gaps.parquet", name="gaps", artifact_filetype="parquet")
    async def gaps():
        yield None
        yield []
        yield ROWS
        yield pl.DataFrame()
        yield {}

    await gaps()
    assert (await gaps.query("SELECT count(*)")).fetchone() == (2,)


@pytest.mark.parametrize("ext", ["parquet", "json", "csv"])
async def test_function_that_produces_nothing_gives_an_empty_asset(ext: str) -> None:
    @asset(f"t/nothing.{ext}", name=f"nothing_{ext}")
    async def nothing():
        if False:
            yield []

    artifact = await nothing()
    assert artifact.rows == 0
    assert (await nothing.query("SELECT count(*)")).fetchone() == (0,)
    assert (await nothing.query()).fetchall() == []


async def test_nested_asset_and_artifact_stream_their_rows() -> None:
    @asset("t/upstream.parquet", name="upstream", artifact_filetype="parquet")
    async def upstream():
        yield [{"id": i, "name": str(i)} for i in range(5)]

    @asset("t/downstream.json", name="downstream")
    async def downstream():
        yield upstream  # an asset: materialized, then its rows streamed in
        yield DataArtifact("t/upstream.parquet")  # an artifact: read back

    await downstream()
    assert (await downstream.query("SELECT count(*), sum(id)")).fetchone() == (10, 20)


async def test_unsupported_batch_names_asset_and_batch_number() -> None:
    @asset("t/bad.parquet", name="bad")
    async def bad():
        yield ROWS
        yield {1, 2}

    with pytest.raises(BatchError, match=r"asset `bad`.*batch 2.*`set`.*yield dicts"):
        await bad()


async def test_yield_data_batches_handles_every_shape() -> None:
    async def agen():
        yield 1
        yield 2

    def gen():
        yield 3
        yield 4

    async def coro():
        return 5

    assert [x async for x in yield_data_batches(agen())] == [1, 2]
    assert [x async for x in yield_data_batches(gen())] == [3, 4]
    assert [x async for x in yield_data_batches(coro())] == [5]
    assert [x async for x in yield_data_batches([6])] == [[6]]
