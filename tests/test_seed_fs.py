"""The seed's ``FsspecFileSystem`` helpers on ``get_fs()``: the same calls, the same results.

In mad-prefect ``glob``, ``exists`` and ``mkdirs`` are plain calls (a list, a bool, ``None``);
``read_data`` turns parquet and csv into a list of row dicts (pandas ``to_dict("records")``);
``write_data`` formats its path with the data's keys (a dict), ``data=`` (a list) and kwargs.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from madstream import Storage, get_fs

pytestmark = pytest.mark.anyio


def pandas_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """What the seed's read_data returns for ``frame``, with its NaN missing values as ``None``."""
    return [
        {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


# -- glob, exists, mkdirs: synchronous ---------------------------------------------------------
async def test_glob_is_synchronous_sorted_and_relative_to_the_root(storage_root: Path) -> None:
    fs = await get_fs()
    for name in ("b", "a"):
        await fs.write_data(f"bound_arguments/{name}.parquet", [{"id": 1}])
    await fs.write_data("bound_arguments/c.json", [{"id": 1}])
    await fs.write_data("bound_arguments/deeper/d.parquet", [{"id": 1}])

    found = fs.glob("bound_arguments/*.parquet")
    assert len(fs.glob("bound_arguments/*.parquet")) == 2
    assert found == ["bound_arguments/a.parquet", "bound_arguments/b.parquet"]
    assert fs.glob("bound_arguments/**/*.parquet") == [
        "bound_arguments/a.parquet", "bound_arguments/b.parquet", "bound_arguments/deeper/d.parquet",
    ]
    assert fs.glob("bound_arguments/*") == [
        "bound_arguments/a.parquet", "bound_arguments/b.parquet", "bound_arguments/c.json", "bound_arguments/deeper",
    ]
    # A leading slash is relative to the root too (the seed strips it).
    assert fs.glob("/bound_arguments/*.json") == ["bound_arguments/c.json"]
    assert fs.glob("nowhere/*.parquet") == []
    assert all(not p.startswith(str(storage_root)) for p in fs.glob("**"))


async def test_exists_is_synchronous_for_files_and_folders() -> None:
    fs = await get_fs()
    await fs.write_path("ex/sub/a.txt", b"a")
    assert fs.exists("ex/sub/a.txt") is True
    assert fs.exists("ex/sub") is True
    assert fs.exists("/ex/sub/a.txt") is True
    assert fs.exists("ex/sub/b.txt") is False
    await fs.delete_path("ex", recursive=True)
    assert fs.exists("ex/sub/a.txt") is False


async def test_mkdirs_is_synchronous_with_the_seeds_exist_ok(storage_root: Path) -> None:
    fs = await get_fs()
    assert fs.mkdirs("x/y", exist_ok=True) is None
    assert (storage_root / "x" / "y").is_dir()
    assert fs.mkdirs("x/y", exist_ok=True) is None  # again: fine
    with pytest.raises(FileExistsError):
        fs.mkdirs("x/y")  # exist_ok defaults to False, as in the seed
    assert fs.mkdirs("x/z") is None  # a new folder needs no exist_ok
    assert (storage_root / "x" / "z").is_dir()
    assert fs.exists("x/z") is True


def test_the_sync_helpers_work_outside_an_event_loop(tmp_path: Path) -> None:
    fs = Storage(f"file://{tmp_path / 'plain'}")
    assert fs.mkdirs("a/b", exist_ok=True) is None
    fs.write_bytes_sync("a/b/1.txt", b"1")
    fs.write_bytes_sync("a/0.txt", b"0")
    assert fs.glob("a/**/*.txt") == ["a/0.txt", "a/b/1.txt"]
    assert fs.exists("a/b/1.txt") is True


def test_the_sync_helpers_on_memory_storage() -> None:
    fs = Storage(f"memory://seedfs-{uuid.uuid4().hex[:8]}")
    assert fs.mkdirs("m/n", exist_ok=True) is None
    fs.write_bytes_sync("m/n/2.parquet", b"x")
    fs.write_bytes_sync("m/n/1.parquet", b"x")
    assert fs.glob("m/n/*.parquet") == ["m/n/1.parquet", "m/n/2.parquet"]
    assert fs.exists("m/n/1.parquet") is True and fs.exists("m/n/3.parquet") is False
    with pytest.raises(FileExistsError):
        fs.mkdirs("m/n")


# -- read_data ---------------------------------------------------------------------------------
async def test_read_data_parquet_is_a_list_of_records() -> None:
    fs = await get_fs()
    when = dt.datetime(2024, 5, 1, 12, 30)
    table = pa.table({
        "id": pa.array([1, 2], pa.int64()),
        "amount": pa.array([2.5, None], pa.float64()),
        "name": pa.array(["a", None]),
        "ok": pa.array([True, False]),
        "at": pa.array([when, when], pa.timestamp("us")),
    })
    await fs.write_path("rd/rows.parquet", parquet_bytes(table))
    rows = await fs.read_data("rd/rows.parquet")
    assert rows == [
        {"id": 1, "amount": 2.5, "name": "a", "ok": True, "at": when},
        {"id": 2, "amount": None, "name": None, "ok": False, "at": when},
    ]
    assert [type(v) for v in rows[0].values()] == [int, float, str, bool, dt.datetime]
    # The same values the seed (pandas) returns, NaN aside.
    assert rows == pandas_records(pd.read_parquet(io.BytesIO(parquet_bytes(table))))


async def test_read_data_parquet_written_by_pandas_drops_the_index() -> None:
    fs = await get_fs()
    frame = pd.DataFrame({"id": [1, 2], "city": ["Perth", "Hobart"]}, index=["r1", "r2"])
    buf = io.BytesIO()
    frame.to_parquet(buf)  # a non-range index is stored as a column
    await fs.write_path("rd/pandas.parquet", buf.getvalue())
    assert await fs.read_data("rd/pandas.parquet") == [{"id": 1, "city": "Perth"}, {"id": 2, "city": "Hobart"}]
    assert await fs.read_data("rd/pandas.parquet") == pandas_records(pd.read_parquet(io.BytesIO(buf.getvalue())))


async def test_write_data_then_read_data_round_trips_parquet_and_csv() -> None:
    fs = await get_fs()
    rows = [{"id": 1, "name": "a", "amount": 1.5}, {"id": 2, "name": "b", "amount": 3.0}]
    for ext in ("parquet", "csv"):
        await fs.write_data(f"rt/rows.{ext}", rows)
        back = await fs.read_data(f"rt/rows.{ext}")
        assert back == rows
        assert [type(v) for v in back[1].values()] == [int, str, float]


CSV_SAMPLES = {
    "types": "id,amount,name,ok,day\n1,2.5,a,True,2024-01-01\n2,,,false,2024-01-02\n",
    "headers": ",a,a,a.1,\n1,2,3,4,5\n",
    "dupes": "x,x,x.1,x,Unnamed: 5,\n1,2,3,4,5,6\n",
    "nulls": "a,b,c\nNA,null,x\n1,None,<NA>\n",
    "times": "t,n\n12:30:00,1\n2024-01-01 10:00:00,2\n",
    "bom": "\ufeffid,v\n1,x\n",
}


@pytest.mark.parametrize("sample", sorted(CSV_SAMPLES))
async def test_read_data_csv_matches_pandas(sample: str) -> None:
    fs = await get_fs()
    text = CSV_SAMPLES[sample]
    await fs.write_path(f"csv/{sample}.csv", text.encode("utf-8"))
    rows = await fs.read_data(f"csv/{sample}.csv")
    assert rows == pandas_records(pd.read_csv(io.StringIO(text), sep=","))


async def test_read_data_csv_values() -> None:
    fs = await get_fs()
    await fs.write_path("csv/v.csv", CSV_SAMPLES["types"].encode())
    assert await fs.read_data("csv/v.csv") == [
        {"id": 1, "amount": 2.5, "name": "a", "ok": True, "day": "2024-01-01"},
        {"id": 2, "amount": None, "name": None, "ok": False, "day": "2024-01-02"},
    ]
    await fs.write_path("csv/h.csv", CSV_SAMPLES["headers"].encode())
    assert await fs.read_data("csv/h.csv") == [{"Unnamed: 0": 1, "a": 2, "a.2": 3, "a.1": 4, "Unnamed: 4": 5}]


async def test_read_data_csv_written_by_the_seed_keeps_its_index_column() -> None:
    fs = await get_fs()
    buf = io.StringIO()
    pd.DataFrame([{"id": 1, "city": "Perth"}, {"id": 2, "city": "Hobart"}]).to_csv(buf, encoding="utf-8", sep=",")
    await fs.write_path("csv/seed.csv", buf.getvalue().encode("utf-8"))
    assert await fs.read_data("csv/seed.csv") == [
        {"Unnamed: 0": 0, "id": 1, "city": "Perth"},
        {"Unnamed: 0": 1, "id": 2, "city": "Hobart"},
    ]


async def test_read_data_csv_encoding() -> None:
    fs = await get_fs()
    await fs.write_path("csv/latin.csv", "city,n\nMünchen,1\n".encode("latin-1"))
    assert await fs.read_data("csv/latin.csv", encoding="latin-1") == [{"city": "München", "n": 1}]
    with pytest.raises(UnicodeDecodeError):
        await fs.read_data("csv/latin.csv", encoding="ascii")


async def test_read_data_json_is_the_parsed_document() -> None:
    fs = await get_fs()
    await fs.write_path("js/doc.json", b'{"a": [1, 2], "b": {"c": null}}')
    assert await fs.read_data("js/doc.json") == {"a": [1, 2], "b": {"c": None}}
    await fs.write_data("js/rows.json", [{"id": 1}, {"id": 2}])
    assert await fs.read_data("js/rows.json") == [{"id": 1}, {"id": 2}]
    # Any other extension is JSON too, as in the seed.
    await fs.write_path("js/notes.txt", b'["x", 1]')
    assert await fs.read_data("js/notes.txt") == ["x", 1]


# -- write_data path templates -----------------------------------------------------------------
async def test_write_data_formats_the_path_with_a_dicts_keys(storage_root: Path) -> None:
    fs = await get_fs()
    path = await fs.write_data("orders/{region}/{id}.json", {"id": 7, "region": "wa", "amount": 9.5})
    assert path == "orders/wa/7.json"
    assert (storage_root / "orders" / "wa" / "7.json").is_file()
    assert await fs.read_data("orders/wa/7.json") == {"id": 7, "region": "wa", "amount": 9.5}


async def test_write_data_dict_keys_win_over_kwargs(storage_root: Path) -> None:
    fs = await get_fs()
    path = await fs.write_data("k/{day}/{id}.json", {"id": 1, "day": "from-data"}, day="from-kwargs")
    assert path == "k/from-data/1.json"
    path = await fs.write_data("k/{day}/{id}.json", {"id": 2}, day="from-kwargs")
    assert path == "k/from-kwargs/2.json"
    assert sorted(fs.glob("k/*/*.json")) == ["k/from-data/1.json", "k/from-kwargs/2.json"]


async def test_write_data_formats_the_path_with_a_list_as_data(storage_root: Path) -> None:
    fs = await get_fs()
    rows = [{"id": 3, "v": "a"}, {"id": 4, "v": "b"}]
    path = await fs.write_data("lists/{day}/first={data[0][id]}.parquet", rows, day="2024-05-01")
    assert path == "lists/2024-05-01/first=3.parquet"
    assert (storage_root / "lists" / "2024-05-01" / "first=3.parquet").is_file()
    assert await fs.read_data(path) == rows
    # A list's own keys are not template fields: only data= and kwargs are.
    with pytest.raises(KeyError, match="id"):
        await fs.write_data("lists/{id}.json", rows)


async def test_write_data_formats_with_kwargs_only_for_dicts_and_lists(storage_root: Path) -> None:
    fs = await get_fs()
    assert await fs.write_data("kw/{day}.csv", [{"id": 1}], day="mon") == "kw/mon.csv"
    assert await fs.read_data("kw/mon.csv") == [{"id": 1}]
    # Other data (a table here) leaves the path as given, as in the seed.
    table = pa.table({"id": [1, 2]})
    assert await fs.write_data("kw/table.parquet", table, day="ignored") == "kw/table.parquet"
    assert await fs.read_data("kw/table.parquet") == [{"id": 1}, {"id": 2}]
    # `indent` is the seed's own parameter, never a template field.
    assert await fs.write_data("kw/{indent}.json", {"indent": "field"}, indent=False) == "kw/field.json"


async def test_write_data_missing_template_field_raises_key_error() -> None:
    fs = await get_fs()
    with pytest.raises(KeyError, match="region"):
        await fs.write_data("orders/{region}.json", {"id": 1})
    assert fs.glob("orders/**") == []


# -- open --------------------------------------------------------------------------------------
async def test_open_is_awaitable_as_in_the_seed_and_a_context_manager() -> None:
    fs = await get_fs()
    async with fs.open("op/a.bin", "wb") as fh:
        fh.write(b"abc")
    handle = await fs.open("op/a.bin")
    try:
        assert handle.read() == b"abc"
    finally:
        handle.close()
    with await fs.open("op/a.bin", "rb") as fh:
        assert fh.read() == b"abc"
    with fs.open("op/a.bin") as fh:
        assert fh.read() == b"abc"


# -- the Prefect block delegates ---------------------------------------------------------------
async def test_block_helpers_are_the_storages(tmp_path: Path) -> None:
    import madstream

    block: Any = madstream.FsspecFileSystem(basepath=f"file://{tmp_path / 'blockroot'}")
    assert await block.write_data("b/{id}.parquet", {"id": 5, "v": "x"}) == "b/5.parquet"
    await block.write_data("b/{n}.csv", [{"id": 6}], n="six")
    assert block.glob("b/*") == ["b/5.parquet", "b/six.csv"]
    assert block.exists("b/5.parquet") is True and block.exists("b/6.parquet") is False
    assert block.mkdirs("b/new", exist_ok=True) is None
    with pytest.raises(FileExistsError):
        block.mkdirs("b/new")
    assert await block.read_data("b/5.parquet") == [{"id": 5, "v": "x"}]
    assert await block.read_data("b/six.csv") == [{"id": 6}]
    with await block.open("b/six.csv") as fh:
        assert fh.read() == b"id\n6\n"
    await block.get_directory("b", str(tmp_path / "down"))
    assert sorted(p.name for p in (tmp_path / "down").iterdir() if p.is_file()) == ["5.parquet", "six.csv"]
