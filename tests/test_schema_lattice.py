"""Every pair of Arrow types unifies symmetrically, and conforming to the union keeps every value."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal

import orjson
import pyarrow as pa
import pytest

from madstream import SchemaError
from madstream.write.schema import SchemaTracker, conform, unify_schemas, unify_types

D = Decimal
TEXT = pa.large_string()
NAIVE = [datetime(1900, 1, 1, 0, 0, 1), datetime(2262, 4, 11, 23, 47, 16), None]  # inside the ns range


def _ints(t: pa.DataType) -> pa.Array:
    bits = t.bit_width
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if pa.types.is_signed_integer(t) else (0, 2**bits - 1)
    return pa.array([lo, hi, None], t)


SAMPLES: dict[str, pa.Array] = {
    "null": pa.nulls(3),
    "bool": pa.array([True, False, None]),
    **{str(t): _ints(t) for t in (pa.int8(), pa.int16(), pa.int32(), pa.int64())},
    **{str(t): _ints(t) for t in (pa.uint8(), pa.uint16(), pa.uint32(), pa.uint64())},
    "float32": pa.array([-1.5, 16777216.0, None], pa.float32()),  # exactly representable
    "float64": pa.array([-1.7976931348623157e308, 0.1, None], pa.float64()),
    "dec5_2": pa.array([D("-999.99"), D("999.99"), None], pa.decimal128(5, 2)),
    "dec38_10": pa.array([D("-" + "9" * 28 + "." + "9" * 10), D("1234567890123456789012345678.0123456789"), None], pa.decimal128(38, 10)),
    "string": pa.array(["", "ünïcode ☃", None], pa.string()),
    "large_string": pa.array(["x", "", None], pa.large_string()),
    "binary": pa.array([b"", b"\x00\xff", None], pa.binary()),
    "large_binary": pa.array([b"abc", b"\xff", None], pa.large_binary()),
    "date32": pa.array([date(1, 1, 1), date(9999, 12, 31), None], pa.date32()),
    **{f"ts_{u}": pa.array(NAIVE, pa.timestamp(u)) for u in ("s", "ms", "us", "ns")},
    "ts_us_utc": pa.array([datetime(1900, 1, 1, tzinfo=UTC), datetime(2262, 4, 11, 0, 0, 1, tzinfo=UTC), None], pa.timestamp("us", "UTC")),
    "struct_a": pa.array([{"a": -(2**63)}, {"a": 2**63 - 1}, None], pa.struct([("a", pa.int64())])),
    "struct_b": pa.array([{"b": "x"}, {"b": None}, None], pa.struct([("b", pa.string())])),
    "list_int64": pa.array([[-(2**63), 2**63 - 1], [], None], pa.list_(pa.int64())),
    "large_list_string": pa.array([["a", None], [], None], pa.large_list(pa.string())),
}
PAIRS = list(itertools.product(SAMPLES, repeat=2))


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _canon(t: pa.DataType) -> object:
    """``t`` with struct field order ignored (recursively)."""
    if pa.types.is_struct(t):
        return frozenset((f.name, _canon(f.type)) for f in t)
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return (str(t).split("<")[0], _canon(t.value_type))
    return t


def _check_text(v: object, s: object, src: pa.DataType) -> None:
    """A non-text value stored as text: a string that reads back as the same value where the type says how."""
    assert isinstance(s, str)
    if pa.types.is_boolean(src):
        assert s == ("true" if v else "false")
    elif pa.types.is_integer(src):
        assert int(s) == v
    elif pa.types.is_floating(src):
        assert float(s) == v
    elif pa.types.is_decimal(src):
        assert Decimal(s) == v
    elif pa.types.is_date(src):
        assert date.fromisoformat(s) == v
    elif pa.types.is_timestamp(src):
        assert datetime.fromisoformat(s) == v
    elif pa.types.is_nested(src):
        assert orjson.loads(s) == v


def _check(v: object, got: object, src: pa.DataType, dst: pa.DataType) -> None:
    """``got`` (conformed to ``dst``) holds the value ``v`` that was stored as ``src``."""
    if v is None:
        assert got is None
    elif _is_text(dst) and not _is_text(src):
        _check_text(v, got, src)
    elif pa.types.is_struct(dst):
        assert isinstance(got, dict) and list(got) == [f.name for f in dst]
        for f in dst:
            idx = src.get_field_index(f.name)
            _check(v[f.name] if idx >= 0 else None, got[f.name], src.field(idx).type if idx >= 0 else pa.null(), f.type)
        assert set(v) <= set(got)
    elif pa.types.is_list(dst) or pa.types.is_large_list(dst):
        assert len(got) == len(v)
        for x, y in zip(v, got):
            _check(x, y, src.value_type, dst.value_type)
    elif pa.types.is_floating(dst):
        assert got == float(v)
    else:
        assert got == v


def _conform(arr: pa.Array, t: pa.DataType) -> pa.Array:
    return conform(pa.record_batch([arr], names=["c"]), pa.schema([("c", t)])).column(0)


@pytest.mark.parametrize(("a", "b"), PAIRS, ids=[f"{a}|{b}" for a, b in PAIRS])
def test_every_pair_unifies_symmetrically_and_keeps_every_value(a: str, b: str) -> None:
    ta, tb = SAMPLES[a].type, SAMPLES[b].type
    u = unify_types(ta, tb)
    assert _canon(unify_types(tb, ta)) == _canon(u)
    assert unify_types(u, ta).equals(u) and unify_types(u, tb).equals(u)  # the union is an upper bound
    for arr in (SAMPLES[a], SAMPLES[b]):
        if pa.types.is_floating(u) and arr.type in (pa.int64(), pa.uint64()):
            # Documented limit: float64 holds integers only up to 2**53; larger ones are refused, not rounded.
            with pytest.raises(SchemaError, match=f"values of type {arr.type} cannot be stored in the column's type double") as err:
                _conform(arr, u)
            assert err.value.column == "c"
            continue
        got = _conform(arr, u)
        assert got.type.equals(u)
        assert got.null_count == arr.null_count
        for v, g in zip(arr.to_pylist(), got.to_pylist()):
            _check(v, g, arr.type, u)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (pa.uint64(), pa.int64(), pa.decimal128(20, 0)),
        (pa.uint64(), pa.int8(), pa.decimal128(20, 0)),
        (pa.uint8(), pa.int8(), pa.int16()),
        (pa.uint32(), pa.int32(), pa.int64()),
        (pa.uint16(), pa.int64(), pa.int64()),
        (pa.int8(), pa.int32(), pa.int32()),
        (pa.decimal128(5, 2), pa.int64(), pa.decimal128(21, 2)),
        (pa.decimal128(38, 10), pa.int64(), pa.decimal128(38, 10)),  # 28 integer digits hold every int64
        (pa.decimal128(38, 20), pa.int64(), TEXT),  # 19 + 20 digits > 38: too wide for a decimal
        (pa.decimal128(5, 2), pa.decimal128(38, 10), pa.decimal128(38, 10)),
        (pa.decimal128(30, 0), pa.decimal128(10, 9), TEXT),
        (pa.int64(), pa.float32(), pa.float64()),
        (pa.string(), pa.large_string(), TEXT),
        (pa.binary(), pa.large_binary(), pa.large_binary()),
        (pa.timestamp("s"), pa.timestamp("ns"), pa.timestamp("ns")),
        (pa.timestamp("ms", "UTC"), pa.timestamp("us", "UTC"), pa.timestamp("us", "UTC")),
        (pa.timestamp("us"), pa.timestamp("us", "UTC"), TEXT),
        (pa.list_(pa.int8()), pa.large_list(pa.uint8()), pa.large_list(pa.int16())),
        (pa.int64(), pa.string(), TEXT),
        (pa.struct([("a", pa.int64())]), pa.string(), TEXT),
    ],
)
def test_specific_unions(a: pa.DataType, b: pa.DataType, expected: pa.DataType) -> None:
    assert unify_types(a, b).equals(expected) and unify_types(b, a).equals(expected)


def test_uint64_and_int64_extremes_round_trip_through_decimal() -> None:
    u = unify_types(pa.uint64(), pa.int64())
    assert _conform(pa.array([2**64 - 1, 0], pa.uint64()), u).to_pylist() == [2**64 - 1, 0]
    assert _conform(pa.array([-(2**63), 2**63 - 1], pa.int64()), u).to_pylist() == [-(2**63), 2**63 - 1]


def test_integers_within_2_53_are_exact_in_float64() -> None:
    got = _conform(pa.array([2**53, -(2**53), None], pa.int64()), unify_types(pa.int64(), pa.float64()))
    assert got.to_pylist() == [2.0**53, -(2.0**53), None]


def test_tracker_keeps_uint64_above_int64_max_and_negative_int64() -> None:
    tracker = SchemaTracker()
    first = pa.record_batch([pa.array([2**63 + 5], pa.uint64())], names=["n"])
    second = pa.record_batch([pa.array([-1], pa.int64())], names=["n"])
    assert tracker.observe(first) == (first, False)
    conformed, changed = tracker.observe(second)
    assert changed and tracker.schema.field("n").type.equals(pa.decimal128(20, 0))
    assert tracker.changes == ["column `n` uint64 -> decimal128(20, 0)"]
    assert conformed.column(0).to_pylist() == [-1]
    assert conform(first, tracker.schema).column(0).to_pylist() == [2**63 + 5]


def test_unify_schemas_keeps_first_order_and_adds_new_columns() -> None:
    a = pa.schema([("id", pa.int32()), ("name", pa.string())])
    b = pa.schema([("extra", pa.bool_()), ("id", pa.uint32())])
    assert unify_schemas(a, b).equals(pa.schema([("id", pa.int64()), ("name", pa.string()), ("extra", pa.bool_())]))


def test_conform_fills_missing_columns_and_handles_sliced_nested_batches() -> None:
    lists = pa.array([[1, 2], [3], [4, 5, 6], None], pa.list_(pa.int64()))
    structs = pa.array([{"a": 1}, {"a": 2}, None, {"a": 3}], pa.struct([("a", pa.int64())]))
    batch = pa.record_batch([lists, structs], names=["l", "s"]).slice(1, 3)
    schema = pa.schema([("l", pa.large_list(TEXT)), ("s", pa.struct([("a", TEXT), ("b", pa.int8())])), ("new", pa.int8())])
    got = conform(batch, schema).to_pydict()
    assert got == {
        "l": [["3"], ["4", "5", "6"], None],
        "s": [{"a": "2", "b": None}, None, {"a": "3", "b": None}],
        "new": [None, None, None],
    }


def test_conform_raises_schema_error_naming_the_column_not_the_values() -> None:
    batch = pa.record_batch([pa.array([1, 2]), pa.array(["secret-value-42", "7"])], names=["ok", "code"])
    schema = pa.schema([("ok", pa.int64()), ("code", pa.int64())])
    with pytest.raises(SchemaError, match=r"^column `code`: values of type string cannot be stored in the column's type int64") as err:
        conform(batch, schema)
    assert err.value.column == "code"
    assert "secret-value-42" not in str(err.value)


def test_seconds_outside_the_nanosecond_range_are_refused_not_wrapped() -> None:
    arr = pa.array([datetime(9999, 12, 31)], pa.timestamp("s"))
    with pytest.raises(SchemaError, match=r"values of type timestamp\[s\] cannot be stored") as err:
        _conform(arr, unify_types(pa.timestamp("s"), pa.timestamp("ns")))
    assert err.value.column == "c"
