"""Streaming: ``stream(batch_rows=n)`` yields frames of exactly ``n`` rows (but the last), on every format.

DuckDB ends a batch at each parquet row group, so without re-chunking a 150,000-row result in
75,000-row row groups came out as 75,000-row frames whatever ``batch_rows`` asked for.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from madstream import DataArtifact, DataAsset, QueryError, asset
from madstream.query.rechunk import exact_batches

pytestmark = pytest.mark.anyio

ROWS = 150_000
BATCH_ROWS = [4_096, 50_000, 65_536, 100_000, 149_999, 150_000, 1_000_000]


def _events(filetype: str) -> DataAsset:
    @asset(f"events/events.{filetype}", name=f"events_{filetype}", artifact_filetype="parquet")
    async def events():
        for start in range(0, ROWS, 25_000):
            ids = pa.array(range(start, start + 25_000), pa.int64())
            yield pa.record_batch({"id": ids, "name": pc.cast(ids, pa.string())})

    return events


def _check_frames(sizes: list[int], batch_rows: int, total: int) -> None:
    assert sum(sizes) == total
    assert all(size == batch_rows for size in sizes[:-1]), sizes[:10]
    assert 0 < sizes[-1] <= batch_rows


@pytest.mark.parametrize("filetype", ["parquet", "json", "csv"])
async def test_stream_frames_have_exactly_batch_rows(filetype: str) -> None:
    events = _events(filetype)
    await events()
    for batch_rows in BATCH_ROWS:
        frames = [frame async for frame in events.stream(batch_rows=batch_rows)]
        _check_frames([frame.height for frame in frames], batch_rows, ROWS)
        assert frames[0]["id"][0] == 0 and frames[-1]["id"][-1] == ROWS - 1
    ids = [frame["id"] async for frame in events.stream("SELECT id ORDER BY id", batch_rows=70_000)]
    assert [len(chunk) for chunk in ids] == [70_000, 70_000, 10_000]
    assert [chunk[0] for chunk in ids] == [0, 70_000, 140_000]
    ones = [frame async for frame in events.stream("SELECT id ORDER BY id LIMIT 300", batch_rows=1)]
    assert [frame.height for frame in ones] == [1] * 300 and ones[-1]["id"][0] == 299


async def test_stream_arrow_and_to_arrow_reader_are_exact_too() -> None:
    events = _events("parquet")
    artifact = await events()
    batches = [b async for b in artifact.stream_arrow("WHERE id % 3 = 0", batch_rows=30_000)]
    _check_frames([b.num_rows for b in batches], 30_000, 50_000)
    assert all(isinstance(b, pa.RecordBatch) for b in batches)
    # With params (on DuckDB 1.x, a result that holds its rows and streams them itself).
    frames = [f async for f in events.stream("WHERE id >= ? ORDER BY id", params=[10_000], batch_rows=60_000)]
    assert [f.height for f in frames] == [60_000, 60_000, 20_000] and frames[0]["id"][0] == 10_000
    reader = (await events.query("SELECT id, name")).to_arrow_reader(40_000)
    assert isinstance(reader, pa.RecordBatchReader) and reader.schema.names == ["id", "name"]
    sizes = [batch.num_rows for batch in reader]
    assert sizes == [40_000, 40_000, 40_000, 30_000]


async def test_a_file_of_many_small_row_groups_streams_in_exact_frames(storage_root: object) -> None:
    artifact = DataArtifact("raw/small_groups.parquet")
    ids = pa.array(range(10_000), pa.int64())
    with artifact.storage.open_sync("raw/small_groups.parquet", "wb") as fh:
        pq.write_table(pa.table({"id": ids}), fh, row_group_size=700)
    frames = [frame async for frame in artifact.stream(batch_rows=3_000)]
    assert [frame.height for frame in frames] == [3_000, 3_000, 3_000, 1_000]
    assert sum(frame["id"].sum() for frame in frames) == sum(range(10_000))


async def test_an_empty_result_streams_no_frames() -> None:
    events = _events("parquet")
    await events()
    assert [frame async for frame in events.stream("WHERE id < 0", batch_rows=10)] == []
    reader = (await events.query("WHERE id < 0")).to_arrow_reader(10)
    assert reader.read_all().num_rows == 0 and reader.schema.names == ["id", "name"]


@pytest.mark.parametrize("bad", [0, -5, True, 2.5, "100"])
async def test_batch_rows_must_be_a_positive_int(bad: object) -> None:
    events = _events("parquet")
    await events()
    with pytest.raises(QueryError, match=r"asset `events_parquet`.*batch_rows must be a whole number of at least 1"):
        async for _ in events.stream(batch_rows=bad):  # type: ignore[arg-type]
            pass
    with pytest.raises(QueryError, match="batch_rows must be a whole number of at least 1"):
        (await events.query()).to_arrow_reader(bad)  # type: ignore[arg-type]


async def test_a_failure_while_streaming_is_a_query_error_without_the_value() -> None:
    events = _events("parquet")
    await events()
    query = "SELECT CASE WHEN id > 120000 THEN CAST('x' || id AS INTEGER) ELSE id END AS n"
    seen = 0
    with pytest.raises(QueryError, match="DuckDB failed while reading the result: Conversion Error") as raised:
        async for frame in events.stream(query, batch_rows=10_000):
            seen += frame.height
    assert seen <= 120_000  # DuckDB scans in parallel: the failing rows may come before any frame
    assert "x120001" not in str(raised.value)
    reader = (await events.query(query)).to_arrow_reader(10_000)
    with pytest.raises(QueryError, match="Conversion Error") as raised:
        reader.read_all()
    assert "x120001" not in str(raised.value)


def test_rechunking_reads_ahead_no_more_than_one_batch_and_copies_only_to_join() -> None:
    pulled: list[int] = []

    def source() -> Iterator[pa.RecordBatch]:
        for start in range(0, 1_000, 250):
            pulled.append(start)
            yield pa.record_batch({"n": pa.array(range(start, start + 250), pa.int64())})

    sizes = []
    for batch in exact_batches(source(), 400):
        sizes.append(batch.num_rows)
        # Frame k is out once its last row was pulled, not after the whole input.
        assert len(pulled) == -(-sum(sizes) // 250)
    assert sizes == [400, 400, 200]

    whole = pa.record_batch({"n": pa.array(range(1_000), pa.int64())})
    parts = list(exact_batches([whole], 250))
    assert [p.num_rows for p in parts] == [250] * 4
    # Cut from one batch: zero-copy slices of it, nothing concatenated.
    assert all(p.column(0).buffers()[1].address == whole.column(0).buffers()[1].address for p in parts)
