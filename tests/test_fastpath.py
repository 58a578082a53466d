"""The fast path for dict pages (JSON bytes parsed off the GIL) changes nothing a reader sees.

Every case materializes the same pages twice, with the fast path on (``MADSTREAM_FAST_PATH=1``)
and off (the default: the direct ``from_pylist`` path), into parquet, JSON and CSV results
at once, and reads each result back: values and Arrow types must be equal. The first page of a
case teaches the fast path its schema; the later pages hold the values under test, which either
convert exactly through it or fall back to the direct path.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import math
import uuid
from typing import Any

import pyarrow as pa
import pytest

from madstream import DataArtifact, MadstreamError, asset
from madstream.stream.fastpath import FastPath
from madstream.stream.finish import ColumnNames
from madstream.stream.normalize import SourceBatch, normalize

pytestmark = pytest.mark.anyio

FORMATS = ("parquet", "json", "csv")
T0 = dt.datetime(2024, 5, 6, 7, 8, 9, 123456)


def _row(i: int, **changes: Any) -> dict[str, Any]:
    """A row of every type the fast path takes, with ``changes`` applied (in place: key order kept)."""
    row: dict[str, Any] = {
        "id": i, "name": f"customer {i}", "amount": i + 0.25, "active": i % 2 == 0,
        "created_at": T0 + dt.timedelta(days=i), "score": i * 3, "tags": ["a", "b"][: i % 3],
        "address": {"city": "Perth", "zip": "6000", "geo": {"lat": -31.95, "lon": 115.86}},
    }
    row.update(changes)
    return row


def _page(start: int, **changes: Any) -> list[dict[str, Any]]:
    return [_row(i, **changes) for i in range(start, start + 3)]


class Colour(enum.Enum):
    RED = "red"


class Size(enum.IntEnum):
    BIG = 7


class Mood(enum.StrEnum):
    GLAD = "glad"


class Text(str):
    pass


@dataclasses.dataclass
class Point:
    x: int


UTC8 = dt.timezone(dt.timedelta(hours=8))

#: case → the pages after the first (which is always ``_page(0)``).
CASES: dict[str, list[list[dict[str, Any]]]] = {
    # Values JSON carries exactly: these take the fast path (see the test below).
    "plain": [
        _page(3),
        [
            _row(10, name='he said "},{" \\ \n\t ünï 😀 \x07', amount=-0.0, score=-(2**63), tags=[None, "x"]),
            _row(11, name="", amount=2.0**52, score=2**63 - 1, tags=[], created_at=dt.datetime(1, 1, 1)),
            _row(12, name=None, amount=5e-324, score=None, tags=None, created_at=dt.datetime(9999, 12, 31, 23, 59, 59, 999999)),
            _row(13, amount=None, active=None, created_at=None, address=None),
            _row(14, address={"city": None, "geo": None}),
            _row(15, address={"city": "Hobart"}),  # fields missing inside an object
            _row(16, created_at=dt.datetime(2024, 1, 1), tags=("x", "y")),  # a whole second; a tuple
        ],
        [{"id": 20, "name": "missing keys"}],
    ],
    # Values JSON cannot carry exactly, or types other than the learnt ones.
    "nan": [_page(3, amount=float("nan"))],
    "infinities": [[_row(3, amount=float("inf")), _row(4, amount=float("-inf"))]],
    "nan_nested": [[_row(3, address={"city": "x", "zip": "1", "geo": {"lat": float("nan"), "lon": 1.0}})]],
    "nan_in_list": [[_row(3, tags=[float("nan")])]],
    "nan_next_to_int_in_float_column": [[_row(3, amount=5), _row(4, address={"geo": {"lat": float("nan")}})]],
    "int_in_float_column": [[_row(3, amount=5)]],
    "int_in_float_column_beyond_doubles": [[_row(3, amount=2**53 + 1)]],
    "float_beyond_exact_ints": [[_row(3, amount=1e308)]],
    "float_in_int_column": [[_row(3, score=1.5)]],
    "bool_in_int_column": [[_row(3, score=True)]],
    "int_beyond_64_bits": [[_row(3, score=2**63)], [_row(4, score=2**70)]],
    "decimal": [[_row(3, amount=decimal.Decimal("1.10"))]],
    "uuid": [[_row(3, name=uuid.UUID(int=5))]],
    "uuid_column": [_page(3, name=uuid.UUID(int=9))],
    "bytes": [[_row(3, name=b"\x00\xff")]],
    "date_in_text_column": [[_row(3, name=dt.date(2024, 1, 2))]],
    "time_in_text_column": [[_row(3, name=dt.time(1, 2, 3))]],
    "datetime_in_text_column": [[_row(3, name=T0)]],
    "text_in_timestamp_column": [[_row(3, created_at="2024-05-06T07:08:09")]],
    "swap_text_and_datetime": [[_row(3, name=T0, created_at="2024-05-06T07:08:09.123456")]],
    "date_in_timestamp_column": [[_row(3, created_at=dt.date(2024, 1, 2))]],
    "aware_datetime": [[_row(3, created_at=T0.replace(tzinfo=UTC8))]],
    "aware_column": [_page(3, created_at=T0.replace(tzinfo=dt.UTC))],
    "datetime_nested": [[_row(3, address={"city": T0})]],
    "timedelta": [[_row(3, name=dt.timedelta(seconds=1))]],
    "enum": [[_row(3, name=Colour.RED)]],
    "int_enum": [[_row(3, score=Size.BIG)]],
    "str_enum": [[_row(3, name=Mood.GLAD)]],
    "str_subclass": [[_row(3, name=Text("sub"))]],
    "dataclass": [[_row(3, address=Point(1))]],
    "empty_objects": [_page(3, address={})],
    "empty_nested_objects": [_page(3, address={"city": "x", "geo": {}})],
    "object_in_text_column": [[_row(3, name={"a": 1})]],
    "list_in_text_column": [[_row(3, name=["a"])]],
    "text_in_list_column": [[_row(3, tags="a")]],
    "new_key": [[_row(3), {**_row(4), "extra": 1}]],
    "new_key_first": [[{**_row(3), "extra": "x"}, _row(4)]],
    "new_nested_field": [[_row(3, address={"city": "x", "country": "AU"})]],
    "keys_reordered": [[{"name": "n", **_row(3)}]],
    "int_keys": [[_row(3, address={1: "one"})]],
    "mixed_int_and_text": [[_row(3, score="three")]],
    "null_column_then_values": [[_row(3, score="text")], [_row(4, score=4)]],
}
#: Cases whose first page leaves a column all null (the schema learnt has a null column).
FIRST_PAGES: dict[str, list[dict[str, Any]]] = {
    "null_column_then_values": _page(0, score=None),
}


def _nanless(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, dict):
        return {k: _nanless(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nanless(v) for v in value]
    return value


async def _materialize(case: str, fast: bool, monkeypatch: pytest.MonkeyPatch) -> dict[str, pa.Table] | str:
    """Each result of ``case`` read back, or the kind of error and column the run failed with."""
    pages = [FIRST_PAGES.get(case, _page(0)), *CASES[case]]
    monkeypatch.setenv("MADSTREAM_FAST_PATH", "1" if fast else "0")
    mode = "fast" if fast else "direct"

    @asset(f"fp/{mode}/{case}.parquet|json|csv", name=f"fp_{mode}_{case}")
    async def rows():
        for page in pages:
            yield page

    try:
        await rows()
    except MadstreamError as exc:  # e.g. an int too large for the float column: on both paths
        return f"{type(exc).__name__} {getattr(exc, 'column', None)}"
    return {ext: (await DataArtifact(f"fp/{mode}/{case}.{ext}").query("ORDER BY id")).arrow() for ext in FORMATS}


@pytest.mark.parametrize("case", list(CASES))
async def test_every_value_reads_back_the_same_through_the_fast_path(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = await _materialize(case, True, monkeypatch)
    direct = await _materialize(case, False, monkeypatch)
    if isinstance(direct, str) or isinstance(fast, str):
        assert fast == direct
        return
    for ext in FORMATS:
        assert fast[ext].schema == direct[ext].schema, ext
        assert _nanless(fast[ext].to_pylist()) == _nanless(direct[ext].to_pylist()), ext
    if case == "plain":  # and what was given is what is read back
        expected = [_row(i) for i in range(6)] + CASES["plain"][1] + CASES["plain"][2]
        got = {r["id"]: r for r in fast["parquet"].to_pylist()}
        for row in expected:
            for key, value in row.items():
                value = list(value) if isinstance(value, tuple) else value
                if key == "address" and value is not None:
                    value = {"city": value.get("city"), "zip": value.get("zip"), "geo": value.get("geo")}
                assert got[row["id"]][key] == value, (row["id"], key)
            assert set(got[row["id"]]) == set(_row(0)), row["id"]


def _taken(pages: list[list[dict[str, Any]]]) -> list[bool]:
    """Whether each page after the first converted through the fast path."""
    fast, names = FastPath(), ColumnNames()
    taken = []
    for i, page in enumerate(pages, 1):
        converted = fast.convert(page, _lines(page))
        taken.append(converted is not None)
        normalize(SourceBatch(page, names, fast), asset="t", batch=i, json_lines=True)
    return taken[1:]


def _lines(page: list[dict[str, Any]]) -> bytes | None:
    import orjson

    try:
        return b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in page)
    except TypeError:
        return None


#: Cases whose second page converts through the fast path (exactly); every other one falls back.
TAKEN = {"plain", "int_in_float_column"}


def test_plain_pages_take_the_fast_path_and_the_others_do_not() -> None:
    # The equality test above would pass if the fast path were never taken: pin where it is.
    assert _taken([_page(0), *CASES["plain"][:2]]) == [True, True]
    for case, later in CASES.items():
        assert _taken([FIRST_PAGES.get(case, _page(0)), later[0]]) == [case in TAKEN], case


def test_json_lines_of_a_fast_page_are_the_fragment() -> None:
    # Encode once, use twice: the bytes parsed are the page's JSON lines, handed to the writer.
    fast, names = FastPath(), ColumnNames()
    normalize(SourceBatch(_page(0), names, fast), asset="t", batch=1, json_lines=True)
    [page] = normalize(SourceBatch(_page(3), names, fast), asset="t", batch=2, json_lines=True)
    assert page.json is not None
    assert pa.Table.from_batches([page.batch]).to_pylist() == _page(3)
    lines = bytes(page.json).splitlines()
    assert len(lines) == 3 and lines[0].startswith(b'{"id":3,"name":"customer 3"')
