"""Names: ``mad://`` names are clean."""

from __future__ import annotations

import duckdb
import pytest

from madstream import ExtractError, asset, register_mad_protocol

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
