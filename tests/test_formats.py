"""Every result and fragment format keeps the values it was given."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from pathlib import Path

import pytest

from madstream import DataArtifact, asset

pytestmark = pytest.mark.anyio

FORMATS = ["parquet", "json", "csv"]
U = uuid.UUID("12345678-1234-5678-1234-567812345678")
ROWS = [
    {
        "id": 1,
        "stamp": dt.datetime(2024, 5, 6, 7, 8, 9, 123456),
        "day": dt.date(2024, 5, 6),
        "clock": dt.time(13, 14, 15, 16),
        "price": decimal.Decimal("12.34"),
        "uid": U,
        "score": None,
        "tags": ["a", "b"],
        "address": {"city": "Perth", "geo": {"lat": -31.95, "lon": 115.86}},
    },
    {
        "id": 2,
        "stamp": dt.datetime(2024, 5, 7, 0, 0, 0, 1),
        "day": dt.date(2024, 5, 7),
        "clock": dt.time(0, 0, 0, 1),
        "price": decimal.Decimal("0.01"),
        "uid": uuid.UUID(int=7),
        "score": 42,
        "tags": [],
        "address": {"city": "Hobart", "geo": {"lat": -42.88, "lon": 147.33}},
    },
]


@pytest.mark.parametrize("artifact_type", FORMATS)
@pytest.mark.parametrize("result_type", FORMATS)
async def test_types_round_trip(result_type: str, artifact_type: str) -> None:
    @asset(f"typed/rows.{result_type}", name=f"typed_{result_type}_{artifact_type}", artifact_filetype=artifact_type)
    async def typed():
        yield ROWS

    await typed()
    result = await typed.query("SELECT id, stamp, day, clock, price, uid, score, tags, address ORDER BY id")
    rows = result.fetchall()
    expected = [tuple(r.values()) for r in ROWS]
    assert rows == expected
    types = dict(zip(result.columns, map(str, result.types)))
    assert types["stamp"] == "TIMESTAMP"
    assert types["price"] == "DECIMAL(4,2)"
    assert types["uid"] == "UUID"


@pytest.mark.parametrize("artifact_type", FORMATS)
async def test_fragments_hold_the_batches(artifact_type: str, storage_root: Path) -> None:
    @asset("frag/out.parquet", name="frag", artifact_filetype=artifact_type)
    async def frag():
        yield ROWS[:1]
        yield []
        yield ROWS[1:]

    await frag()
    folder = storage_root / "frag" / "_artifacts" / "asset=frag"
    files = sorted(p.name for p in folder.iterdir())
    assert files == [f"fragment=000001.{artifact_type}", f"fragment=000002.{artifact_type}"]
    # Each fragment is a readable artifact holding exactly its batch.
    for i, name in enumerate(files, start=1):
        got = await DataArtifact(f"frag/_artifacts/asset=frag/{name}").query("SELECT id")
        assert got.fetchall() == [(i,)]


async def test_multi_type_path_writes_one_result_per_type(storage_root: Path) -> None:
    @asset("multi/customers.parquet|csv|json", name="multi")
    async def multi():
        yield [{"id": 1, "name": "x"}, {"id": 2, "name": "y"}]

    first = await multi()
    assert first.path == "multi/customers.parquet"
    for ext in FORMATS:
        path = storage_root / "multi" / f"customers.{ext}"
        assert path.is_file(), ext
        got = await DataArtifact(f"multi/customers.{ext}").query("SELECT id, name ORDER BY id")
        assert got.fetchall() == [(1, "x"), (2, "y")]


PLAIN = [
    {
        "id": 1, "stamp": dt.datetime(2024, 5, 6, 7, 8, 9, 123456), "day": dt.date(2024, 5, 6),
        "clock": dt.time(13, 14, 15, 16), "ratio": 0.1, "big": 2**62, "flag": True,
        "text": 'he said "},{" \\ \n\t ünï 😀', "tags": ["x", None],
        "address": {"city": "Perth", "geo": {"lat": -31.95, "lon": 115.86}},
    },
    {
        "id": 2, "stamp": dt.datetime(2024, 5, 7, 0, 0, 0, 1), "day": None, "clock": dt.time(0, 0, 0, 2),
        "ratio": float("nan"), "big": -1, "flag": None, "text": "", "tags": [],
        "address": {"city": None, "geo": None},
    },
    # Keys missing from a row, at the top and inside an object.
    {"id": 3, "stamp": None, "ratio": 1e300, "tags": None, "address": {"city": "Hobart"}},
]
PLAIN_COLUMNS = "id, stamp, day, clock, ratio, big, flag, text, tags, address"


def _nanless(rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    """Rows with NaN as a marker, so equal rows compare equal (NaN != NaN); every format keeps NaN."""
    return [tuple("NaN" if isinstance(v, float) and v != v else v for v in r) for r in rows]


def _plain_expected(rows: list[dict[str, object]], columns: str) -> list[tuple[object, ...]]:
    out = []
    for r in rows:
        row = {k: r.get(k) for k in columns.split(", ")}
        row["address"] = {"city": r["address"].get("city"), "geo": r["address"].get("geo")}  # type: ignore[attr-defined]
        out.append(tuple(row.values()))
    return _nanless(out)


@pytest.mark.parametrize("source", ["dicts", "arrow"])
async def test_json_from_dict_rows_and_from_arrow_read_back_the_same(source: str, storage_root: Path) -> None:
    import pyarrow as pa

    # Dict rows are encoded from the values as given (orjson); Arrow input by Arrow's kernels.
    page: object = PLAIN if source == "dicts" else pa.Table.from_pylist(PLAIN)

    @asset("plain/rows.json", name=f"plain_{source}")
    async def plain():
        yield page

    await plain()
    expected = _plain_expected(PLAIN, PLAIN_COLUMNS)
    assert _nanless((await plain.query(f"SELECT {PLAIN_COLUMNS} ORDER BY id")).fetchall()) == expected
    # Both encoders print a timestamp the same way; the fragment holds the very result lines.
    fragment = storage_root / "plain" / "_artifacts" / f"asset=plain_{source}" / "fragment=000001.json"
    lines = (storage_root / "plain" / "rows.json").read_bytes()
    assert b'"stamp":"2024-05-06T07:08:09.123456"' in lines and b'"stamp":"2024-05-07T00:00:00.000001"' in lines
    assert fragment.read_bytes() == lines and len(lines.splitlines()) == 3


async def test_json_of_dict_rows_the_fast_encoder_leaves_reads_back_exactly() -> None:
    # Aware timestamps, control characters and a column mixing whole and fractional seconds.
    tz = dt.timezone(dt.timedelta(hours=8))
    rows = [
        {**PLAIN[0], "aware": dt.datetime(2024, 5, 6, 7, 8, 9, 5, tzinfo=tz), "text": "bell \x07"},
        {**PLAIN[1], "aware": dt.datetime(2024, 5, 6, tzinfo=dt.UTC), "stamp": dt.datetime(2024, 5, 7)},
        PLAIN[2],
    ]
    columns = PLAIN_COLUMNS + ", aware"

    @asset("hard/rows.json", name="hard")
    async def hard():
        yield rows

    await hard()
    assert _nanless((await hard.query(f"SELECT {columns} ORDER BY id")).fetchall()) == _plain_expected(rows, columns)


async def test_json_columns_option_gives_a_map() -> None:
    @asset("opts/data.json", name="opts", read_json_options={"columns": {"data": "MAP(STRING, STRING)"}})
    async def opts():
        yield [{"id": 1, "data": {"a": "1", "b": "2"}}, {"id": 2, "data": {"c": "3"}}]

    result = await opts.query("SELECT id, data ORDER BY id")
    assert str(result.types[1]) == "MAP(VARCHAR, VARCHAR)"
    # Dict rows are written as given, so each map holds exactly the keys its row had.
    assert result.fetchall() == [(1, {"a": "1", "b": "2"}), (2, {"c": "3"})]


@pytest.mark.parametrize("ext", ["json", "parquet"])
async def test_wide_objects_stay_nested(ext: str) -> None:
    wide = {f"key_{i}": i for i in range(300)}

    @asset(f"wide/rows.{ext}", name=f"wide_{ext}")
    async def rows():
        yield [{"id": 1, "attrs": wide}, {"id": 2, "attrs": {**wide, "extra": 1}}]

    result = await rows.query("SELECT attrs ORDER BY id")
    kind = str(result.types[0])
    assert kind.startswith(("STRUCT", "MAP")), kind
    first = result.fetchone()[0]
    assert first["key_299"] == 299


async def test_csv_options_are_honoured(storage_root: Path) -> None:
    (storage_root / "raw").mkdir(parents=True)
    (storage_root / "raw" / "semi.csv").write_text("id;name\n1;x\n2;y\n")
    artifact = DataArtifact("raw/semi.csv", read_csv_options={"delim": ";", "columns": {"id": "INTEGER", "name": "VARCHAR"}})
    result = await artifact.query("SELECT * ORDER BY id")
    assert [str(t) for t in result.types] == ["INTEGER", "VARCHAR"]
    assert result.fetchall() == [(1, "x"), (2, "y")]


async def test_foreign_json_with_wide_objects_stays_nested(storage_root: Path) -> None:
    import orjson

    lines = [{"id": i, "attrs": {f"k{j}": j for j in range(i % 7, 400, 3)}} for i in range(50)]
    (storage_root / "foreign").mkdir(parents=True)
    (storage_root / "foreign" / "wide.json").write_bytes(b"\n".join(orjson.dumps(r) for r in lines))
    result = await DataArtifact("foreign/wide.json").query("SELECT attrs ORDER BY id")
    assert str(result.types[0]).startswith(("STRUCT", "MAP"))
    first = result.fetchone()[0]
    assert first["k3"] == 3


async def test_csv_values_longer_than_duckdbs_line_limit_read_back(storage_root) -> None:
    from madstream import asset

    big = "x" * (10 * 1024 * 1024)

    @asset("long/values.csv", name="long_values", artifact_filetype="csv")
    def long_values():
        return [{"id": 1, "text": big}, {"id": 2, "text": "short"}]

    await long_values()
    rows = (await long_values.query("SELECT id, length(text) ORDER BY id")).fetchall()
    assert rows == [(1, len(big)), (2, 5)]


async def test_duckdb_errors_never_carry_row_data(storage_root) -> None:
    from madstream import QueryError, asset

    @asset("secret/rows.csv", name="secret_rows")
    def secret_rows():
        return [{"id": 1, "token": "s3cr3t-value"}]

    await secret_rows()
    result = await secret_rows.query("SELECT CAST(token AS INTEGER)")  # DuckDB converts when rows are fetched
    for fetch in (result.fetchall, result.arrow, lambda: result.to_arrow_reader().read_all()):
        with pytest.raises(QueryError, match="DuckDB failed while reading the result: Conversion Error") as info:
            fetch()
        assert "s3cr3t" not in str(info.value)
