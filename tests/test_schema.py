"""Schema evolution across batches never crashes a writer and never drops a value."""

from __future__ import annotations

import pytest

from madstream import asset

pytestmark = pytest.mark.anyio

FORMATS = ["parquet", "json", "csv"]


@pytest.mark.parametrize("ext", FORMATS)
async def test_new_columns_nulls_and_widening(ext: str) -> None:
    @asset(f"evo/widen.{ext}", name=f"widen_{ext}", artifact_filetype=ext)
    async def widen():
        yield [{"id": 1, "score": None, "amount": 1}]
        yield [{"id": 2, "score": 7, "amount": 2.5, "note": "new column"}]
        yield [{"id": 3}]

    await widen()
    result = await widen.query("SELECT id, score, amount, note ORDER BY id")
    assert [str(t) for t in result.types] == ["BIGINT", "BIGINT", "DOUBLE", "VARCHAR"]
    assert result.fetchall() == [(1, None, 1.0, None), (2, 7, 2.5, "new column"), (3, None, None, None)]


@pytest.mark.parametrize("ext", FORMATS)
async def test_struct_fields_union_and_empty_structs(ext: str) -> None:
    @asset(f"evo/structs.{ext}", name=f"structs_{ext}", artifact_filetype=ext)
    async def structs():
        yield [{"id": 1, "meta": {}}, {"id": 2, "meta": {}}]
        yield [{"id": 3, "meta": {"a": 1}}]
        yield [{"id": 4, "meta": {"b": "x", "deep": {}}}]

    await structs()
    result = await structs.query("SELECT id, meta ORDER BY id")
    rows = result.fetchall()
    assert [r[0] for r in rows] == [1, 2, 3, 4]
    assert rows[2][1]["a"] == 1 and rows[2][1]["b"] is None
    assert rows[3][1]["b"] == "x" and rows[3][1]["a"] is None


@pytest.mark.parametrize("ext", FORMATS)
async def test_conflicting_types_keep_every_value_as_text(ext: str) -> None:
    @asset(f"evo/conflict.{ext}", name=f"conflict_{ext}", artifact_filetype=ext)
    async def conflict():
        yield [{"id": 1, "code": 10}]
        yield [{"id": 2, "code": "A-7"}]
        yield [{"id": 3, "code": 12}, {"id": 4, "code": "mixed"}]
        yield [{"id": 5, "code": {"nested": True}}]

    await conflict()
    result = await conflict.query("SELECT id, code ORDER BY id")
    assert str(result.types[1]) == "VARCHAR"
    values = [r[1] for r in result.fetchall()]
    assert values[:4] == ["10", "A-7", "12", "mixed"]
    assert values[4].replace(" ", "") in ('{"nested":true}', "{'nested':true}")


async def test_all_empty_struct_column_is_null_not_a_crash() -> None:
    @asset("evo/empty_only.parquet", name="empty_only", artifact_filetype="parquet")
    async def empty_only():
        yield [{"id": 1, "meta": {}, "list_of_empty": [{}]}]

    await empty_only()
    assert (await empty_only.query("SELECT id, meta")).fetchall() == [(1, None)]
