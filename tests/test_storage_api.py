"""get_fs() helpers, mad:// in DuckDB, the collector, on the default local storage."""

from __future__ import annotations

from pathlib import Path

import anyio
import duckdb
import pyarrow as pa
import pytest

from madstream import (
    DataArtifact,
    DataArtifactCollector,
    DataArtifactQuery,
    ExtractError,
    MadFileSystem,
    Storage,
    get_fs,
    register_mad_protocol,
)

pytestmark = pytest.mark.anyio


async def test_get_fs_helpers(storage_root: Path) -> None:
    fs = await get_fs()
    await fs.write_path("docs/a.txt", b"hello")
    assert (storage_root / "docs" / "a.txt").read_bytes() == b"hello"
    assert await fs.read_path("docs/a.txt") == b"hello"
    assert fs.exists("docs/a.txt") is True and fs.exists("docs/b.txt") is False
    assert fs.mkdirs("docs/sub/deeper") is None
    assert (storage_root / "docs" / "sub" / "deeper").is_dir()
    await fs.move_path("docs/a.txt", "docs/sub/b.txt")
    assert fs.glob("docs/**/*.txt") == ["docs/sub/b.txt"]
    with fs.open("docs/sub/b.txt", "rb") as fh:
        assert fh.read() == b"hello"
    with await fs.open("docs/sub/b.txt", "rb") as fh:  # the seed awaits open()
        assert fh.read() == b"hello"
    await fs.delete_path("docs", recursive=True)
    assert not (storage_root / "docs").exists()


@pytest.mark.parametrize("ext", ["json", "parquet", "csv"])
async def test_write_and_read_data_by_extension(ext: str, storage_root: Path) -> None:
    fs = await get_fs()
    rows = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    await fs.write_data(f"data/rows.{ext}", rows)
    assert await fs.read_data(f"data/rows.{ext}") == rows


async def test_default_filesystem_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("FILESYSTEM_URL")
    monkeypatch.chdir(tmp_path)
    fs = await get_fs()
    await fs.write_path("x.txt", b"1")
    assert (tmp_path / ".tmp" / "storage" / "x.txt").read_bytes() == b"1"


async def test_mad_protocol_reads_and_writes_on_default_and_given_connections(storage_root: Path) -> None:
    await DataArtifact("mad/in.parquet", [{"id": i} for i in range(10)]).persist()
    await register_mad_protocol()
    assert duckdb.sql("SELECT sum(id) FROM 'mad://mad/in.parquet'").fetchall() == [(45,)]
    con = duckdb.connect()
    await register_mad_protocol(con)
    await register_mad_protocol(con)  # registering twice is harmless
    con.execute("COPY (SELECT id * 2 AS d FROM 'mad://mad/in.parquet') TO 'mad://mad/out.parquet' (FORMAT parquet)")
    assert (storage_root / "mad" / "out.parquet").is_file()
    assert con.sql("SELECT max(d) FROM read_parquet('mad://mad/out.parquet')").fetchall() == [(18,)]
    assert isinstance(MadFileSystem(), MadFileSystem) and MadFileSystem.protocol == "mad"


async def test_collector_writes_one_artifact_per_non_empty_batch(storage_root: Path) -> None:
    async def pages():
        yield [{"page": 1, "v": 1}]
        yield []
        yield pa.table({"page": [3, 3], "v": [2, 3]})

    collector = DataArtifactCollector(pages(), "collected/pages", "parquet")
    artifacts = await collector.collect()
    assert [a.path for a in artifacts] == ["collected/pages/fragment=000001.parquet", "collected/pages/fragment=000002.parquet"]
    assert collector.artifacts == artifacts
    assert [await a.exists() for a in artifacts] == [True, True]
    result = await DataArtifactQuery(artifacts).query("SELECT sum(v), count(DISTINCT page)")
    assert result.fetchone() == (6, 2)


async def test_artifact_persist_is_all_or_nothing(storage_root: Path) -> None:
    async def broken():
        yield [{"id": 1}]
        raise ConnectionError("source dropped")

    with pytest.raises(ExtractError, match="source dropped") as caught:
        await DataArtifact("atomic/x.parquet", broken()).persist()
    assert (caught.value.path, caught.value.batch) == ("atomic/x.parquet", 2)
    assert "ConnectionError" in str(caught.value)
    assert not (storage_root / "atomic" / "x.parquet").exists()
    assert [p for p in storage_root.rglob("*") if p.is_file()] == []  # no temp file left behind
    assert await DataArtifact("atomic/y.json", []).persist() is False


