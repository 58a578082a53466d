"""The ``madstream`` command line, end to end: each test runs it as a subprocess and reads its output."""

from __future__ import annotations

import datetime as dt
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

SHOP = '''
import datetime as dt
import enum
import os
import time
from typing import Literal, Optional

from madstream import asset


@asset("sales/orders_{day}.parquet", name="orders", artifact_filetype="parquet")
async def orders(day: dt.date, pages: int = 2):
    for page in range(pages):
        yield [{"id": page * 10 + i, "day": day, "amount": 1.5 * i} for i in range(4)]
    if os.environ.get("SHOP_FAIL"):
        raise RuntimeError("upstream went away")


@asset("typed/typed.json", name="typed")
def typed(n: int, ratio: float, flag: bool, day: dt.date, mode: Literal["a", "b"],
          note: Optional[str] = None, ids: list[int] = []):
    values = (n, ratio, flag, day, mode, note, ids)
    return [{"n": n, "flag": flag, "ids": ids, "types": " ".join(type(v).__name__ for v in values)}]


class Colour(enum.Enum):
    RED = "r"
    GREEN = "g"


@asset("more/more.json", name="more")
def more(sizes: list[int], colour: Colour, level: Literal["low", "high"], since: Optional[dt.date] = None,
         until: Optional[dt.date] = None, tones: list[Colour] = []):
    values = {"sizes": sizes, "colour": colour.value, "level": level, "since": since, "until": until,
              "tones": [t.value for t in tones]}
    return [{"values": repr(values)}]


@asset("slow/slow.parquet", name="slow", artifact_filetype="parquet")
def slow(batches: int = 8):
    for i in range(batches):
        time.sleep(0.15)
        yield [{"i": i}] * 100



@asset("many/m.parquet|csv|json", name="many")
def many():
    return [{"a": 1}]


@asset("odd/odd.parquet", name="odd")
def odd():
    return [{"id": 1, "tags": ["a", "b"], "x": float("nan"), "y": float("-inf"), "s": {"k": 1}}]

not_an_asset = 42
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "shop.py").write_text(SHOP)
    return folder


def madstream(project: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "MADSTREAM_PROGRESS": "0", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "madstream", *args], cwd=project, env=full_env,
        check=False, capture_output=True, text=True, timeout=60,
    )


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_materialize_prints_a_one_line_summary(project: Path, storage_root: Path) -> None:
    out = ok(madstream(project, "materialize", "shop:orders", "--arg", "day=2026-01-31", "--arg", "pages=3"))
    assert out.startswith("orders: 12 rows in 3 batches, ")
    assert out.rstrip().endswith("rows/s) → sales/orders_2026-01-31.parquet")
    assert len(out.splitlines()) == 1
    table = pq.read_table(storage_root / "sales" / "orders_2026-01-31.parquet")
    assert table.num_rows == 12
    assert str(table.schema.field("day").type) == "date32[day]"  # the text became a date


def test_arguments_convert_to_their_annotated_types(project: Path) -> None:
    args = ["--arg", "n=7", "--arg", "ratio=0.5", "--arg", "flag=yes", "--arg", "day=2026-02-01",
            "--arg", "mode=b", "--arg", "note=null", "--arg", "ids=1,2,3"]
    ok(madstream(project, "materialize", "shop:typed", *args))
    out = ok(madstream(project, "query", "shop:typed", *args, "SELECT n, flag, ids, types", "--format", "json"))
    assert json.loads(out) == {"n": 7, "flag": True, "ids": [1, 2, 3], "types": "int float bool date str NoneType list"}


def test_more_arguments_convert_lists_optionals_enums_and_literals(project: Path) -> None:
    args = ["--arg", "sizes=3, 1,,2", "--arg", "colour=RED", "--arg", "level=high", "--arg", "since=none",
            "--arg", "until=2026-02-01", "--arg", "tones=g,RED"]
    ok(madstream(project, "materialize", "shop:more", *args))
    out = ok(madstream(project, "query", "shop:more", *args, "SELECT values", "--format", "json"))
    assert json.loads(out)["values"] == repr({
        "sizes": [3, 1, 2], "colour": "r", "level": "high", "since": None, "until": dt.date(2026, 2, 1), "tones": ["g", "r"],
    })


def test_query_formats_read_the_last_result_without_running_it(project: Path, tmp_path: Path) -> None:
    ok(madstream(project, "materialize", "shop:orders", "--arg", "day=2026-01-31"))
    day = ["--arg", "day=2026-01-31"]

    table = ok(madstream(project, "query", "shop:orders", *day, "SELECT id, amount ORDER BY id LIMIT 3"))
    assert table.splitlines() == ["id  amount", " 0     0.0", " 1     1.5", " 2     3.0", "(3 rows)"]

    csv = ok(madstream(project, "query", "shop:orders", *day, "SELECT day, sum(amount) AS total GROUP BY day", "--format", "csv"))
    assert csv.splitlines() == ["day,total", "2026-01-31,18.0"]

    lines = ok(madstream(project, "query", "shop:orders", *day, "SELECT id WHERE id >= 12 ORDER BY id", "--format", "json"))
    assert [json.loads(line) for line in lines.splitlines()] == [{"id": 12}, {"id": 13}]

    target = tmp_path / "out.parquet"
    done = madstream(project, "query", "shop:orders", *day, "SELECT * WHERE amount > 2", "--format", "parquet", "--output", str(target))
    assert ok(done) == "" and done.stderr.strip() == f"4 rows → {target}"
    assert pq.read_table(target).column("amount").to_pylist() == [3.0, 4.5, 3.0, 4.5]

    runs = ok(madstream(project, "runs", "shop:orders", *day))
    assert len(runs.splitlines()) == 2  # the header and the one materialization: queries ran nothing


def test_csv_and_json_keep_nested_values_nan_and_infinities(project: Path) -> None:
    ok(madstream(project, "materialize", "shop:odd"))
    csv = ok(madstream(project, "query", "shop:odd", "SELECT *", "--format", "csv"))
    assert csv.splitlines() == ["id,tags,x,y,s", '1,"[""a"",""b""]",NaN,-inf,"{""k"":1}"']
    line = ok(madstream(project, "query", "shop:odd", "SELECT *", "--format", "json")).strip()
    assert line == '{"id":1,"tags":["a","b"],"x":NaN,"y":-Infinity,"s":{"k":1}}'
    empty = ok(madstream(project, "query", "shop:odd", "SELECT id WHERE false", "--format", "csv"))
    assert empty == "id\n"  # no rows: still the header


def test_the_summary_names_every_result_file(project: Path) -> None:
    line = ok(madstream(project, "materialize", "shop:many")).strip()
    assert line.startswith("many: 1 row in 1 batch, ") and line.endswith(" → many/m.parquet|csv|json")


def test_an_output_file_that_cannot_be_written_is_one_clear_line(project: Path, tmp_path: Path) -> None:
    ok(madstream(project, "materialize", "shop:odd"))
    target = tmp_path / "missing" / "x.csv"
    done = madstream(project, "query", "shop:odd", "SELECT id", "--output", str(target))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"madstream: error: cannot write --output `{target}`: No such file or directory; give a path in a folder that exists"
    )


def test_query_runs_an_asset_that_never_ran(project: Path) -> None:
    out = ok(madstream(project, "query", "shop:orders", "--arg", "day=2026-03-01", "SELECT count(*) AS n"))
    assert out.splitlines() == ["n", "8", "(1 row)"]


def test_runs_shows_history_with_failures(project: Path) -> None:
    day = ["--arg", "day=2026-01-31"]
    ok(madstream(project, "materialize", "shop:orders", *day))
    failed = madstream(project, "materialize", "shop:orders", *day, env={"SHOP_FAIL": "1"})
    assert failed.returncode == 1

    lines = ok(madstream(project, "runs")).splitlines()
    assert lines[0].split() == [
        "STARTED", "(UTC)", "RUN", "ASSET", "PARAMETERS", "STATUS", "DURATION", "ROWS", "SIZE", "SCHEMA", "CHANGES", "ERROR",
    ]
    newest, oldest = lines[1], lines[2]
    assert " orders  day=2026-01-31, pages=2  failed " in newest
    assert "ExtractError: asset `orders`" in newest and "upstream went away" in newest
    assert " orders  day=2026-01-31, pages=2  succeeded " in oldest and " 8 " in oldest
    assert len(lines) == 3
    [only] = ok(madstream(project, "runs", "--limit", "1")).splitlines()[1:]
    assert only.split() == newest.split()
    assert ok(madstream(project, "runs", "shop:slow")) == "no runs recorded for shop:slow\n"


def test_ls_lists_assets_with_their_last_materialization(project: Path) -> None:
    ok(madstream(project, "materialize", "shop:orders", "--arg", "day=2026-01-31"))
    ok(madstream(project, "materialize", "shop:orders", "--arg", "day=2026-01-31"))
    ok(madstream(project, "materialize", "shop:slow", "--arg", "batches=2"))
    lines = ok(madstream(project, "ls")).splitlines()
    assert lines[0].split() == [
        "ASSET", "PARAMETERS", "PATH", "MATERIALIZED", "(UTC)", "ROWS", "SIZE", "RUNS", "LAST", "RUN", "LAST", "STATUS",
    ]
    orders_line = lines[1].split()
    assert orders_line[:4] == ["orders", "day=2026-01-31,", "pages=2", "sales/orders_2026-01-31.parquet"]
    assert orders_line[6] == "8" and orders_line[-3] == "2" and orders_line[-1] == "succeeded"
    slow_line = lines[2].split()
    assert slow_line[:3] == ["slow", "batches=2", "slow/slow.parquet"] and slow_line[5] == "200"
    assert len(lines) == 3


def test_ls_on_empty_storage(project: Path, storage_root: Path) -> None:
    assert ok(madstream(project, "ls")) == f"no assets under file://{storage_root}\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["materialize", "shop:orders"],
            "madstream: error: asset `orders` needs --arg day=... (its parameters: day: datetime.date, pages: int = 2)",
        ),
        (["materialize", "shop:orders", "--arg", "day=soon"], "madstream: error: --arg day='soon': expected date"),
        (
            ["materialize", "shop:orders", "--arg", "day=31/01/2026"],
            "madstream: error: --arg day='31/01/2026': expected date (Input should be a valid date or datetime, "
            "invalid character in year)",
        ),
        (
            ["materialize", "shop:more", "--arg", "sizes=1,x", "--arg", "colour=RED", "--arg", "level=low"],
            "madstream: error: --arg sizes='1,x': expected list[int] (Input should be a valid integer, "
            "unable to parse string as an integer)",
        ),
        (
            ["materialize", "shop:more", "--arg", "sizes=1", "--arg", "colour=BLUE", "--arg", "level=low"],
            "madstream: error: --arg colour='BLUE': expected Colour (Input should be 'r' or 'g')",
        ),
        (
            ["materialize", "shop:more", "--arg", "sizes=1", "--arg", "colour=r", "--arg", "level=mid"],
            "madstream: error: --arg level='mid': expected Literal['low', 'high'] (Input should be 'low' or 'high')",
        ),
        (["materialize", "shop:orders", "--arg", "week=3"], "madstream: error: asset `orders` has no parameter `week`"),
        (["materialize", "shop:nothing"], "madstream: error: `shop` has no attribute `nothing`"),
        (["materialize", "shop:not_an_asset"], "madstream: error: `shop:not_an_asset` is a int, not an asset"),
        (["materialize", "nowhere:orders"], "madstream: error: cannot import `nowhere`"),
        (["query", "shop:orders", "--arg", "day=2026-01-31", "SELEC 1"], "madstream: error: asset `orders`"),
    ],
)
def test_errors_are_one_line_and_exit_1_or_2_for_usage(project: Path, args: list[str], message: str) -> None:
    if args[0] == "query":  # a committed result to query (else the command first says it runs the asset)
        assert madstream(project, "materialize", *args[1:4]).returncode == 0
    done = madstream(project, *args)
    usage = args[-1] != "SELEC 1"  # every case but the query DuckDB rejects is a mistake on the command line
    assert done.returncode == (2 if usage else 1)
    assert done.stderr.startswith(message)
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
    assert "pydantic.dev" not in done.stderr and "validation error" not in done.stderr


def test_debug_adds_the_traceback(project: Path) -> None:
    done = madstream(project, "materialize", "shop:orders", "--arg", "day=2026-01-31", "--debug", env={"SHOP_FAIL": "1"})
    assert done.returncode == 1
    assert "Traceback (most recent call last)" in done.stderr
    assert "RuntimeError: upstream went away" in done.stderr
    assert done.stderr.splitlines()[-1].startswith("madstream: error: asset `orders`")


def _on_a_terminal(project: Path, *args: str, env: dict[str, str]) -> tuple[int, str]:
    """Run with stderr on a pseudo-terminal; returns the exit code and what the terminal showed."""
    leader, follower = pty.openpty()
    full_env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", **env}
    full_env.pop("MADSTREAM_PROGRESS", None) if "MADSTREAM_PROGRESS" not in env else None
    proc = subprocess.Popen(
        [sys.executable, "-m", "madstream", *args], cwd=project, env=full_env,
        stdout=subprocess.DEVNULL, stderr=follower,
    )
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    return proc.wait(timeout=60), shown.decode(errors="replace")


def test_progress_shows_on_a_terminal_only(project: Path) -> None:
    code, shown = _on_a_terminal(project, "materialize", "shop:slow", env={})
    assert code == 0
    assert "slow" in shown and "rows/s" in shown and "batches" in shown

    code, shown = _on_a_terminal(project, "materialize", "shop:slow", "--arg", "batches=9", env={"MADSTREAM_PROGRESS": "0"})
    assert code == 0 and "rows/s" not in shown
    code, shown = _on_a_terminal(project, "materialize", "shop:slow", "--arg", "batches=7", "--no-progress", env={})
    assert code == 0 and "rows/s" not in shown

    piped = madstream(project, "materialize", "shop:slow", "--arg", "batches=6", env={"MADSTREAM_PROGRESS": "1"})
    assert piped.returncode == 0 and piped.stderr == ""  # not a terminal: nothing drawn


def test_the_console_script(project: Path) -> None:
    script = Path(sys.executable).parent / "madstream"
    if not script.exists():
        pytest.skip("madstream is not installed in this environment (pip install -e .)")
    done = subprocess.run(
        [str(script), "ls"], cwd=project, env=os.environ.copy(), check=False, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("no assets under file://")


def test_vacuum_and_verify(project: Path, storage_root: Path) -> None:
    for _ in range(3):
        assert madstream(project, "materialize", "shop:orders", "--arg", "day=2026-01-31").returncode == 0
    ok = madstream(project, "verify", "shop:orders", "--arg", "day=2026-01-31")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "orders: 3 version(s), 9 file(s), 0 problem(s)"

    version_file = next((storage_root / "_asset_metadata" / "datasets").rglob("runs/*/results/orders_2026-01-31.parquet"))
    data = bytearray(version_file.read_bytes())
    data[len(data) // 2] ^= 0xFF  # a flipped byte, same size
    version_file.write_bytes(bytes(data))
    bad = madstream(project, "verify", "shop:orders", "--arg", "day=2026-01-31")
    assert bad.returncode == 1
    assert "does not match its committed checksum" in bad.stderr and "1 problem(s)" in bad.stdout

    done = madstream(project, "vacuum", "shop:orders", "--arg", "day=2026-01-31")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "orders: removed 0 version(s) and 0 folder(s); versions kept: 1, 2, 3"


def test_unreadable_records_are_skipped_with_a_warning(project: Path, storage_root: Path) -> None:
    for day in ("2026-01-30", "2026-01-31"):
        assert madstream(project, "materialize", "shop:orders", "--arg", f"day={day}").returncode == 0
    meta = storage_root / "_asset_metadata"
    records = sorted(meta.rglob("metadata.json"))
    records[0].write_text('{"id": "trunc')  # a record cut short by a kill
    versions = sorted(meta.rglob("versions/v*.json"))
    versions[0].write_text("not json")
    listing = madstream(project, "ls")
    assert listing.returncode == 0, listing.stderr
    assert len(listing.stdout.strip().splitlines()) == 2  # the header and the readable configuration
    runs = madstream(project, "runs")
    assert runs.returncode == 0 and len(runs.stdout.strip().splitlines()) == 2
    assert "skipping the unreadable run record" in runs.stderr
    query = madstream(project, "query", "shop:orders", "--arg", "day=2026-01-31", "SELECT count(*)")
    assert query.returncode == 0 and "8" in query.stdout


def test_global_flags_work_before_the_command(project: Path) -> None:
    done = madstream(project, "--debug", "materialize", "shop:orders", "--arg", "day=2026-01-31", env={"SHOP_FAIL": "1"})
    assert done.returncode == 1 and "Traceback (most recent call last)" in done.stderr
    version = madstream(project, "--version")
    assert version.returncode == 0 and version.stdout.strip().startswith("madstream ")


def test_a_closed_pipe_is_a_quiet_end(project: Path) -> None:
    assert madstream(project, "materialize", "shop:orders", "--arg", "day=2026-01-31", "--arg", "pages=400").returncode == 0
    script = f"{sys.executable} -m madstream query shop:orders --arg day=2026-01-31 --arg pages=400 'SELECT *' --format json | head -2"
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", script], cwd=project, capture_output=True, text=True, timeout=60,
        env={**os.environ, "MADSTREAM_PROGRESS": "0"},
    )
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 2 and done.stderr == ""


def test_output_format_follows_the_extension(project: Path) -> None:
    assert madstream(project, "materialize", "shop:orders", "--arg", "day=2026-01-31").returncode == 0
    for ext in ("csv", "json", "parquet"):
        target = project / f"out.{ext}"
        done = madstream(project, "query", "shop:orders", "--arg", "day=2026-01-31", "SELECT id ORDER BY id", "--output", str(target))
        assert done.returncode == 0, done.stderr
        if ext == "parquet":
            assert pq.read_table(target).column("id").to_pylist() == [0, 1, 2, 3, 10, 11, 12, 13]
        elif ext == "csv":
            assert target.read_text().splitlines()[:2] == ["id", "0"]
        else:
            assert target.read_text().splitlines()[0] == '{"id":0}'


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["materialize", "shop:orders", "--arg", "day=2026-01-31", "--arg", "day=2026-02-01"], "--arg day is given twice"),
        (["runs", "--limit", "-1"], "argument --limit: expected a whole number of 1 or more"),
        (["materialize", "shop:orders", "--arg", "day=2026-01-31", "--retries", "3"], "--retries applies to --prefect runs"),
    ],
)
def test_usage_mistakes_exit_2(project: Path, args: list[str], message: str) -> None:
    done = madstream(project, *args)
    assert done.returncode == 2
    assert message in done.stderr


def test_a_list_parameter_takes_several_args(project: Path) -> None:
    done = madstream(
        project, "materialize", "shop:more", "--arg", "sizes=1", "--arg", "sizes=2,3", "--arg", "colour=r", "--arg", "level=low",
    )
    assert done.returncode == 0, done.stderr
    query = madstream(project, "query", "shop:more", "--arg", "sizes=1,2,3", "--arg", "colour=r", "--arg", "level=low", "SELECT values")
    assert "'sizes': [1, 2, 3]" in query.stdout


def test_query_says_before_it_runs_and_no_run_refuses(project: Path) -> None:
    refused = madstream(project, "query", "shop:orders", "--arg", "day=2026-03-01", "SELECT count(*)", "--no-run")
    assert refused.returncode == 2
    assert "has no committed result — materialize it first" in refused.stderr
    ran = madstream(project, "query", "shop:orders", "--arg", "day=2026-03-01", "SELECT count(*)", "--format", "csv")
    assert ran.returncode == 0
    assert ran.stderr.startswith("madstream: asset `orders` has no committed result: running it first")
    assert ran.stdout.splitlines() == ["count_star()", "8"]
    one = madstream(project, "materialize", "shop:orders", "--arg", "day=2026-03-02", "--arg", "pages=1")
    assert ": 4 rows in 1 batch," in one.stdout
