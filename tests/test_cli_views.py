"""The CLI's views of what ran: ``runs`` and ``ls`` in every format, ``--storage``, ``show``, schema changes, durations.

These call :func:`madstream.cli.main` in the test's process (faster than a subprocess per
command); the exit code is its return value and stdout/stderr are captured apart.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from madstream.cli import main
from madstream.cli.drawing import SPARKS
from madstream.commit.catalog import RunRecord
from madstream.run.summary import summary

STORE = '''
import os

from madstream import asset


@asset("sales/orders_{day}.parquet", name="orders", artifact_filetype="parquet")
async def orders(day: str, pages: int = 2):
    for page in range(pages):
        if os.environ.get("SHOP_TEXT_IDS"):
            yield [{"id": f"o-{page}-{i}", "amount": 1.5 * i} for i in range(4)]
        else:
            yield [{"id": page * 10 + i, "amount": 1.5 * i} for i in range(4)]
    if os.environ.get("SHOP_FAIL"):
        raise RuntimeError("upstream went away")


@asset("shared/items.json", name="items")
def items(kind: str):
    return [{"kind": kind, "address": {"city": "Oslo", "tags": ["a"]}}]
'''


@pytest.fixture
def shop(tmp_path: Path) -> str:
    (tmp_path / "store.py").write_text(STORE)
    return str(tmp_path / "store.py")


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        code = main(list(args))
    except SystemExit as exit:  # argparse ends a usage mistake this way (the process exits with it)
        code = int(exit.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def ok(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code, out, err = cli(capsys, *args)
    assert code == 0, err
    return out


def test_runs_as_json_lines_and_csv_carry_run_ids_and_parameters(
    shop: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    ok(capsys, "materialize", f"{shop}:orders", "--arg", "day=d1")
    ok(capsys, "materialize", f"{shop}:orders", "--arg", "day=d2", "--arg", "pages=1")
    monkeypatch.setenv("SHOP_FAIL", "1")
    code, out, err = cli(capsys, "materialize", f"{shop}:orders", "--arg", "day=d1")
    assert code == 1 and out == "" and err.startswith("madstream: error: asset `orders`")

    lines = ok(capsys, "runs", "--format", "json").splitlines()
    runs = [json.loads(line) for line in lines]
    assert [(r["parameters"], r["status"], r["rows"], r["version"]) for r in runs] == [
        ({"day": "d1", "pages": 2}, "failed", None, None),
        ({"day": "d2", "pages": 1}, "succeeded", 4, 1),
        ({"day": "d1", "pages": 2}, "succeeded", 8, 1),
    ]
    assert len({r["run_id"] for r in runs}) == 3 and all(len(r["run_id"]) == 16 for r in runs)
    assert runs[0]["asset_id"] == runs[2]["asset_id"] != runs[1]["asset_id"]
    assert "upstream went away" in runs[0]["error"] and runs[1]["error"] is None
    assert runs[1]["duration_ms"] > 0 and runs[1]["schema_changes"] == []

    table = list(csv.DictReader(io.StringIO(ok(capsys, "runs", "--format", "csv", "--limit", "2"))))
    assert [row["run_id"] for row in table] == [r["run_id"] for r in runs[:2]]
    assert json.loads(table[1]["parameters"]) == {"day": "d2", "pages": 1} and table[1]["rows"] == "4"
    assert table[0]["rows"] == "" and table[0]["status"] == "failed"

    text = ok(capsys, "runs", f"{shop}:orders", "--arg", "day=d2", "--arg", "pages=1").splitlines()
    assert len(text) == 2 and runs[1]["run_id"] in text[1] and "day=d2, pages=1" in text[1]


def test_ls_tells_configurations_of_one_path_apart(shop: str, capsys: pytest.CaptureFixture[str]) -> None:
    for kind in ("a", "b", "a"):
        ok(capsys, "materialize", f"{shop}:items", "--arg", f"kind={kind}")
    listed = [json.loads(line) for line in ok(capsys, "ls", "--format", "json").splitlines()]
    assert [(e["asset"], e["parameters"], e["path"], e["runs"], e["rows"]) for e in listed] == [
        ("items", {"kind": "a"}, "shared/items.json", 2, 1),
        ("items", {"kind": "b"}, "shared/items.json", 1, 1),
    ]
    assert listed[0]["asset_id"] != listed[1]["asset_id"] and listed[0]["last_status"] == "succeeded"

    table = ok(capsys, "ls").splitlines()
    assert table[0].split()[:3] == ["ASSET", "PARAMETERS", "PATH"]
    assert table[1].split()[:3] == ["items", "kind=a", "shared/items.json"]
    assert table[2].split()[:3] == ["items", "kind=b", "shared/items.json"]
    assert listed[0]["last_run_id"] in table[1]

    rows = list(csv.DictReader(io.StringIO(ok(capsys, "ls", "--format", "csv"))))
    assert [(r["parameters"], r["runs"]) for r in rows] == [('{"kind":"a"}', "2"), ('{"kind":"b"}', "1")]


def test_empty_listings_in_every_format(capsys: pytest.CaptureFixture[str], storage_root: Path) -> None:
    assert ok(capsys, "runs") == "no runs recorded\n"
    assert ok(capsys, "runs", "--format", "json") == ""
    assert ok(capsys, "ls", "--format", "json") == ""
    assert ok(capsys, "ls", "--format", "csv").splitlines() == [
        "asset,asset_id,parameters,path,materialized,rows,bytes,runs,last_run_id,last_status",
    ]
    assert ok(capsys, "ls") == f"no assets under file://{storage_root}\n"
    code, _, err = cli(capsys, "ls", "--format", "parquet")
    assert code == 2 and "invalid choice: 'parquet'" in err


def test_storage_flag_before_or_after_the_command(shop: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    out = ok(capsys, "materialize", f"{shop}:orders", "--arg", "day=d1", "--storage", str(other))
    assert out.endswith("→ sales/orders_d1.parquet\n")
    assert (other / "sales" / "orders_d1.parquet").is_file()
    assert ok(capsys, "ls").startswith("no assets under")  # FILESYSTEM_URL's storage is untouched
    listed = ok(capsys, "--storage", f"file://{other}", "ls", "--format", "json")
    assert json.loads(listed)["rows"] == 8
    queried = ok(capsys, "query", f"{shop}:orders", "--arg", "day=d1", "SELECT count(*) AS n", "--storage", str(other), "--no-run")
    assert queried.splitlines() == ["n", "8", "(1 row)"]
    code, _, err = cli(capsys, "--storage", " ", "ls")
    assert code == 2 and "--storage is empty" in err


def test_show_one_screen_about_a_dataset(shop: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    day = ["--arg", "day=d1"]
    ok(capsys, "materialize", f"{shop}:orders", *day)
    ok(capsys, "materialize", f"{shop}:orders", *day, "--arg", "pages=3")  # another configuration at the same path
    ok(capsys, "materialize", f"{shop}:orders", *day)
    monkeypatch.setenv("SHOP_FAIL", "1")
    assert cli(capsys, "materialize", f"{shop}:orders", *day)[0] == 1
    monkeypatch.delenv("SHOP_FAIL")

    lines = ok(capsys, "show", f"{shop}:orders", *day).splitlines()
    assert lines[0].startswith("orders  (configuration ")
    assert lines[1].split() == ["parameters", "day=d1,", "pages=2"]
    assert lines[3].split() == ["path", "sales/orders_d1.parquet"]
    assert lines[4].startswith("  version     3, committed ")  # versions 1 and 3 are this configuration's
    assert lines[5].split() == ["rows", "8"]
    assert "note        sales/orders_d1.parquet" not in "\n".join(lines)  # the path shows this configuration
    schema = lines[lines.index("schema") + 1 : lines.index("schema") + 3]
    assert schema == ["├── id  BIGINT", "└── amount  DOUBLE"]
    versions = lines[lines.index("versions (newest first)") + 1 :][:3]
    assert versions[0].split()[:1] == ["VERSION"] and versions[1].split()[0] == "3" and versions[2].split()[0] == "1"
    runs_at = next(i for i, line in enumerate(lines) if line.startswith("last runs (newest first, 3)"))
    assert " failed " in lines[runs_at + 2] and "upstream went away" in lines[runs_at + 2]
    assert " succeeded " in lines[runs_at + 3]
    charts = lines[lines.index("recent successful runs (oldest → newest, 2)") + 1 :]
    assert [c.split()[0] for c in charts] == ["rows", "duration", "rows/s"]
    assert charts[0].split()[1] == SPARKS[3] * 2  # the same rows twice: a flat line
    assert all(set(c.split()[1]) <= set(SPARKS) and len(c.split()[1]) == 2 for c in charts)


def test_show_as_json(shop: str, capsys: pytest.CaptureFixture[str]) -> None:
    ok(capsys, "materialize", f"{shop}:items", "--arg", "kind=a")
    ok(capsys, "materialize", f"{shop}:items", "--arg", "kind=b")
    facts = json.loads(ok(capsys, "show", f"{shop}:items", "--arg", "kind=a", "--format", "json"))
    assert facts["asset"] == "items" and facts["parameters"] == {"kind": "a"} and facts["path"] == "shared/items.json"
    assert facts["current"]["version"] == 1 and facts["current"]["rows"] == 1
    assert facts["current"]["files"][0]["path"] == "shared/items.json"
    assert facts["current"]["files"][0]["file"].endswith("/results/items.json")
    assert facts["current"]["size"] == facts["current"]["files"][0]["size"] > 0
    assert facts["path_shows"]["version"] == 2 and facts["path_shows"]["parameters"] == {"kind": "b"}
    address = next(column for column in facts["schema"] if column["name"] == "address")
    assert address["type"] == "STRUCT"
    assert [(c["name"], c["type"]) for c in address["children"]] == [("city", "VARCHAR"), ("tags", "VARCHAR[]")]
    assert [v["version"] for v in facts["versions"]] == [1] and len(facts["runs"]) == 1
    assert facts["runs"][0]["status"] == "succeeded" and facts["trend"]["rows"] == [1]

    text = ok(capsys, "show", f"{shop}:items", "--arg", "kind=a")
    assert "now shows version 2 of another configuration (kind=b)" in text
    assert "├── kind  VARCHAR" in text and "└── address  STRUCT" in text and "    ├── city  VARCHAR" in text


def test_show_before_any_run_and_without_its_arguments(shop: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = ok(capsys, "show", f"{shop}:orders", "--arg", "day=d9")
    assert text.splitlines()[-1] == "no committed version — materialize it first"
    facts = json.loads(ok(capsys, "show", f"{shop}:orders", "--arg", "day=d9", "--format", "json"))
    assert facts["current"] is None and facts["versions"] == [] and facts["runs"] == [] and facts["schema"] == []
    code, out, err = cli(capsys, "show", f"{shop}:orders")
    assert code == 2 and out == "" and "needs --arg day=..." in err


def test_schema_changes_show_in_summary_runs_and_show(
    shop: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    day = ["--arg", "day=d1"]
    first = ok(capsys, "materialize", f"{shop}:orders", *day)
    assert "schema changed" not in first
    monkeypatch.setenv("SHOP_TEXT_IDS", "1")
    second = ok(capsys, "materialize", f"{shop}:orders", *day)
    assert second.rstrip().endswith("→ sales/orders_d1.parquet; schema changed: column `id` BIGINT -> VARCHAR")

    runs = [json.loads(line) for line in ok(capsys, "runs", "--format", "json").splitlines()]
    assert [r["schema_changes"] for r in runs] == [["column `id` BIGINT -> VARCHAR"], []]
    assert "column `id` BIGINT -> VARCHAR" in ok(capsys, "runs").splitlines()[1]

    facts = json.loads(ok(capsys, "show", f"{shop}:orders", *day, "--format", "json"))
    assert facts["schema_changes"] == [
        {"version": 2, "committed": facts["versions"][0]["committed"], "changes": ["column `id` BIGINT -> VARCHAR"]},
    ]
    text = ok(capsys, "show", f"{shop}:orders", *day).splitlines()
    assert text[text.index("schema changes") + 1] == "  version 2  column `id` BIGINT -> VARCHAR"


def test_a_type_change_within_one_run_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "mixed.py").write_text(
        "from madstream import asset\n\n"
        "@asset('mixed/ids.parquet', name='mixed', artifact_filetype='parquet')\n"
        "def mixed():\n    yield [{'id': 1}]\n    yield [{'id': 'x', 'note': 'late'}]\n"
    )
    line = ok(capsys, "materialize", f"{tmp_path / 'mixed.py'}:mixed")
    assert "schema changed: column `id` int64 -> large_string within the run; new column `note`" in line


def test_the_summary_gives_the_runs_own_time_and_the_overhead_apart() -> None:
    run = RunRecord(asset_name="orders", rows=300, batches=3, bytes=10_547, duration_miliseconds=530)
    line = summary(run, "sales/orders.parquet", 10.24, around="Prefect")
    assert line == "orders: 300 rows in 3 batches, 10.3 KB written, 0.53 s (566 rows/s; +9.71 s Prefect) → sales/orders.parquet"
    assert summary(run, "x.parquet", 10.24).endswith(", 0.53 s (566 rows/s) → x.parquet")
    unrecorded = RunRecord(asset_name="orders", rows=10, batches=1, bytes=100)
    assert summary(unrecorded, "x.parquet", 2.0).endswith(", 2.00 s (5 rows/s) → x.parquet")


def test_a_prefect_run_reports_its_own_time_and_prefects_apart(
    prefect_api: str, shop: str, capsys: pytest.CaptureFixture[str], storage_root: Path,
) -> None:
    env = {**os.environ, "PREFECT_API_URL": prefect_api, "MADSTREAM_PROGRESS": "0"}
    done = subprocess.run(
        [sys.executable, "-m", "madstream", "materialize", f"{shop}:orders", "--arg", "day=d1", "--prefect"],
        env=env, check=False, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    [record] = [json.loads(line) for line in ok(capsys, "runs", "--format", "json").splitlines()]
    own = record["duration_ms"] / 1000
    line = next(line for line in done.stdout.splitlines() if line.startswith("orders: "))
    found = re.search(r", ([\d.]+) s \([\d,]+ rows/s; \+([\d.]+) s Prefect\) → sales/orders_d1.parquet$", line)
    assert found is not None, line
    assert float(found.group(1)) == pytest.approx(own, abs=0.006)  # the run's own time, as its record says
    assert float(found.group(2)) > 0  # the flow's start-up around it, said apart


def test_a_query_table_on_stdout_is_bounded(shop: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    many = ["--arg", "day=d1", "--arg", "pages=400"]  # 1,600 rows
    ok(capsys, "materialize", f"{shop}:orders", *many)
    lines = ok(capsys, "query", f"{shop}:orders", *many, "SELECT id ORDER BY id").splitlines()
    assert len(lines) == 1 + 50 + 1 and lines[1].strip() == "0"
    assert lines[-1] == "(1,600 rows, the first 50 shown — --limit N shows more; --format csv or json, or --output, give all)"
    lines = ok(capsys, "query", f"{shop}:orders", *many, "SELECT id ORDER BY id", "--limit", "1000").splitlines()
    assert len(lines) == 1 + 1_000 + 1 and lines[-1].startswith("(1,600 rows, the first 1,000 shown")
    assert len(ok(capsys, "query", f"{shop}:orders", *many, "SELECT id", "--format", "csv").splitlines()) == 1 + 1_600
    target = tmp_path / "all.txt"
    code, out, err = cli(capsys, "query", f"{shop}:orders", *many, "SELECT id", "--output", str(target))
    assert code == 0 and out == "" and err == f"1,600 rows → {target}\n"
    assert target.read_text().splitlines()[-1] == "(1,600 rows)"
