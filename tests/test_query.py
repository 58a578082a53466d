"""query() and stream(): the seed's relation usage on any DuckDB, params, bounded streaming."""

from __future__ import annotations

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from madstream import DataArtifact, QueryError, QueryResult, asset

pytestmark = pytest.mark.anyio


@asset("shop/products.parquet", name="products", artifact_filetype="parquet")
async def products():
    for start in range(0, 10_000, 1_000):
        yield [{"id": i, "stock": i % 100, "name": f"p{i}"} for i in range(start, start + 1_000)]


async def test_fetch_methods_stream_and_continue() -> None:
    result = await products.query("SELECT id ORDER BY id")
    assert isinstance(result, QueryResult)
    assert result.fetchone() == (0,)
    assert result.fetchmany(3) == [(1,), (2,), (3,)]
    assert result.fetchmany(2) == [(4,), (5,)]
    rest = result.fetchall()
    assert rest[0] == (6,) and len(rest) == 10_000 - 6
    assert result.fetchone() is None
    assert (await products.query("SELECT count(*)")).fetchall() == [(10_000,)]


async def test_frames_metadata_and_relation() -> None:
    result = await products.query("WHERE id < 5 ORDER BY id")
    assert result.columns == ["id", "stock", "name"]
    assert [str(t) for t in result.types] == ["BIGINT", "BIGINT", "VARCHAR"]
    assert [d[0] for d in result.description] == ["id", "stock", "name"]
    assert isinstance(result.relation, duckdb.DuckDBPyRelation)
    frame = result.pl()
    assert isinstance(frame, pl.DataFrame) and frame["id"].to_list() == [0, 1, 2, 3, 4]
    table = result.arrow()
    assert isinstance(table, pa.Table) and table.num_rows == 5
    df = result.df()
    assert isinstance(df, pd.DataFrame) and list(df["name"]) == ["p0", "p1", "p2", "p3", "p4"]
    assert result.shape == (5, 3) and len(result) == 5


async def test_relational_methods_chain_and_keep_fetch_methods() -> None:
    result = await products.query()
    chained = result.filter("stock > 97").aggregate("count(*) AS n")
    assert isinstance(chained, QueryResult)
    assert chained.fetchone() == (200,)
    ordered = result.order("id DESC").limit(2)
    assert ordered.fetchmany(5) == [(9999, 99, "p9999"), (9998, 98, "p9998")]


async def test_positional_and_named_params() -> None:
    gt = await products.query("SELECT count(*) WHERE stock > ?", [50])
    assert gt.fetchone() == (4_900,)
    named = await products.query("SELECT id WHERE id IN $ids ORDER BY id", {"ids": [3, 7, 11]})
    assert named.fetchall() == [(3,), (7,), (11,)]


async def test_stream_yields_bounded_polars_frames() -> None:
    frames = [f async for f in products.stream("SELECT id, stock WHERE stock >= ?", params=[10], batch_rows=1_000)]
    assert all(isinstance(f, pl.DataFrame) for f in frames)
    assert all(f.height <= 1_000 for f in frames)
    assert sum(f.height for f in frames) == 9_000
    assert sorted(pl.concat(frames)["id"].to_list()) == [i for i in range(10_000) if i % 100 >= 10]


async def test_artifact_stream_and_query() -> None:
    artifact = await products()
    assert isinstance(artifact, DataArtifact)
    total = 0
    async for frame in artifact.stream(batch_rows=4_096):
        assert frame.height <= 4_096
        total += frame.height
    assert total == 10_000
    assert (await artifact.query("SELECT max(id)")).fetchone() == (9_999,)


async def test_bad_query_is_a_query_error_naming_the_asset() -> None:
    with pytest.raises(QueryError, match=r"asset `products`.*no_such_column"):
        await products.query("SELECT no_such_column")


async def test_missing_artifact_says_what_to_do() -> None:
    with pytest.raises(QueryError, match="does not exist.*materialize"):
        await DataArtifact("nowhere/x.parquet").query()


async def test_values_convert_like_duckdb_and_iteration_streams() -> None:
    total = await products.query("SELECT sum(id), sum(stock)")
    assert total.fetchone() == (49_995_000, 495_000)  # HUGEINT sums come back as ints
    assert sum(1 for _ in await products.query("SELECT id")) == 10_000


def test_duckdb_version_is_supported() -> None:
    major, minor = (int(p) for p in duckdb.__version__.split(".")[:2])
    assert (major, minor) >= (1, 5)


async def test_execute_returns_a_cursor_whose_fetches_continue() -> None:
    # The seed's users call query.execute() and then fetchmany in a loop (DuckDB 2 relations no
    # longer have execute()).
    for query, params in (("SELECT id WHERE id < 25 ORDER BY id", None), ("SELECT id WHERE id < ? ORDER BY id", [25])):
        cursor = (await products.query(query, params)).execute()
        rows = []
        while batch := cursor.fetchmany(2):
            assert len(batch) <= 2
            rows.extend(batch)
        assert rows == [(i,) for i in range(25)]
    result = await products.query("SELECT id WHERE id < 11 ORDER BY id")
    cursor = result.execute()
    assert cursor.fetchone() == (0,)
    assert cursor.fetchmany(3) == [(1,), (2,), (3,)]
    assert cursor.fetchall() == [(i,) for i in range(4, 11)]
    assert cursor.fetchone() is None
    # Each execute() starts over, independently of the result's own fetches.
    assert result.fetchone() == (0,)
    assert result.execute().fetchmany(2) == [(0,), (1,)]
    assert result.fetchone() == (1,)
