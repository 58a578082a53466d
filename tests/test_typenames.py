"""Arrow → DuckDB type names worked out in Python agree with DuckDB's own, name for name."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from madstream.write.typenames import type_names


def duckdb_names(schema: pa.Schema) -> dict[str, str]:
    rel = duckdb.connect().from_arrow(pa.RecordBatchReader.from_batches(schema, []))
    return {name: str(t) for name, t in zip(rel.columns, rel.types)}


NAMED = [
    pa.null(), pa.bool_(), pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(),
    pa.uint32(), pa.uint64(), pa.float32(), pa.float64(), pa.string(), pa.large_string(), pa.binary(),
    pa.large_binary(), pa.date32(), pa.time64("us"), pa.timestamp("s"), pa.timestamp("ms"),
    pa.timestamp("us"), pa.timestamp("ns"), pa.decimal128(12, 3), pa.decimal128(38, 0), pa.decimal128(4, 4),
    pa.list_(pa.string()), pa.large_list(pa.int32()), pa.list_(pa.list_(pa.timestamp("us"))),
    pa.struct([("city", pa.string()), ("geo", pa.struct([("lat", pa.float64()), ("lon", pa.float64())]))]),
    pa.list_(pa.struct([("p", pa.null())])),
    pa.struct([("City", pa.int64()), ("my name", pa.int64()), ("a-b", pa.int64()), ("1a", pa.int64()),
               ("_x", pa.int64()), ("ü", pa.int64()), ('a"b', pa.int64()), ("NULL", pa.null())]),
]


@pytest.mark.parametrize("t", NAMED, ids=str)
def test_named_types_match_duckdb(t: pa.DataType) -> None:
    schema = pa.schema([("c", t)])
    assert type_names(schema) == duckdb_names(schema)


def test_every_keyword_as_a_field_name_is_quoted_as_duckdb_does() -> None:
    keywords = [k for (k,) in duckdb.connect().sql("SELECT keyword_name FROM duckdb_keywords()").fetchall()]
    names = keywords + [k.upper() for k in keywords] + ["plain", "Mixed_Case1"]
    schema = pa.schema([(f"c{i}", pa.struct([(n, pa.int64())])) for i, n in enumerate(names)])
    assert type_names(schema) == duckdb_names(schema)


@pytest.mark.parametrize(
    "t",
    [pa.timestamp("us", tz="UTC"), pa.map_(pa.string(), pa.int64()), pa.duration("us"), pa.struct([]),
     pa.list_(pa.time64("ns")), pa.dictionary(pa.int32(), pa.string())],
    ids=str,
)
def test_other_types_are_left_to_duckdb(t: pa.DataType) -> None:
    assert type_names(pa.schema([("c", t)])) is None
