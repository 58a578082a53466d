"""The Arrow-kernel JSON-lines encoder writes what the rows hold, escapes included."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math

import orjson
import pyarrow as pa
import pytest

from madstream.write.jsonarrow import Unsupported, arrow_json_lines

ROWS = [
    {
        "text": 'quote " backslash \\ newline \n tab \t done',
        "n": 7,
        "f": 2.5,
        "nan": float("nan"),
        "ok": True,
        "none": None,
        "price": decimal.Decimal("1.10"),
        "day": dt.date(2024, 1, 2),
        "clock": dt.time(1, 2, 3, 4),
        "at": dt.datetime(2024, 1, 2, 3, 4, 5, 6),
        "nested": {"x": None, "y": [1, None], "deep": {"z": "é"}},
        "lists": [[1], [], [2, 3]],
        "ключ \"odd\"": "unicode key",
    },
    {k: None for k in ("text", "n", "f", "nan", "ok", "none", "price", "day", "clock", "at", "nested", "lists", "ключ \"odd\"")},
]


def test_values_and_escapes_round_trip() -> None:
    batch = pa.RecordBatch.from_pylist(ROWS)
    lines = arrow_json_lines(batch).splitlines()
    # NaN is written as the token `NaN` (see below), which the standard library parses.
    first, second = (json.loads(line) for line in lines)
    assert first["text"] == ROWS[0]["text"]
    assert (first["n"], first["f"], first["ok"], first["none"]) == (7, 2.5, True, None)
    assert math.isnan(first["nan"])
    assert (first["price"], first["day"], first["clock"]) == ("1.10", "2024-01-02", "01:02:03.000004")
    assert dt.datetime.fromisoformat(first["at"]) == ROWS[0]["at"]
    assert first["nested"] == {"x": None, "y": [1, None], "deep": {"z": "é"}}
    assert first["lists"] == [[1], [], [2, 3]]
    assert first['ключ "odd"'] == "unicode key"
    assert all(v is None for v in second.values()) and len(second) == len(ROWS[1])


def test_sliced_batches_encode_only_their_rows() -> None:
    batch = pa.RecordBatch.from_pylist([{"i": i, "tags": [str(i)] * (i % 3)} for i in range(10)])
    lines = arrow_json_lines(batch.slice(4, 3)).splitlines()
    assert [orjson.loads(line) for line in lines] == [{"i": i, "tags": [str(i)] * (i % 3)} for i in (4, 5, 6)]


def test_unsupported_types_are_refused_not_mangled() -> None:
    with pytest.raises(Unsupported):
        arrow_json_lines(pa.RecordBatch.from_pylist([{"b": b"\x00\x01"}]))
    with pytest.raises(Unsupported):
        arrow_json_lines(pa.RecordBatch.from_pylist([{"s": "bell \x07"}]))


def test_nan_and_infinities_are_written_as_tokens_nulls_as_null() -> None:
    nan, inf = float("nan"), float("inf")
    batch = pa.RecordBatch.from_pylist([
        {"x": nan, "s": {"f": -inf}, "l": [inf, None, 1.5]},
        {"x": None, "s": None, "l": None},
        {"x": -inf, "s": {"f": 0.25}, "l": []},
    ])
    lines = arrow_json_lines(batch).splitlines()
    assert lines == [
        b'{"x":NaN,"s":{"f":-Infinity},"l":[Infinity,null,1.5]}',
        b'{"x":null,"s":null,"l":null}',
        b'{"x":-Infinity,"s":{"f":0.25},"l":[]}',
    ]
