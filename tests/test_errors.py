"""One error tree; messages name the asset, path and batch and say what to do; errors pickle."""

from __future__ import annotations

import pickle

import pytest

import madstream
from madstream import BatchError, DefinitionError, MadstreamError, TransientStorageError, asset

pytestmark = pytest.mark.anyio


def test_tree_roots_at_madstream_error() -> None:
    for name in madstream.__all__:
        obj = getattr(madstream, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, MadstreamError), name
    assert TransientStorageError.transient and not BatchError.transient


def test_errors_pickle_with_their_fields() -> None:
    err = BatchError("yielded a `set`", asset="orders", path="o.parquet", batch=3, hint="yield dicts")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is BatchError
    assert (back.asset, back.path, back.batch, back.hint) == ("orders", "o.parquet", 3, "yield dicts")
    assert str(back) == str(err) == "asset `orders`, path `o.parquet`, batch 3: yielded a `set` — yield dicts"


async def test_unsupported_batch_names_asset_path_and_batch() -> None:
    @asset("errs/x.parquet", name="orders")
    async def orders():
        yield [{"a": 1}]
        yield [{"a": 2}]
        yield {1, 2, 3}

    with pytest.raises(BatchError) as info:
        await orders()
    assert (info.value.asset, info.value.path, info.value.batch) == ("orders", "errs/x.parquet", 3)


def test_bad_declarations_fail_at_definition() -> None:
    with pytest.raises(DefinitionError, match="artifact_filetype `xml`"):
        asset("a.parquet", artifact_filetype="xml")(lambda: [])  # type: ignore[arg-type]
    with pytest.raises(DefinitionError, match=r"result type `txt`.*\.parquet, \.json or \.csv"):
        asset("a.txt")(lambda: [])


async def test_a_value_the_widened_column_cannot_hold_fails_the_run_with_a_schema_error(storage_root) -> None:
    from madstream import SchemaError

    @asset("s/out.parquet", name="mixed")
    async def mixed():
        yield [{"v": 2**53 + 1}]
        yield [{"v": 1.5}]  # int64 with float64 widens to double, which cannot hold 2**53 + 1

    with pytest.raises(SchemaError, match=r"asset `mixed`, path `s/out.parquet`, column `v`: values of type int64") as info:
        await mixed()
    assert "9007199254740993" not in str(info.value)  # no row data in messages
    assert not (storage_root / "s" / "out.parquet").exists()
