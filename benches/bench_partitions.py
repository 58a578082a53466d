"""Partitioned writes, appends and merges against the plain run, in the same rounds.

Cases (each in a fresh subprocess; wall excludes interpreter start):

* ``plain``: the standard workload, default JSON fragments + parquet result.
* ``partitioned``: the same rows, ``partition_by=["bucket"]`` over 30 values (the page's
  ``bucket = id % 30`` is added in both cases, so the extract costs the same).
* a dataset of ``--dataset-rows`` rows over 100 partitions is built once (merged by ``id``, so
  each file records its key range) and copied for each of:
  * ``fresh``: ``--change-rows`` rows materialized into an empty dataset (what the rows cost);
  * ``append``: one run appends ``--change-rows`` rows to the copy;
  * ``merge``: one run updates ``--change-rows`` rows, all in partitions 0-2;
  each with the time, the bytes written and the files and partitions written.

    python benches/bench_partitions.py [--rows 1000000] [--rounds 3] [--cases plain,partitioned,fresh,append,merge]
    python benches/bench_partitions.py --cases fresh,append,merge --dataset-rows 10000000 --change-rows 100000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import posixpath
import shutil
import subprocess
import sys
import tempfile
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import Sample, child_main, measure, print_table, timed, versions  # noqa: E402


async def _bucketed(rows: int, buckets: int) -> Any:
    from workload import apages

    async for page in apages(rows):
        for row in page:
            row["bucket"] = row["id"] % buckets
        yield page


def run_write(rows: int, workdir: str, partitioned: bool) -> dict[str, Any]:
    os.environ["FILESYSTEM_URL"] = f"file://{workdir}"
    from madstream import asset

    options: dict[str, Any] = {"partition_by": ["bucket"]} if partitioned else {}

    @asset("bench/orders.parquet", name="orders", **options)
    async def orders() -> Any:
        async for page in _bucketed(rows, 30):
            yield page

    out: list[Any] = []
    result = timed(lambda: out.append(asyncio.run(orders())))
    assert out[0].rows == rows, out[0].rows
    return result


def _events(mode: str) -> Any:
    """The 100-partition dataset's asset: row ``id`` lives in partition ``id % 100``."""
    import pyarrow as pa

    from madstream import asset

    @asset("bench/events.parquet", name="events", write_mode=mode, partition_by=["part"],
           **({"primary_key": "id"} if mode == "merge" else {}))
    async def events(start: int, count: int, touched: int = 100) -> Any:
        # With ``touched`` < 100, ``count`` rows of the first ``touched`` partitions only (a merge's
        # updates keep their partition), from ``start`` on.
        step = 100_000
        first = start
        while count > 0:
            ids = pa.array([i for i in range(first, first + step) if i % 100 < touched][:count], pa.int64())
            first += step
            count -= len(ids)
            yield pa.table({"id": ids, "part": pa.compute.remainder(ids, 100), "v": pa.compute.multiply(ids, 2)})

    return events


def run_build(rows: int, workdir: str) -> dict[str, Any]:
    """The dataset the changes are made to (built once, copied for each measurement)."""
    os.environ["FILESYSTEM_URL"] = f"file://{workdir}"
    events = _events("merge")  # merged: every file records its key range
    result = timed(lambda: asyncio.run(events(0, rows)))
    result["files_total"] = len(asyncio.run(events.with_arguments(0, 0).versions())[-1].results)
    return result


def run_change(rows: int, workdir: str, mode: str) -> dict[str, Any]:
    """One append, merge or fresh write of ``BENCH_CHANGE_ROWS`` rows into a copy of the built dataset."""
    base, change = os.environ["BENCH_BASE"], int(os.environ["BENCH_CHANGE_ROWS"])
    if mode != "fresh":
        shutil.copytree(base, workdir, dirs_exist_ok=True)
    os.environ["FILESYSTEM_URL"] = f"file://{workdir}"
    events = _events("append" if mode == "fresh" else mode)
    history = asyncio.run(events.with_arguments(0, 0).versions())
    before = {e.file for e in history[-1].results} if history else set()
    if mode == "merge":  # updates of rows all in partitions 0, 1 and 2: their files rewritten
        call = events.with_arguments(0, change, 3)
    else:
        call = events.with_arguments(rows, change)
    result = timed(lambda: asyncio.run(call()))
    after = asyncio.run(events.with_arguments(0, 0).versions())[-1]
    new = [e for e in after.results if e.file not in before]
    result["bytes_written"] = sum(e.size for e in new)
    result["files_written"] = len(new)
    result["files_total"] = len(after.results)
    result["partitions_written"] = len({posixpath.dirname(e.path) for e in new})
    result["bytes"] = 0  # the copied dataset is not this run's output
    return result


