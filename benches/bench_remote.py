"""Bench: how fast and how lean is materializing to remote storage, next to local disk?

Materializes the standard workload (``workload.py``) as a parquet asset with parquet fragments
to local disk, to an SFTP server (asyncssh, via sshfs) and to S3 (moto server, via s3fs), both
on 127.0.0.1, then runs one projected + filtered query against each result. Every case runs in
its own child process, so its peak RSS is its own; the servers live in this (parent) process.
The pyarrow floor writes the same rows to one local parquet file by hand.

    PYTHONPATH=. python benches/bench_remote.py            # 1,000,000 rows
    PYTHONPATH=. python benches/bench_remote.py --rows 200000
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "storage"), str(HERE)]

CHILD = r"""
import asyncio, json, resource, sys, time
sys.path[:0] = {paths!r}
rows = {rows}
if {floor!r}:
    import pyarrow as pa, pyarrow.parquet as pq
    from workload import pages
    start = time.perf_counter()
    writer = None
    for page in pages(rows):
        table = pa.Table.from_pylist(page)
        writer = writer or pq.ParquetWriter({floor!r}, table.schema)
        writer.write_table(table)
    writer.close()
    seconds = time.perf_counter() - start
    import os
    print(json.dumps({{"seconds": seconds, "bytes": os.path.getsize({floor!r}),
                      "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}}))
    raise SystemExit
from madstream import asset, get_fs
from workload import apages

@asset("bench/rows.parquet", name="bench_rows", artifact_filetype="parquet")
async def bench_rows():
    async for page in apages(rows):
        yield page

async def main():
    start = time.perf_counter()
    await bench_rows()
    seconds = time.perf_counter() - start
    fs = await get_fs()
    size = int(fs.fs.du("bench"))  # the result and its fragments
    fs.io.reset()
    q0 = time.perf_counter()
    found = (await bench_rows.query("SELECT count(*), sum(amount) WHERE id < 10000")).fetchone()
    query = time.perf_counter() - q0
    assert found[0] == min(rows, 10000), found
    print(json.dumps({{"seconds": seconds, "bytes": size, "query_seconds": query,
                      "query_fetched": fs.io.bytes_fetched,
                      "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}}))

asyncio.run(main())
"""


def run_case(rows: int, env: dict[str, str], floor: str = "") -> dict[str, Any]:
    code = CHILD.format(paths=sys.path[:3], rows=rows, floor=floor)
    out = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True, check=False
    )
    if out.returncode:
        raise SystemExit(f"case failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def versions() -> str:
    import asyncssh
    import duckdb
    import fsspec
    import moto
    import pyarrow
    import s3fs

    import madstream

    parts = {"madstream": madstream.__version__, "pyarrow": pyarrow.__version__, "duckdb": duckdb.__version__,
             "fsspec": fsspec.__version__, "s3fs": s3fs.__version__, "asyncssh": asyncssh.__version__,
             "moto": moto.__version__, "python": sys.version.split()[0]}
    return ", ".join(f"{k} {v}" for k, v in parts.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from servers import S3Server, SFTPServer

    tmp = Path(tempfile.mkdtemp(prefix="bench-remote-"))
    sftp = SFTPServer(tmp / "sftp")
    (tmp / "sftp" / "data").mkdir(parents=True)
    sftp.start()
    s3 = S3Server()
    s3.make_bucket("bench")
    cases = {
        "pyarrow floor (local)": ({}, str(tmp / "floor.parquet")),
        "local disk": ({"FILESYSTEM_URL": f"file://{tmp / 'local'}"}, ""),
        "SFTP (loopback)": ({"FILESYSTEM_URL": sftp.url("data"),
                             "FILESYSTEM_STORAGE_OPTIONS": json.dumps(sftp.options())}, ""),
        "S3 (moto, loopback)": ({"FILESYSTEM_URL": "s3://bench/run",
                                 "FILESYSTEM_STORAGE_OPTIONS": json.dumps(s3.options())}, ""),
    }
    print(f"bench_remote: {args.rows:,} workload rows → parquet result + parquet fragments")
    print(versions())
    header = f"{'case':24} {'seconds':>8} {'rows/s':>10} {'MB/s':>7} {'peak RSS':>9} {'wrote MB':>8} {'query':>7} {'fetched':>8}"
    print(header)
    print("-" * len(header))
    try:
        for name, (env, floor) in cases.items():
            result = run_case(args.rows, env, floor)
            mb = result["bytes"] / 1e6
            fetched = result.get("query_fetched")
            print(
                f"{name:24} {result['seconds']:8.2f} {args.rows / result['seconds']:10,.0f} "
                f"{mb / result['seconds']:7.1f} {result['peak_rss'] / 2**20:7.0f}MB {mb:8.1f} "
                + (f"{result['query_seconds']:6.2f}s {fetched / 1e6:6.2f}MB" if "query_seconds" in result else "")
            )
    finally:
        sftp.close()
        s3.close()
    print("wrote: result + fragments (the floor writes the result only); MB/s = wrote / seconds")
    print("query: SELECT count(*), sum(amount) WHERE id < 10000 (fetched: bytes read over the network, remote only)")


if __name__ == "__main__":
    time.sleep(0)
    main()
