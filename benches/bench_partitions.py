"""Partitioned writes, appends and merges against the plain run, in the same rounds.

Cases (each in a fresh subprocess; wall excludes interpreter start):

* ``plain``: the standard workload, default JSON fragments + parquet result.
* ``partitioned``: the same rows, ``partition_by=["bucket"]`` over 30 values (the page's
  ``bucket = id % 30`` is added in both cases, so the extract costs the same).
* ``append``: a dataset of ``rows`` rows over 100 partitions is built first (not timed), then
  one run appends ``rows // 10`` more: the time and the bytes the append wrote.
* ``merge``: the same dataset, then one run updates every row of 3 partitions (3% of the
  rows): the time, the bytes written and how many files were rewritten.

    python benches/bench_partitions.py [--rows 1000000] [--rounds 3] [--cases plain,partitioned,append,merge]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
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


def run_change(rows: int, workdir: str, mode: str) -> dict[str, Any]:
    """Build ``rows`` rows over 100 partitions, then time one append or merge of ``rows // 10``."""
    os.environ["FILESYSTEM_URL"] = f"file://{workdir}"
    import pyarrow as pa

    from madstream import asset

    @asset("bench/events.parquet", name="events", write_mode=mode, partition_by=["part"],
           **({"primary_key": "id"} if mode == "merge" else {}))
    async def events(start: int, count: int, touched: int = 100) -> Any:
        # Row ``id`` lives in partition ``id % 100``; with ``touched`` < 100 only the rows of the
        # first ``touched`` partitions are yielded (a merge's updates keep their partition).
        step = 100_000
        for first in range(start, start + count, step):
            ids = pa.array([i for i in range(first, min(first + step, start + count)) if i % 100 < touched], pa.int64())
            yield pa.table({"id": ids, "part": pa.compute.remainder(ids, 100), "v": pa.compute.multiply(ids, 2)})

    asyncio.run(events(0, rows))
    before = {e.file for e in asyncio.run(events.with_arguments(0, 0).versions())[-1].results}
    if mode == "append":
        call = events.with_arguments(rows, rows // 10)
    else:  # every row of partitions 0, 1 and 2 updated: three partitions' files rewritten
        call = events.with_arguments(0, rows, 3)
    result = timed(lambda: asyncio.run(call()))
    after = asyncio.run(events.with_arguments(0, 0).versions())[-1]
    new = [e for e in after.results if e.file not in before]
    result["bytes_written"] = sum(e.size for e in new)
    result["files_written"] = len(new)
    result["files_total"] = len(after.results)
    return result


def _cases() -> dict[str, Any]:
    return {
        "plain": lambda rows, wd: run_write(rows, wd, False),
        "partitioned": lambda rows, wd: run_write(rows, wd, True),
        "append": lambda rows, wd: run_change(rows, wd, "append"),
        "merge": lambda rows, wd: run_change(rows, wd, "merge"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cases", default="plain,partitioned,append,merge")
    args = parser.parse_args()
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    print(f"bench_partitions: {args.rows:,} rows, {args.rounds} rounds; {versions()}")
    samples: dict[str, Sample] = measure(__file__, cases, args.rows, args.rounds)
    table: list[tuple[str, Sample, Sample | None]] = []
    if "plain" in samples:
        table.append(("plain (json + parquet)", samples["plain"], None))
    if "partitioned" in samples:
        table.append(("partitioned, 30 buckets", samples["partitioned"], samples.get("plain")))
    print_table(f"write {args.rows:,} rows (medians of {args.rounds}; × plain)", table)
    for case in ("append", "merge"):
        if case in samples:
            s = samples[case]
            extra = {k: sorted(v)[len(v) // 2] for k, v in s.extra.items()}
            what = (f"append of {args.rows // 10:,} rows" if case == "append"
                    else f"merge of {args.rows * 3 // 100:,} updates in 3 partitions")
            print(f"{what} into {args.rows:,} rows over 100 partitions: {s.wall:.2f} s, "
                  f"{extra.get('bytes_written', 0) / 2**10:,.0f} KiB in {extra.get('files_written')} new file(s) "
                  f"of {extra.get('files_total')}, peak {s.rss_mib:.0f} MiB")


if __name__ == "__main__":
    if not child_main(_cases()):
        main()