async def test_queries_on_two_storages_never_read_each_others_files() -> None:
    import uuid

    from madstream import Storage, asset

    @asset("two/orders.parquet", name="two_orders")
    async def orders(source: str):
        yield [{"source": source}]

    # A query is a lazy relation: it must still read its own storage after another storage
    # has been queried (both are remote, so both go through DuckDB's fsspec filesystems).
    first, second = (Storage(f"memory://two-{uuid.uuid4().hex[:8]}-{n}") for n in ("a", "b"))
    with first.active():
        await orders("a")
        from_first = await orders.with_arguments("a").query("SELECT source")
    with second.active():
        await orders("b")
        from_second = await orders.with_arguments("b").query("SELECT source")
        assert from_second.fetchall() == [("b",)]
    assert from_first.fetchall() == [("a",)]


async def test_extract_error_keeps_the_original_exception_as_cause() -> None:
    async def broken():
        yield [{"id": 1}]
        raise ConnectionError("source dropped")

    with pytest.raises(ExtractError) as caught:
        await DataArtifact("atomic/x.parquet", broken()).persist()
    assert isinstance(caught.value.__cause__, ConnectionError)


async def test_artifact_keeps_the_storage_active_when_it_was_made(storage_root: Path) -> None:
    import uuid

    other = Storage(f"memory://bound-{uuid.uuid4().hex[:8]}")
    with other.active():
        artifact = DataArtifact("bound/rows.parquet", [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
        assert await artifact.persist() is True
    assert artifact.storage is other
    # Outside the block the default storage is current again; the artifact still reads `other`.
    result = await artifact.query("SELECT id, name ORDER BY id")
    assert result.fetchall() == [(1, "a"), (2, "b")]
    assert await artifact.exists()
    assert other.exists("bound/rows.parquet")
    default = await get_fs()
    assert default is not other
    assert not default.exists("bound/rows.parquet")
    assert not (storage_root / "bound").exists()
    # An artifact made out here, for the same path, is bound to the default storage instead.
    assert not await DataArtifact("bound/rows.parquet").exists()


async def test_a_queried_storage_is_freed_and_its_protocol_unregistered() -> None:
    import gc
    import uuid
    import weakref

    from madstream.query.result import connection  # madstream's own DuckDB connection

    con = connection()
    before = set(con.list_filesystems())
    storage = Storage(f"memory://freed-{uuid.uuid4().hex[:8]}")
    artifact = DataArtifact("x/rows.parquet", [{"v": 1}, {"v": 2}], storage=storage)
    await artifact.persist()
    result = await artifact.query("SELECT sum(v)")
    assert result.fetchone() == (3,)
    registered = set(con.list_filesystems()) - before
    assert len(registered) == 1  # a memory:// store is read through a protocol of its own

    ref = weakref.ref(storage)
    del storage, artifact, result
    # asyncio keeps the future of the last await (it holds the result) until the task next
    # suspends: let it go, then collect.
    await anyio.sleep(0)
    gc.collect()
    assert ref() is None

    later = Storage(f"memory://later-{uuid.uuid4().hex[:8]}")
    again = DataArtifact("y/rows.json", [{"v": 10}, {"v": 20}], storage=later)
    await again.persist()
    assert (await again.query("SELECT sum(v)")).fetchone() == (30,)
    now = set(con.list_filesystems())
    assert not registered & now  # the freed storage's protocol is gone ...
    assert len(now - before) == 1  # ... and only the live one is registered


async def test_storage_pickles_and_reads_what_was_written_before(tmp_path: Path) -> None:
    import pickle

    storage = Storage(f"file://{tmp_path / 'pickled'}")
    await storage.write_data("p/rows.json", [{"id": 1}, {"id": 2}])
    await storage.write_path("p/raw.bin", b"\x00bytes")

    back = pickle.loads(pickle.dumps(storage))
    assert isinstance(back, Storage) and back is not storage
    assert back.url == storage.url == f"file://{tmp_path / 'pickled'}"
    assert await back.read_path("p/raw.bin") == b"\x00bytes"
    assert await back.read_data("p/rows.json") == [{"id": 1}, {"id": 2}]
    assert (await DataArtifact("p/rows.json", storage=back).query("SELECT sum(id)")).fetchone() == (3,)
