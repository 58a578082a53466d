"""Queries stay inside the storage: no reading or writing other files, one statement, no settings."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import duckdb
import pytest

from madstream import DataArtifact, QueryError, Storage, asset
from madstream.query.confine import check_single_select

pytestmark = pytest.mark.anyio

SECRET = "top-secret-line"


@asset("sec/people.parquet", name="people", artifact_filetype="parquet")
async def people():
    yield [{"id": i, "name": f"n{i}"} for i in range(7)]


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A readable file next to the storage root, not inside it."""
    path = tmp_path / "outside" / "secret.txt"
    path.parent.mkdir()
    path.write_text(f"line\n{SECRET}\n")
    return path


def quoted(path: Path | str) -> str:
    return "'" + str(path).replace("'", "''") + "'"


@pytest.mark.skipif(not os.path.exists("/etc/passwd"), reason="no /etc/passwd here")
@pytest.mark.parametrize(
    "query",
    [
        "SELECT name UNION ALL SELECT content FROM read_text('/etc/passwd')",
        "SELECT name UNION ALL SELECT column0 FROM read_csv('/etc/passwd', header = false)",
        "SELECT name UNION ALL SELECT content::VARCHAR FROM read_blob('/etc/passwd')",
        ", read_text('/etc/passwd') SELECT content",
    ],
)
async def test_a_query_cannot_read_etc_passwd(query: str) -> None:
    with pytest.raises(QueryError, match="outside the storage") as caught:
        await people.query(query)
    assert "root:" not in str(caught.value)


async def test_a_query_cannot_read_a_file_beside_the_storage(outside: Path, storage_root: Path) -> None:
    await people()
    for query in (
        f"SELECT name UNION ALL SELECT content FROM read_text({quoted(outside)})",
        f", read_text({quoted(storage_root / '..' / 'outside' / 'secret.txt')}) SELECT content",  # climbs out
        f"SELECT name UNION ALL SELECT file FROM glob({quoted(outside.parent / '*')})",
    ):
        with pytest.raises(QueryError, match="outside the storage") as caught:
            await people.query(query)
        assert SECRET not in str(caught.value)


async def test_a_directory_sharing_the_roots_prefix_is_outside(storage_root: Path) -> None:
    await people()
    sibling = Path(f"{storage_root}-evil")
    sibling.mkdir()
    (sibling / "x.csv").write_text(f"a\n{SECRET}\n")
    with pytest.raises(QueryError, match="outside the storage"):
        await people.query(f"SELECT name UNION ALL SELECT a FROM read_csv({quoted(sibling / 'x.csv')})")


async def test_a_query_reads_files_inside_its_own_storage(storage_root: Path) -> None:
    await people()
    # Inside the storage root is fine: the committed files themselves, or others there.
    (storage_root / "sec" / "notes.csv").write_text("a\n1\n2\n")
    result = await people.query(f"SELECT count(*) + (SELECT sum(a) FROM read_csv({quoted(storage_root / 'sec' / 'notes.csv')}))")
    assert result.fetchone() == (7 + 3,)


async def test_copy_to_a_path_outside_the_storage_fails_and_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "x.csv"
    target.parent.mkdir()
    for query in (
        f"SELECT 1; COPY (SELECT 42) TO {quoted(target)}",
        f"SELECT 1; COPY (SELECT 42) TO {quoted(target)}; SELECT 2",
    ):
        with pytest.raises(QueryError, match="one statement"):
            await people.query(query)
    # Below the one-statement rule, the query's connection itself cannot reach outside the storage.
    relation = (await people.query("SELECT id")).relation
    with pytest.raises(duckdb.PermissionException):
        relation.query("t", f"COPY (SELECT 42) TO {quoted(target)}")
    with pytest.raises(duckdb.InvalidInputException, match="locked"):
        relation.query("t", "SET threads = 1")
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


async def test_a_second_statement_is_rejected_without_echoing_rows() -> None:
    for query in ("SELECT name; SELECT name", "SELECT id ;SELECT 2", "WHERE id = 1; ATTACH ':memory:' AS x"):
        with pytest.raises(QueryError, match="one statement") as caught:
            await people.query(query)
        assert "n1" not in str(caught.value) and "n3" not in str(caught.value)
    # A `;` inside a string literal or a comment is not a second statement.
    result = await people.query("SELECT count(*) WHERE name <> 'a;b' -- ; not a statement")
    assert result.fetchone() == (7,)
    assert (await people.query("SELECT count(*);")).fetchone() == (7,)  # a trailing `;` is fine


