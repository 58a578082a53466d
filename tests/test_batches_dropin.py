"""Batches a migrating ``mad-prefect`` user yields work unchanged: un-awaited asset calls,
high-precision decimals, non-text dict keys, NaN and infinities, awkward column names."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from madstream import BatchError, DataArtifact, asset

pytestmark = pytest.mark.anyio

FORMATS = ["parquet", "json", "csv"]


async def _read(path: str, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    result = await DataArtifact(path).query(sql)
    return list(result.columns), result.fetchall()


# -- 1. awaitable batches -----------------------------------------------------------------------

@pytest.mark.parametrize("how", ["yield", "return-async", "return-sync"])
async def test_an_unawaited_asset_call_streams_that_assets_rows(how: str) -> None:
    @asset("up/simple.parquet", name="simple", artifact_filetype="parquet")
    async def simple_asset():
        yield [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]

    if how == "yield":
        async def extract():
            yield simple_asset()  # a coroutine: materializes the asset, returns its DataArtifact
            yield [{"id": 3, "name": "c"}]
    elif how == "return-async":
        async def extract():  # type: ignore[misc]
            return simple_asset()
    else:
        def extract():  # type: ignore[misc]
            return simple_asset()

    outer = asset("down/outer.json", name=f"outer_{how}")(extract)
    await outer()
    rows = (await outer.query("SELECT id, name ORDER BY id")).fetchall()
    expected = [(1, "a"), (2, "b")] + ([(3, "c")] if how == "yield" else [])
    assert rows == expected
    # The inner asset was materialized on the way, as awaiting it would.
    assert (await simple_asset.query("SELECT count(*)")).fetchone() == (2,)


async def test_any_awaitable_batch_is_awaited_and_its_result_is_the_batch() -> None:
    async def fetch_page(n: int) -> list[dict[str, int]]:
        return [{"page": n, "value": n * 10}]

    @asset("aw/pages.parquet", name="pages")
    async def pages():
        yield fetch_page(1)
        yield fetch_page(2)

    await pages()
    assert (await pages.query("SELECT page, value ORDER BY page")).fetchall() == [(1, 10), (2, 20)]


# -- 2. decimals --------------------------------------------------------------------------------

EXACT_1_1 = "1.100000000000000088817841970012523233890533447265625"  # Decimal(1.1), 53 digits


@pytest.mark.parametrize("ext", FORMATS)
async def test_decimals_past_38_digits_are_kept_as_exact_text(ext: str) -> None:
    # The file keeps the exact text; without type detection, queries see it as it is.
    @asset(f"dec/wide.{ext}", name=f"wide_{ext}", detect_types=False)
    async def wide():
        yield [{"id": 1, "d": Decimal("1.1")}, {"id": 2, "d": Decimal(1.1)}]

    await wide()
    result = await wide.query("SELECT id, d ORDER BY id")
    assert str(result.types[1]) == "VARCHAR"
    rows = result.fetchall()
    assert rows == [(1, "1.1"), (2, EXACT_1_1)]
    assert [Decimal(d) for _, d in rows] == [Decimal("1.1"), Decimal(1.1)]


@pytest.mark.parametrize("ext", FORMATS)
@pytest.mark.parametrize("fragments", ["json", "csv"])
async def test_decimals_past_38_digits_read_as_the_originals_double(ext: str, fragments: str) -> None:
    # The original wrote every decimal as a JSON float, so its result had a DOUBLE column.
    @asset(f"dec/wide_{fragments}.{ext}", name=f"wide_double_{fragments}_{ext}", artifact_filetype=fragments)  # type: ignore[arg-type]
    async def wide():
        yield [{"id": 1, "d": Decimal(1.1)}, {"id": 2, "d": Decimal(5.5)}, {"id": 3, "d": None}]
        yield [{"id": 4, "d": 7}]

    await wide()
    result = await wide.query("SELECT id, d ORDER BY id")
    assert str(result.types[1]) == "DOUBLE"
    assert result.fetchall() == [(1, 1.1), (2, 5.5), (3, None), (4, 7.0)]


async def test_wide_decimals_mixed_with_other_text_stay_text() -> None:
    @asset("dec/mixed.parquet", name="wide_mixed")
    async def mixed():
        yield [{"id": 1, "d": Decimal(1.1)}]
        yield [{"id": 2, "d": "n/a"}]

    await mixed()
    result = await mixed.query("SELECT id, d ORDER BY id")
    assert str(result.types[1]) == "VARCHAR"
    assert result.fetchall() == [(1, EXACT_1_1), (2, "n/a")]


@pytest.mark.parametrize("ext", FORMATS)
async def test_wide_decimals_that_fit_38_digits_become_decimal(ext: str) -> None:
    values = [Decimal("1.5"), Decimal("-12345.25"), None]
    table = pa.table({"d": pa.array(values, pa.decimal256(50, 10))})

    @asset(f"dec/fits.{ext}", name=f"fits_{ext}")
    async def fits():
        yield table
        yield [{"d": Decimal("1.1")}]

    await fits()
    result = await fits.query("SELECT d")
    assert str(result.types[0]) == "DECIMAL(7,2)"
    assert sorted(result.fetchall(), key=str) == sorted([(v,) for v in [*values, Decimal("1.1")]], key=str)


@pytest.mark.parametrize("ext", FORMATS)
async def test_a_column_turning_wide_mid_run_keeps_every_value_exactly(ext: str) -> None:
    @asset(f"dec/mid.{ext}", name=f"mid_{ext}", detect_types=False)
    async def mid():
        yield [{"id": 1, "d": Decimal("1.1")}]
        yield [{"id": 2, "d": Decimal(1.1)}]

    await mid()
    assert (await mid.query("SELECT id, d ORDER BY id")).fetchall() == [(1, "1.1"), (2, EXACT_1_1)]


# -- 3. keys, mixed pandas columns, unions ------------------------------------------------------

@pytest.mark.parametrize("ext", FORMATS)
async def test_int_dict_keys_become_their_decimal_text(ext: str) -> None:
    @asset(f"keys/ints.{ext}", name=f"ints_{ext}")
    async def ints():
        yield [{1: "a", "nested": {2: "x", "y": 3}}, {1: "b", "nested": {2: None, "y": 4}}]

    await ints()
    assert (await ints.query('SELECT "1", nested ORDER BY "1"')).fetchall() == [
        ("a", {"2": "x", "y": 3}), ("b", {"2": None, "y": 4}),
    ]


async def test_a_tuple_dict_key_is_refused_naming_asset_and_batch_not_the_data() -> None:
    @asset("keys/tuples.parquet", name="tuples")
    async def tuples():
        yield [{"id": 1}]
        yield [{(7, 8): "secret-value"}]

    with pytest.raises(BatchError, match=r"asset `tuples`.*batch 2.*key of type `tuple`.*use str keys") as info:
        await tuples()
    assert "secret-value" not in str(info.value) and "(7, 8)" not in str(info.value)


async def test_an_int_key_and_the_same_str_key_are_refused() -> None:
    @asset("keys/both.parquet", name="both")
    async def both():
        yield [{1: "a", "1": "b"}]

    with pytest.raises(BatchError, match=r"asset `both`.*batch 1.*int key and a str key of the same text"):
        await both()


@pytest.mark.parametrize("ext", FORMATS)
async def test_a_mixed_pandas_object_column_is_kept_as_text(ext: str) -> None:
    # As with dict rows whose values conflict (and as DuckDB reads such a frame): every value as text.
    @asset(f"pd/mixed.{ext}", name=f"mixed_{ext}")
    async def mixed():
        yield pd.DataFrame({"id": [1, 2, 3], "v": [1, "a", None]})

    await mixed()
    result = await mixed.query("SELECT id, v ORDER BY id")
    assert str(result.types[1]) == "VARCHAR"
    assert result.fetchall() == [(1, "1"), (2, "a"), (3, None)]


async def test_a_pandas_column_of_plain_objects_is_refused_naming_the_column() -> None:
    class Opaque:
        pass

    @asset("pd/opaque.parquet", name="opaque")
    async def opaque():
        yield pd.DataFrame({"id": [1, 2], "thing": [Opaque(), "text"]})

    with pytest.raises(BatchError, match=r"asset `opaque`.*batch 1.*column `thing`.*`Opaque`.*no text form"):
        await opaque()


def _union() -> pa.Array:
    return pa.UnionArray.from_sparse(pa.array([0, 1], pa.int8()), [pa.array([1, 2]), pa.array(["p", "q"])])


@pytest.mark.parametrize("kind", ["table", "record-batch"])
async def test_a_union_column_is_refused_naming_asset_batch_and_column(kind: str) -> None:
    table = pa.table({"id": [1, 2], "u": _union()})
    page = table if kind == "table" else table.to_batches()[0]

    @asset("un/union.json", name=f"union_{kind}")
    async def union():
        yield [{"id": 0, "u": None}]
        yield page

    with pytest.raises(BatchError, match=r"asset `union_.*batch 2, column `u`: has an Arrow union type.*cast the column"):
        await union()


# -- 4. NaN and infinities ----------------------------------------------------------------------

NAN, INF = float("nan"), float("inf")


def _check_non_finite(rows: list[tuple[Any, ...]]) -> None:
    (i1, x1, s1, l1), (i2, x2, s2, l2), (i3, x3, s3, l3) = rows
    assert (i1, i2, i3) == (1, 2, 3)
    assert math.isnan(x1) and x2 == INF and x3 == -INF
    assert s1 == {"f": -INF} and s2 is None and math.isnan(s3["f"])
    assert l1[0] == INF and l1[1] is None and math.isnan(l1[2]) and l2 is None and l3 == [1.5]


@pytest.mark.parametrize("source", ["dicts", "arrow"])
@pytest.mark.parametrize("ext", FORMATS)
async def test_nan_and_infinities_survive_every_format(ext: str, source: str, storage_root: Path) -> None:
    rows = [
        {"id": 1, "x": NAN, "s": {"f": -INF}, "l": [INF, None, NAN]},
        {"id": 2, "x": INF, "s": None, "l": None},
        {"id": 3, "x": -INF, "s": {"f": NAN}, "l": [1.5]},
    ]
    page: object = rows if source == "dicts" else pa.Table.from_pylist(rows)

    @asset(f"nf/x.{ext}", name=f"nonfinite_{ext}_{source}", artifact_filetype="json")
    async def nonfinite():
        yield page

    await nonfinite()
    _check_non_finite((await nonfinite.query("SELECT id, x, s, l ORDER BY id")).fetchall())
    fragment = f"nf/_artifacts/asset=nonfinite_{ext}_{source}/fragment=000001.json"
    _check_non_finite((await _read(fragment, "SELECT id, x, s, l ORDER BY id"))[1])
    # JSON holds the tokens DuckDB reads back as those floats (not null).
    text = (storage_root / fragment).read_text()
    assert '"x":NaN' in text and '"x":Infinity' in text and '"x":-Infinity' in text


@pytest.mark.parametrize("artifact_type", FORMATS)
async def test_nan_next_to_a_type_the_arrow_json_encoder_leaves_to_others(artifact_type: str) -> None:
    at = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC)

    @asset("nf/aware.json", name=f"aware_{artifact_type}", artifact_filetype=artifact_type)
    async def aware():
        yield pa.Table.from_pylist([{"id": 1, "at": at, "x": NAN}, {"id": 2, "at": at, "x": -INF}])

    await aware()
    (x1,), (x2,) = (await aware.query("SELECT x ORDER BY id")).fetchall()
    assert math.isnan(x1) and x2 == -INF


# -- 5. column names ----------------------------------------------------------------------------

NAMES = ["A", "a_1", "column_3", "B", "b_1", "s"]


@pytest.mark.parametrize("artifact_type", FORMATS)
@pytest.mark.parametrize("ext", FORMATS)
async def test_empty_and_case_duplicate_names_get_the_same_names_everywhere(ext: str, artifact_type: str) -> None:
    @asset(f"nm/names.{ext}", name=f"names_{ext}_{artifact_type}", artifact_filetype=artifact_type)
    async def names():
        # Column `A` comes first and keeps its name; `a` (the same name to DuckDB) becomes `a_1`;
        # the empty name is the third column of its batch. Struct fields follow the same rules.
        yield [{"A": 1, "a": 2, "": 3}]
        yield [{"a": 4, "B": 5, "b": 6, "s": {"K": 7, "k": 8, "": 9}}]

    await names()
    result = await names.query('SELECT * ORDER BY "a_1"')
    assert result.columns == NAMES
    assert result.fetchall() == [
        (1, 2, 3, None, None, None),
        (None, 4, None, 5, 6, {"K": 7, "k_1": 8, "column_3": 9}),
    ]
    # Every fragment of the run uses the run's names too (the second one holds the run's
    # schema so far, as fragments after a new column do).
    folder = f"nm/_artifacts/asset=names_{ext}_{artifact_type}"
    assert (await _read(f"{folder}/fragment=000001.{artifact_type}", "SELECT *"))[0] == ["A", "a_1", "column_3"]
    assert (await _read(f"{folder}/fragment=000002.{artifact_type}", "SELECT *"))[0] == NAMES


@pytest.mark.parametrize("ext", FORMATS)
async def test_arrow_names_repeated_or_clashing_with_a_suffix(ext: str) -> None:
    # Repeated names (Arrow and pandas allow them) and a user's own `x_1`, which a suffix never takes.
    batch = pa.RecordBatch.from_arrays([pa.array([1]), pa.array([2]), pa.array([3]), pa.array([4])], names=["x", "X", "x_1", ""])
    frame = pd.DataFrame([[5, 6]], columns=["y", "y"])

    @asset(f"nm/arrow.{ext}", name=f"arrow_{ext}")
    async def arrow():
        yield batch
        yield frame

    await arrow()
    columns, rows = await _read(f"nm/arrow.{ext}", "SELECT * ORDER BY x")
    assert columns == ["x", "X_2", "x_1", "column_4", "y", "y_1"]
    assert rows == [(1, 2, 3, 4, None, None), (None, None, None, None, 5, 6)]
