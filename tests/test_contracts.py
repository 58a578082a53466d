"""Schema contracts (evolve, freeze, discard_new_columns) and the schema history of versions."""

from __future__ import annotations

from typing import Any

import pytest

from madstream import DefinitionError, SchemaError, asset

pytestmark = pytest.mark.anyio


def _dataset(contract: str, write_mode: str = "replace", ext: str = "parquet"):  # type: ignore[no-untyped-def]
    @asset(f"contract/{contract}_{write_mode}.{ext}", name=f"{contract}_{write_mode}_{ext}",
           schema_contract=contract, write_mode=write_mode)
    async def rows(batch: Any = None):
        yield batch

    return rows


@pytest.mark.parametrize("write_mode", ["replace", "append"])
async def test_freeze_fails_a_new_column_and_commits_nothing(write_mode: str) -> None:
    rows = _dataset("freeze", write_mode)
    await rows.with_arguments([{"id": 1, "name": "a"}])()
    with pytest.raises(SchemaError, match=r"new column\(s\) `extra`.*frozen") as caught:
        await rows.with_arguments([{"id": 2, "name": "b", "extra": 1.5}])()
    assert caught.value.asset == f"freeze_{write_mode}_parquet"
    reader = rows.with_arguments([{"id": 1, "name": "a"}])
    assert (await reader.query("SELECT id, name")).fetchall() == [(1, "a")]
    assert len(await rows.with_arguments([{"id": 1, "name": "a"}]).versions()) == 1


async def test_freeze_fails_a_type_change_and_lists_every_difference() -> None:
    rows = _dataset("freeze", "append", "json")
    await rows.with_arguments([{"id": 1, "score": 2}])()
    with pytest.raises(SchemaError, match=r"column `id` BIGINT -> VARCHAR; column `score` BIGINT -> DOUBLE"):
        await rows.with_arguments([{"id": "A-2", "score": 2.5}])()
    await rows.with_arguments([{"id": 3, "score": 4}])()  # the same schema still lands
    assert (await rows.query("SELECT id, score ORDER BY id")).fetchall() == [(1, 2), (3, 4)]


async def test_discard_new_columns_keeps_the_datasets_columns_only() -> None:
    rows = _dataset("discard_new_columns", "append")
    await rows.with_arguments([{"id": 1, "name": "a"}])()
    await rows.with_arguments([{"id": 2, "name": "b", "secret": "x"}, {"id": 3, "extra": True}])()
    result = await rows.query("SELECT * ORDER BY id")
    assert result.columns == ["id", "name"]
    assert result.fetchall() == [(1, "a"), (2, "b"), (3, None)]


async def test_evolve_widens_and_the_schema_history_says_how() -> None:
    rows = _dataset("evolve", "append")
    await rows.with_arguments([{"id": 1}])()
    await rows.with_arguments([{"id": 2, "note": "n"}])()
    await rows.with_arguments([{"id": "A-3", "note": "m"}])()
    history = await rows.schema_history()
    assert [(h.version, h.added, h.changed, h.dropped) for h in history] == [
        (1, {}, {}, []),
        (2, {"note": "VARCHAR"}, {}, []),
        (3, {}, {"id": ("BIGINT", "VARCHAR")}, []),
    ]
    assert history[-1].columns == {"id": "VARCHAR", "note": "VARCHAR"}
    assert history[-1].changes == ["column `id` BIGINT -> VARCHAR"]


async def test_schema_history_of_a_replaced_dataset_compares_its_own_versions() -> None:
    @asset("contract/replaced.parquet", name="replaced")
    async def replaced(wide: bool = False):
        yield [{"id": 1, **({"extra": "x"} if wide else {})}]

    await replaced()
    await replaced(True)  # another configuration: its own history
    await replaced()
    assert [(h.version, h.added) for h in await replaced.schema_history()] == [(1, {}), (3, {})]
    assert [(h.version, h.added) for h in await replaced.with_arguments(True).schema_history()] == [(2, {})]


def test_an_unknown_contract_is_refused_when_the_asset_is_defined() -> None:
    with pytest.raises(DefinitionError, match="schema_contract `strict`"):
        asset("x.parquet", schema_contract="strict")(lambda: [])
