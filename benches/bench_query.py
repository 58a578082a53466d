"""Query a materialized asset: ``asset.query(...).pl()`` and ``asset.stream(...)`` vs raw DuckDB.

The workload is materialized once (default settings: JSON fragments, parquet result); then, in
the same process, the group-by (``address.city``: count, avg(amount)) runs through madstream's
``query().pl()``, through ``stream()`` (Polars frames, concatenated), and through plain DuckDB
``read_parquet`` on the same file, alternating, several times each. The extract function must
not run again (no re-materialization); the bench fails if it does.

    python benches/bench_query.py [--rows 1000000] [--reps 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import MIB, peak_rss, versions  # noqa: E402

QUERY = "SELECT address.city AS city, count(*) AS n, avg(amount) AS avg_amount GROUP BY ALL ORDER BY city"
RAW = "SELECT address.city AS city, count(*) AS n, avg(amount) AS avg_amount FROM read_parquet({path}) GROUP BY ALL ORDER BY city"
BUDGET = 1.2


async def run(rows: int, reps: int) -> dict[str, Any]:
    """Print the table; return the medians (seconds) by path, the ratio and the peak RSS."""
    os.environ["FILESYSTEM_URL"] = f"file://{tempfile.mkdtemp(prefix='madbench-query-')}"
    import duckdb
    import polars as pl
    from workload import apages

    from madstream import asset

    calls = 0

    @asset("bench/orders.parquet", name="orders")
    async def orders() -> Any:
        nonlocal calls
        calls += 1
        async for page in apages(rows):
            yield page

    started = time.perf_counter()
    artifact = await orders()
    print(f"materialized {rows:,} rows (json fragments + parquet result) in {time.perf_counter() - started:.2f} s")
    root = os.environ["FILESYSTEM_URL"].removeprefix("file://")
    path = os.path.join(root, artifact.path)
    con = duckdb.connect()
    raw = RAW.format(path="'" + path.replace("'", "''") + "'")

    async def via_query() -> Any:
        return (await orders.query(QUERY)).pl()

    async def via_stream() -> Any:
        return pl.concat([frame async for frame in orders.stream(QUERY)])

    async def via_duckdb() -> Any:
        return con.sql(raw).pl()

    cases: dict[str, Callable[[], Awaitable[Any]]] = {
        "raw duckdb read_parquet": via_duckdb, "asset.query(...).pl()": via_query, "asset.stream(...)": via_stream,
    }
    times: dict[str, list[float]] = {k: [] for k in cases}
    results: dict[str, Any] = {}
    for _ in range(reps):
        for name, fn in cases.items():
            t = time.perf_counter()
            results[name] = await fn()
            times[name].append(time.perf_counter() - t)
    expected = results["raw duckdb read_parquet"]
    from polars.testing import assert_frame_equal

    for frame in results.values():  # averages may differ in the last bits (parallel sums)
        assert_frame_equal(frame, expected, check_exact=False)
    assert calls == 1, f"the asset was materialized {calls} times"

    floor = statistics.median(times["raw duckdb read_parquet"])
    print(f"\ngroup-by address.city over {rows:,} rows, medians of {reps} (peak RSS {peak_rss() / MIB:.0f} MiB)")
    print(f"{'path':<26} {'median ms':>10} {'rows/s':>14} {'× duckdb':>9}")
    for name, ts in times.items():
        m = statistics.median(ts)
        print(f"{name:<26} {m * 1e3:10.1f} {rows / m:14,.0f} {m / floor:9.2f}")
    ratio = statistics.median(times["asset.query(...).pl()"]) / floor
    print(f"\nquery().pl() / raw duckdb = {ratio:.2f} (budget {BUDGET}); materializations: {calls}")
    print(expected)
    return {"rows": rows, "reps": reps, "median_s": {k: statistics.median(v) for k, v in times.items()},
            "query_vs_duckdb": ratio, "peak_mib": peak_rss() / MIB, "materializations": calls}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--json", help="also write the figures to this JSON file (benches/bench_all.py reads it)")
    args = parser.parse_args()
    print(f"bench_query: {versions()}")
    figures = asyncio.run(run(args.rows, args.reps))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(figures, fh)


if __name__ == "__main__":
    main()