def _cases() -> dict[str, Any]:
    return {
        "plain": lambda rows, wd: run_write(rows, wd, False),
        "partitioned": lambda rows, wd: run_write(rows, wd, True),
        "build": run_build,
        "fresh": lambda rows, wd: run_change(rows, wd, "fresh"),
        "append": lambda rows, wd: run_change(rows, wd, "append"),
        "merge": lambda rows, wd: run_change(rows, wd, "merge"),
    }


def _build(rows: int, base: str) -> dict[str, Any]:
    """Build the 100-partition dataset into ``base`` (kept: each change works on a copy)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    out = subprocess.run([sys.executable, __file__, "--child", "build", str(rows), base],
                         capture_output=True, text=True, env=env, check=False)
    for line in out.stdout.splitlines():
        if line.startswith("@@bench "):
            return dict(json.loads(line[len("@@bench "):]))
    raise RuntimeError(f"building the dataset failed (exit {out.returncode}):\n{out.stderr[-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the plain and partitioned writes")
    parser.add_argument("--dataset-rows", type=int, default=None, help="rows of the 100-partition dataset (default --rows)")
    parser.add_argument("--change-rows", type=int, default=100_000, help="rows one append, merge or fresh write adds")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cases", default="plain,partitioned,fresh,append,merge")
    args = parser.parse_args()
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    dataset_rows = args.dataset_rows or args.rows
    print(f"bench_partitions: {args.rows:,} rows, {args.rounds} rounds; {versions()}")
    writes = [c for c in cases if c in ("plain", "partitioned")]
    changes = [c for c in cases if c in ("fresh", "append", "merge")]
    if writes:
        samples: dict[str, Sample] = measure(__file__, writes, args.rows, args.rounds)
        table: list[tuple[str, Sample, Sample | None]] = []
        if "plain" in samples:
            table.append(("plain (json + parquet)", samples["plain"], None))
        if "partitioned" in samples:
            table.append(("partitioned, 30 buckets", samples["partitioned"], samples.get("plain")))
        print_table(f"write {args.rows:,} rows (medians of {args.rounds}; × plain)", table)
    if changes:
        base = tempfile.mkdtemp(prefix="madbench-base-")
        try:
            built = _build(dataset_rows, base)
            print(f"\nbuilt {dataset_rows:,} rows over 100 partitions in {built['wall']:.1f} s "
                  f"({built['files_total']} files, peak {built['rss'] / 2**20:.0f} MiB)")
            os.environ.update(BENCH_BASE=base, BENCH_CHANGE_ROWS=str(args.change_rows))
            samples = measure(__file__, changes, dataset_rows, args.rounds)
        finally:
            shutil.rmtree(base, ignore_errors=True)
        print(f"\n{args.change_rows:,} rows into {dataset_rows:,} rows over 100 partitions (medians of {args.rounds})")
        print(f"{'case':<34} {'wall s':>7} {'peak MiB':>9} {'written KiB':>12} {'new files':>10} {'partitions':>11} {'files':>7}")
        what = {"fresh": "materialize (an empty dataset)", "append": "append", "merge": "merge: updates in 3 partitions"}
        for case in changes:
            s = samples[case]
            extra = {k: sorted(v)[len(v) // 2] for k, v in s.extra.items()}
            print(f"{what[case]:<34} {s.wall:7.2f} {s.rss_mib:9.0f} {extra['bytes_written'] / 2**10:12,.0f} "
                  f"{extra['files_written']:10} {extra['partitions_written']:11} {extra['files_total']:7}")


if __name__ == "__main__":
    if not child_main(_cases()):
        main()
