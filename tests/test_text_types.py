"""Text that holds dates, timestamps, times or UUIDs reads back typed, as the original's ``read_json``
typed it; the reader options that shape types apply to every result of a JSON- or CSV-fragment asset."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from madstream import ReadCSVOptions, ReadJsonOptions, asset

pytestmark = pytest.mark.anyio

RESULTS = ["parquet", "json", "csv"]
UTC = dt.UTC
U1 = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
U2 = "951c58e4-b9a4-4478-883e-22760064e416"


def _types(result: Any) -> dict[str, str]:
    return {name: str(t) for name, t in zip(result.columns, result.types)}


@pytest.mark.parametrize("ext", RESULTS)
@pytest.mark.parametrize("fragments", ["json", "csv"])
async def test_iso_text_columns_read_back_typed(ext: str, fragments: str) -> None:
    @asset(f"typed/{fragments}/events.{ext}", name=f"events_{fragments}_{ext}", artifact_filetype=fragments)  # type: ignore[arg-type]
    async def events():
        yield [
            {"id": 1, "day": "2024-01-02", "at": "2024-01-02 03:04:05", "seen": "2024-01-02T03:04:05Z",
             "clock": "12:30:00", "key": U1, "note": "hello"},
            {"id": 2, "day": None, "at": "2024-01-02T03:04:05.250000", "seen": "2024-01-02T05:04:05+02:00",
             "clock": None, "key": U2.upper(), "note": "2024-01-02"},
        ]
        yield [{"id": 3, "day": "2024-02-29", "at": "2024-03-01", "seen": None, "clock": "23:59:59.5", "key": None,
                "note": "x"}]

    await events()
    result = await events.query("SELECT * ORDER BY id")
    assert _types(result) == {
        "id": "BIGINT", "day": "DATE", "at": "TIMESTAMP", "seen": "TIMESTAMP WITH TIME ZONE", "clock": "TIME",
        "key": "UUID", "note": "VARCHAR",
    }
    rows = [dict(zip(result.columns, row)) for row in result.fetchall()]
    assert [r["day"] for r in rows] == [dt.date(2024, 1, 2), None, dt.date(2024, 2, 29)]
    assert [r["at"] for r in rows] == [
        dt.datetime(2024, 1, 2, 3, 4, 5), dt.datetime(2024, 1, 2, 3, 4, 5, 250000), dt.datetime(2024, 3, 1),
    ]
    assert [r["seen"].astimezone(UTC) if r["seen"] else None for r in rows] == [
        dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), None,
    ]
    assert [r["clock"] for r in rows] == [dt.time(12, 30), None, dt.time(23, 59, 59, 500000)]
    assert [r["key"] for r in rows] == [uuid.UUID(U1), uuid.UUID(U2), None]
    assert [r["note"] for r in rows] == ["hello", "2024-01-02", "x"]
    # Filters on the typed columns work with typed values.
    assert (await events.query("SELECT id WHERE day = DATE '2024-02-29'")).fetchall() == [(3,)]
    # The version records what was detected.
    [version] = await events.versions()
    assert version.text_types["day"] == "DATE" and "note" not in version.text_types


@pytest.mark.parametrize("ext", RESULTS)
async def test_one_misfit_in_a_later_batch_keeps_the_whole_column_text(ext: str) -> None:
    @asset(f"typed/misfit.{ext}", name=f"misfit_{ext}")
    async def misfit():
        for page in range(3):
            yield [{"id": page, "day": f"2024-01-0{page + 1}"}]
        yield [{"id": 9, "day": "2024-02-30"}]  # not a real date

    await misfit()
    result = await misfit.query("SELECT id, day ORDER BY id")
    assert _types(result)["day"] == "VARCHAR"
    assert result.fetchall() == [(0, "2024-01-01"), (1, "2024-01-02"), (2, "2024-01-03"), (9, "2024-02-30")]


async def test_detection_can_be_switched_off_per_asset() -> None:
    @asset("typed/off.parquet", name="off", detect_types=False)
    async def off():
        yield [{"day": "2024-01-02", "key": U1}]

    await off()
    result = await off.query()
    assert _types(result) == {"day": "VARCHAR", "key": "VARCHAR"}
    assert result.fetchall() == [("2024-01-02", U1)]

    on = off.with_options(detect_types=True, name="on")
    await on()
    assert _types(await on.query()) == {"day": "DATE", "key": "UUID"}


async def test_parquet_fragment_assets_keep_their_types_as_given() -> None:
    @asset("typed/given.parquet", name="given", artifact_filetype="parquet")
    async def given():
        yield [{"day": "2024-01-02", "key": U1}]

    await given()
    assert _types(await given.query()) == {"day": "VARCHAR", "key": "VARCHAR"}


async def test_a_pandas_column_of_uuid_text_comes_back_as_uuids() -> None:
    # The original's own test: a frame of UUID strings reads back as UUID values.
    @asset("typed/frame.parquet", name="frame")
    async def frame():
        return pd.DataFrame({"count": [1, 5, 10], "id": [U2] * 3})

    await frame()
    result = await frame.query("SELECT count, id ORDER BY count")
    assert result.fetchall() == [(1, uuid.UUID(U2)), (5, uuid.UUID(U2)), (10, uuid.UUID(U2))]


async def test_typed_columns_stay_typed_through_an_asset_that_yields_another() -> None:
    @asset("typed/inner.json", name="inner")
    async def inner():
        yield [{"day": "2024-01-02", "key": U1}]

    @asset("typed/outer.parquet", name="outer")
    async def outer():
        yield inner()

    await outer()
    result = await outer.query()
    assert _types(result) == {"day": "DATE", "key": "UUID"}
    assert result.fetchall() == [(dt.date(2024, 1, 2), uuid.UUID(U1))]


# Value sets on which madstream's detection and DuckDB's read_json agree (the original's types).
AGREED = {
    "iso dates": ["2024-01-02", "1999-12-31"],
    "dates and timestamps": ["2024-01-02", "2024-01-02 03:04:05"],
    "T timestamps": ["2024-01-02T03:04:05", "2024-01-02 03:04:05"],
    "microseconds": ["2024-01-02 03:04:05.123456"],
    "zulu": ["2024-01-02T03:04:05Z", "2024-01-02T03:04:05.123Z"],
    "offsets": ["2024-01-02T03:04:05+01:00", "2024-01-02 03:04:05+0530"],
    "naive and aware": ["2024-01-02 03:04:05", "2024-01-02T03:04:05Z"],
    "dates and aware": ["2024-01-02", "2024-01-02T03:04:05Z"],
    "times": ["12:30:00", "12:30", "08:00:00.25"],
    "uuids": [U1, U2.upper()],
    "uuid and date": [U1, "2024-01-02"],
    "impossible date": ["2024-02-30"],
    "empty text": ["2024-01-02", ""],
    "numbers as text": ["123", "456"],
    "words": ["hello", "world"],
    "slashes": ["2024/01/02"],
}

#: Text with a zone: DuckDB 2 reads it as TIMESTAMP WITH TIME ZONE, which madstream follows.
AWARE = {"zulu", "offsets", "naive and aware", "dates and aware"}


@pytest.mark.parametrize("label", list(AGREED))
async def test_detection_agrees_with_duckdb_read_json(label: str, tmp_path: Path) -> None:
    values = AGREED[label]
    if label in AWARE and int(duckdb.__version__.split(".")[0]) < 2:
        pytest.skip("DuckDB 1.x typed text with a zone differently (Z as TIMESTAMP, offsets as text); madstream follows 2.x")

    @asset(f"agree/{label.replace(' ', '_')}.parquet", name=f"agree_{label.replace(' ', '_')}")
    async def sample():
        for value in values:
            yield [{"x": value}]

    await sample()
    ours = _types(await sample.query())["x"]
    lines = tmp_path / "sample.json"
    lines.write_text("\n".join(json.dumps({"x": v}) for v in values))
    theirs = str(duckdb.sql(f"SELECT x FROM read_json('{lines}')").types[0])
    assert ours == theirs


# -- reader options that shape types --------------------------------------------------------------

@pytest.mark.parametrize("ext", RESULTS)
async def test_read_json_options_columns_shape_every_result_type(ext: str) -> None:
    @asset(
        f"shape/attrs.{ext}", name=f"attrs_{ext}",
        read_json_options=ReadJsonOptions(columns={"data": "MAP(VARCHAR, VARCHAR)", "n": "VARCHAR"}),
    )
    async def attrs():
        yield [{"id": 1, "n": 5, "data": {"a": "x", "b": "y"}}]
        yield [{"id": 2, "n": 6, "data": {"a": "z"}}]

    await attrs()
    result = await attrs.query("SELECT id, n, data ORDER BY id")
    assert _types(result) == {"id": "BIGINT", "n": "VARCHAR", "data": "MAP(VARCHAR, VARCHAR)"}
    assert result.fetchall() == [(1, "5", {"a": "x", "b": "y"}), (2, "6", {"a": "z"})]
    # A MAP column answers map lookups.
    assert (await attrs.query("SELECT data['a'] ORDER BY id")).fetchall() == [("x",), ("z",)]


@pytest.mark.parametrize("ext", RESULTS)
async def test_a_date_format_in_the_reader_options_types_text_in_that_format(ext: str) -> None:
    @asset(f"shape/au.{ext}", name=f"au_{ext}", read_json_options=ReadJsonOptions(dateformat="%d/%m/%Y"))
    async def au():
        yield [{"id": 1, "day": "02/01/2024"}, {"id": 2, "day": "31/12/2023"}]

    await au()
    result = await au.query("SELECT id, day ORDER BY id")
    assert _types(result)["day"] == "DATE"
    assert result.fetchall() == [(1, dt.date(2024, 1, 2)), (2, dt.date(2023, 12, 31))]


async def test_read_csv_options_types_shape_a_csv_fragment_assets_results() -> None:
    @asset("shape/codes.parquet", name="codes", artifact_filetype="csv",
           read_csv_options=ReadCSVOptions(types={"code": "INTEGER"}))
    async def codes():
        yield [{"code": "007", "label": "bond"}]

    await codes()
    result = await codes.query()
    assert _types(result) == {"code": "INTEGER", "label": "VARCHAR"}
    assert result.fetchall() == [(7, "bond")]


# -- structs of many or sparse keys read as maps, as read_json inferred them -----------------------

@pytest.mark.parametrize("ext", RESULTS)
async def test_a_struct_of_sparse_keys_reads_as_a_map(ext: str) -> None:
    @asset(f"maps/sparse.{ext}", name=f"sparse_{ext}")
    async def sparse():
        yield [{"id": i, "attrs": {f"k{i}": i}} for i in range(20)]  # each key in 1 of 20 records

    @asset(f"maps/dense.{ext}", name=f"dense_{ext}")
    async def dense():
        yield [{"id": 1, "attrs": {"a": 1, "b": 2}}, {"id": 2, "attrs": {"a": 3}}]

    await sparse()
    result = await sparse.query("SELECT id, attrs ORDER BY id LIMIT 3")
    assert _types(result)["attrs"] == "MAP(VARCHAR, BIGINT)"
    assert result.fetchall() == [(0, {"k0": 0}), (1, {"k1": 1}), (2, {"k2": 2})]
    await dense()
    assert _types(await dense.query())["attrs"] == "STRUCT(a BIGINT, b BIGINT)"


FIVE_KEYS = "STRUCT(k0 BIGINT, k1 BIGINT, k2 BIGINT, k3 BIGINT, k4 BIGINT)"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (ReadJsonOptions(map_inference_threshold=3), "MAP(VARCHAR, BIGINT)"),
        (ReadJsonOptions(map_inference_threshold=-1, field_appearance_threshold=0), FIVE_KEYS),
        (ReadJsonOptions(field_appearance_threshold=0.9), FIVE_KEYS),
    ],
)
async def test_map_thresholds_in_the_reader_options_decide_like_read_json(
    options: ReadJsonOptions, expected: str, tmp_path: Path,
) -> None:
    record = {"id": 1, "attrs": {f"k{i}": i for i in range(5)}}

    @asset("maps/keys.parquet", name="keys", read_json_options=options)
    async def keys():
        yield [record]

    await keys()
    assert _types(await keys.query())["attrs"] == expected
    lines = tmp_path / "keys.json"
    lines.write_text(json.dumps(record))
    args = "".join(f", {k} = {v}" for k, v in options.items())
    assert str(duckdb.sql(f"SELECT attrs FROM read_json('{lines}'{args})").types[0]) == expected
