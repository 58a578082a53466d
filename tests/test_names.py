"""Names: an asset's default name is one name however its script runs, and ``mad://`` names are clean.

The name tests run real processes: a script run as ``python shop.py`` (or ``python -m``) and the
CLI loading the same file must write one asset with one run history.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from madstream import ExtractError, asset, register_mad_protocol

SHOP = '''
import anyio
from madstream import asset


@asset("shop/products.parquet", artifact_filetype="parquet")
async def products():
    yield [{"id": 1}, {"id": 2}]


if __name__ == "__main__":
    anyio.run(products)
    print(products.name)
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    (folder / "pkg").mkdir(parents=True)
    (folder / "shop.py").write_text(SHOP)
    (folder / "pkg" / "__init__.py").write_text("")
    (folder / "pkg" / "shop.py").write_text(SHOP)
    return folder


def run(project: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args], cwd=project, env={**os.environ, "MADSTREAM_PROGRESS": "0"},
        check=False, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_script_and_the_cli_run_one_asset(project: Path, storage_root: Path) -> None:
    assert run(project, "shop.py") == "shop.products\n"
    run(project, "-m", "madstream", "materialize", "shop:products")
    runs = run(project, "-m", "madstream", "runs", "shop:products").splitlines()
    assert len(runs) == 3  # the header, the script's run and the CLI's: one history
    assert all(line.split()[3:6] == ["shop.products", "-", "succeeded"] for line in runs[1:])
    listed = run(project, "-m", "madstream", "ls").splitlines()
    assert [line.split()[:3] for line in listed[1:]] == [["shop.products", "-", "shop/products.parquet"]]
    assert listed[1].split()[-1] == "succeeded" and listed[1].split()[-3] == "2"
    assert not any("__main__" in str(p) for p in storage_root.rglob("*"))


def test_python_dash_m_names_the_asset_after_its_module(project: Path) -> None:
    assert run(project, "-m", "pkg.shop") == "pkg.shop.products\n"
    run(project, "-m", "madstream", "materialize", "pkg.shop:products")
    runs = run(project, "-m", "madstream", "runs", "pkg.shop:products").splitlines()
    assert len(runs) == 3 and all(line.split()[3:6] == ["pkg.shop.products", "-", "succeeded"] for line in runs[1:])


def test_a_script_file_given_to_the_cli_is_the_same_asset(project: Path) -> None:
    run(project, "shop.py")
    run(project, "-m", "madstream", "materialize", "shop.py:products")
    runs = run(project, "-m", "madstream", "runs", "shop:products").splitlines()
    assert len(runs) == 3


def test_an_imported_module_keeps_its_name_and_an_explicit_name_wins() -> None:
    @asset("x/a.json")
    def plain() -> list[dict[str, int]]:
        return [{"a": 1}]

    @asset("x/b.json", name="bees")
    def named() -> list[dict[str, int]]:
        return [{"b": 1}]

    assert plain.name == f"{__name__}.plain"
    assert named.name == "bees"


# -- mad:// ------------------------------------------------------------------------------------


@asset("big/events.parquet", name="events", artifact_filetype="parquet")
async def events():
    yield [{"id": i} for i in range(5)]


@asset("copy/events.parquet", name="copy", artifact_filetype="parquet")
def copy_events():
    return duckdb.sql("FROM 'mad://big/*.parquet'")


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


@pytest.mark.anyio
async def test_glob_and_filename_name_mad_paths_once(con: duckdb.DuckDBPyConnection) -> None:
    await events()
    await register_mad_protocol(con)
    assert con.sql("SELECT file FROM glob('mad://big/*.parquet')").fetchall() == [("mad://big/events.parquet",)]
    for path in ("mad://big/*.parquet", "mad://big/events.parquet"):
        names = con.sql(f"SELECT DISTINCT filename FROM read_parquet('{path}', filename = true)").fetchall()
        assert names == [("mad://big/events.parquet",)]
    # The names DuckDB reports read back.
    assert con.sql("SELECT count(*) FROM read_parquet('mad://big/events.parquet')").fetchall() == [(5,)]


@pytest.mark.anyio
async def test_reading_mad_paths_before_registering_says_to_register() -> None:
    await events()
    default = duckdb.default_connection()
    if default.filesystem_is_registered("mad"):
        default.unregister_filesystem("mad")
    with pytest.raises(ExtractError, match=r"No files found .*mad://big/\*\.parquet.* — DuckDB reads mad:// paths only "
                       r"once `await register_mad_protocol\(\)` has run"):
        await copy_events()
    await register_mad_protocol()
    try:
        artifact = await copy_events()
        assert (await artifact.query("SELECT sum(id)")).fetchone() == (10,)
    finally:
        default.unregister_filesystem("mad")


@pytest.mark.anyio
async def test_no_matching_file_after_registering_says_so() -> None:
    @asset("copy/none.parquet", name="none", artifact_filetype="parquet")
    def none():
        return duckdb.sql("FROM 'mad://nowhere/*.parquet'")

    await register_mad_protocol()
    try:
        with pytest.raises(ExtractError, match=r"nowhere.* — no file under the storage root matches it"):
            await none()
    finally:
        duckdb.default_connection().unregister_filesystem("mad")
