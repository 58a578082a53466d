"""Arguments, templates, options: binding, rendering, deriving, and the errors around them."""

from __future__ import annotations

from pathlib import Path

import pytest

from madstream import ArgumentError, DataAsset, DefinitionError, PathEscapeError, TemplateError, asset

pytestmark = pytest.mark.anyio


@asset("data/{dataset_name}.parquet", name="dataset_{dataset_name}")
async def dataset(dataset_name: str, limit: int = 2):
    yield [{"dataset": dataset_name, "n": i} for i in range(limit)]


async def test_with_arguments_renders_path_and_name(storage_root: Path) -> None:
    users = dataset.with_arguments(dataset_name="users")
    assert users.name == "dataset_users"
    assert users.path == "data/users.parquet"
    artifact = await users()
    assert artifact.path == "data/users.parquet"
    assert (storage_root / "data" / "users.parquet").is_file()
    assert (await users.query("SELECT dataset, count(*) GROUP BY ALL")).fetchall() == [("users", 2)]


async def test_partial_binding_and_call_time_arguments() -> None:
    partial = dataset.with_arguments(limit=3)
    await partial("orders")
    result = await partial.with_arguments("orders").query("SELECT count(*)")
    assert result.fetchone() == (3,)
    # Calling binds too: positional and keyword.
    await dataset(dataset_name="kw", limit=1)
    assert (await dataset.with_arguments("kw", limit=1).query("SELECT count(*)")).fetchone() == (1,)


async def test_derived_assets_do_not_share_state() -> None:
    base = dataset.with_arguments(limit=1)
    a = base.with_arguments(dataset_name="a")
    b = base.with_arguments(dataset_name="b")
    c = a.with_options(path="other/{dataset_name}.json", name="renamed")
    assert (a.path, b.path, c.path) == ("data/a.parquet", "data/b.parquet", "other/a.json")
    assert (a.name, c.name) == ("dataset_a", "renamed")
    assert base.kwargs == {"limit": 1} and dataset.kwargs == {}
    assert dataset.path == "data/{dataset_name}.parquet"
    assert a.id != b.id and a.id != c.id


async def test_missing_template_key_names_key_template_and_available() -> None:
    @asset("data/{region}/{missing}.parquet", name="tmpl")
    async def tmpl(region: str):
        yield [{"x": 1}]

    with pytest.raises(TemplateError, match=r"asset `tmpl`.*`data/\{region\}/\{missing\}.parquet`.*`\{missing\}`.*available: region"):
        await tmpl("eu")


async def test_missing_function_argument_is_a_clear_error() -> None:
    with pytest.raises(ArgumentError, match=r"asset `dataset_\{dataset_name\}`.*dataset_name.*with_arguments"):
        await dataset()


@pytest.mark.parametrize("bad", ["../outside", "/etc/passwd", "a/../../b", "C:/windows"])
async def test_arguments_cannot_escape_the_storage_root(bad: str, storage_root: Path) -> None:
    with pytest.raises(PathEscapeError, match="leaves the storage root"):
        await dataset(bad)
    assert not (storage_root.parent / "outside.parquet").exists()


async def test_nested_asset_attributes_and_arguments_in_templates() -> None:
    @asset("listings/{kind}.parquet", name="listing_{kind}")
    async def listing(kind: str):
        yield [{"id": 1, "kind": kind}, {"id": 2, "kind": kind}]

    @asset("details/{listing.name}/{kind}.json", name="details_{kind}")
    async def details(listing: DataAsset):
        result = await listing.query("SELECT id")
        yield [{"listing_id": r[0]} for r in result.fetchall()]

    houses = listing.with_arguments(kind="houses")
    d = details.with_arguments(listing=houses)
    assert d.path == "details/listing_houses/houses.json"
    assert d.name == "details_houses"
    artifact = await d()
    assert artifact.path == "details/listing_houses/houses.json"
    assert (await d.query("SELECT sum(listing_id)")).fetchone() == (3,)


def test_names_are_sanitized() -> None:
    @asset("x.json", name="my asset/with:odd*chars_{v}")
    def odd(v: str):
        return [{"v": v}]

    assert odd.with_arguments(v="ok").name == "my_asset_with_odd_chars_ok"

    def plain():
        return []

    assert DataAsset(plain, "p.json").name == f"{__name__}.plain"


def test_unknown_option_is_rejected() -> None:
    with pytest.raises(DefinitionError, match="unknown option"):
        dataset.with_options(colour="red")


@pytest.mark.parametrize("value", ["", "a\x00b", "line\nbreak", "x" * 300])
def test_values_no_backend_can_name_are_rejected_when_the_asset_is_bound(value: str) -> None:
    from madstream import TemplateError

    @asset("lit/{part}/out.parquet", name="lit")
    def lit(part: str):
        return [{"x": 1}]

    with pytest.raises(TemplateError, match="an argument value"):
        lit.with_arguments(part=value)


async def test_glob_characters_in_values_are_literal_names(storage_root) -> None:
    @asset("lit/{part}/out.parquet", name="lit_{part}", artifact_filetype="parquet")
    def lit(part: str):
        return [{"part": part}]

    for part in ("a*", "a[1]", "a?"):
        await lit(part)
    for part in ("a*", "a[1]", "a?"):
        assert (await lit.with_arguments(part).query("SELECT part")).fetchall() == [(part,)]
        assert (storage_root / "lit" / part / "out.parquet").is_file()
        assert [p.name for p in (storage_root / "lit" / part / "_artifacts").rglob("*.parquet")] == ["fragment=000001.parquet"]


async def test_the_result_type_can_be_an_argument(storage_root) -> None:
    @asset("typed_results/model_asset.{filetype}", name="model_{filetype}")
    def model(filetype: str):
        return [{"id": 1, "kind": filetype}]

    for filetype in ("parquet", "json", "csv"):
        artifact = await model(filetype)
        assert artifact.path == f"typed_results/model_asset.{filetype}"
        assert (storage_root / "typed_results" / f"model_asset.{filetype}").is_file()
        assert (await model.with_arguments(filetype).query("SELECT id, kind")).fetchall() == [(1, filetype)]
    with pytest.raises(DefinitionError, match="result type `txt`"):
        model.with_arguments("txt")  # checked when bound: nothing is written
    assert not (storage_root / "typed_results" / "model_asset.txt").exists()