async def test_a_refused_query_is_refused_every_time_and_an_accepted_one_is_parsed_once() -> None:
    assert (await people.query("SELECT count(*) WHERE id < 3")).fetchone() == (3,)
    for _ in range(3):  # only verdicts that let a query through are remembered
        with pytest.raises(QueryError, match="one statement"):
            await people.query("SELECT count(*) WHERE id < 3; SET threads = 1")
        with pytest.raises(QueryError, match="not INSERT"):
            check_single_select(duckdb.connect(), "INSERT INTO t VALUES (1)", asset="people", path=None)

    class Counting:
        """A connection that counts how often the text is parsed."""

        def __init__(self) -> None:
            self.parsed, self.con = 0, duckdb.connect()

        def extract_statements(self, sql: str) -> list[object]:
            self.parsed += 1
            return self.con.extract_statements(sql)

    counting = Counting()
    text = f"FROM range(5) SELECT count(*) -- {uuid.uuid4()}"
    for _ in range(3):
        check_single_select(counting, text, asset="people", path=None)  # type: ignore[arg-type]
    assert counting.parsed == 1
    assert counting.con.sql(text).fetchall() == [(5,)]
    long_text = text + " " * 40_000  # too long to keep: parsed each time
    for _ in range(2):
        check_single_select(counting, long_text, asset="people", path=None)  # type: ignore[arg-type]
    assert counting.parsed == 3


async def test_set_in_a_query_is_rejected_and_settings_never_carry_over() -> None:
    threads = (await people.query("SELECT current_setting('threads') LIMIT 1")).fetchone()
    for query in ("SELECT 1; SET threads = 1", "LIMIT 1; SET threads TO 1", "SELECT 1; RESET threads; SET threads=1"):
        with pytest.raises(QueryError, match="one statement"):
            await people.query(query)
    # Hidden behind query(): DuckDB only lets one SELECT through there (and settings are locked).
    with pytest.raises(QueryError, match="SELECT"):
        await people.query(", query('SET threads = 1') SELECT 1")
    assert (await people.query("SELECT current_setting('threads') LIMIT 1")).fetchone() == threads
    assert (await people.query("SELECT count(*)")).fetchone() == (7,)


async def test_the_opt_out_lets_trusted_code_read_other_files(outside: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    await people()
    query = f"SELECT content FROM read_text({quoted(outside)})"
    monkeypatch.setenv("MADSTREAM_QUERY_EXTERNAL_ACCESS", "1")
    result = await people.query(f"SELECT count(*), ({query}) LIMIT 1")
    assert result.fetchone() == (7, f"line\n{SECRET}\n")
    # Still one statement only.
    with pytest.raises(QueryError, match="one statement"):
        await people.query("SELECT 1; SET threads = 1")
    monkeypatch.delenv("MADSTREAM_QUERY_EXTERNAL_ACCESS")
    with pytest.raises(QueryError, match="outside the storage"):
        await people.query(f"SELECT count(*), ({query}) LIMIT 1")


async def test_params_stay_data() -> None:
    hostile = "x'; DROP TABLE t; --"
    assert (await people.query("SELECT count(*) WHERE name = ?", [hostile])).fetchone() == (0,)
    assert (await people.query("SELECT $v AS v LIMIT 1", {"v": hostile})).fetchall() == [(hostile,)]
    assert (await people.query("SELECT count(*) WHERE name = ?", ["n3"])).fetchone() == (1,)


async def test_a_query_on_one_storage_cannot_read_another(tmp_path: Path) -> None:
    other = Storage(f"file://{tmp_path / 'other'}")
    theirs = DataArtifact("o/rows.parquet", [{"name": SECRET}], storage=other)
    await theirs.persist()
    await people()
    with pytest.raises(QueryError, match="outside the storage") as caught:
        await people.query(f"SELECT name UNION ALL SELECT name FROM {theirs.source_sql()}")
    assert SECRET not in str(caught.value)
    assert (await theirs.query("SELECT name")).fetchall() == [(SECRET,)]  # its own storage reads it


async def test_remote_storage_queries_stay_inside_their_root() -> None:
    tag = uuid.uuid4().hex[:8]
    mine, other = Storage(f"memory://sec-{tag}-mine"), Storage(f"memory://sec-{tag}-other")
    ours = DataArtifact("r/rows.parquet", [{"v": 1}, {"v": 2}], storage=mine)
    theirs = DataArtifact("r/rows.parquet", [{"v": 100}], storage=other)
    await ours.persist()
    await theirs.persist()
    assert (await ours.query("SELECT sum(v)")).fetchone() == (3,)
    assert (await ours.query("SELECT sum(v) WHERE v > ?", [1])).fetchone() == (2,)
    # Another storage's protocol is not reachable from this query ...
    with pytest.raises(QueryError, match="outside the storage"):
        await ours.query(f"SELECT v UNION ALL SELECT v FROM {theirs.source_sql()}")
    # ... nor is a path climbing out of this storage's root through its own protocol.
    protocol = ours.source_sql().split("'")[1].split("://")[0]
    assert protocol.startswith("mad")
    for climb in (f"../sec-{tag}-other/r/rows.parquet", f"r/../../sec-{tag}-other/r/rows.parquet"):
        with pytest.raises(QueryError, match="outside the storage") as caught:
            await ours.query(f"SELECT v UNION ALL SELECT v FROM read_parquet('{protocol}://{climb}')")
        assert "Traceback" not in str(caught.value)
    with pytest.raises(QueryError, match="outside the storage"):
        await ours.query("SELECT v UNION ALL SELECT 1 FROM read_text('/etc/hostname')")

