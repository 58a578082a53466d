"""Bench: how fast and how lean is materializing to remote storage, next to local disk?

Materializes the standard workload (``workload.py``) as a parquet asset with parquet fragments
to local disk, to an SFTP server (asyncssh, via sshfs) and to S3 (moto server, via s3fs), both
on 127.0.0.1, then runs one projected + filtered query against each result. Every case runs in
its own child process, so its peak RSS (``VmHWM`` after materializing, before the query) is its
own; the servers live in this (parent) process, whose CPU time while a case runs is shown as
the server's. Cases alternate within each round; the table shows medians and every run. The
pyarrow floor writes the same rows to one local parquet file by hand.

    PYTHONPATH=. python benches/bench_remote.py                      # 1,000,000 rows, 1 round
    PYTHONPATH=. python benches/bench_remote.py --rows 200000 --rounds 3
    PYTHONPATH=. python benches/bench_remote.py --cases local,s3     # floor, local, sftp, s3
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: The environment as the bench was started: importing madstream here (for its version) names
#: Arrow's pool in this process's environment, which the floor's child must not inherit.
STARTED_ENV = dict(os.environ)
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "storage"), str(HERE)]

CHILD = r"""
import asyncio, json, os, resource, sys, time
sys.path[:0] = {paths!r}
from _harness import peak_rss
rows = {rows}

def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime

if {floor!r}:
    import pyarrow as pa, pyarrow.parquet as pq
    from workload import pages
    start, cpu0 = time.perf_counter(), cpu()
    writer = None
    for page in pages(rows):
        table = pa.Table.from_pylist(page)
        writer = writer or pq.ParquetWriter({floor!r}, table.schema)
        writer.write_table(table)
    writer.close()
    print(json.dumps({{"seconds": time.perf_counter() - start, "cpu": cpu() - cpu0,
                      "bytes": os.path.getsize({floor!r}), "peak_rss": peak_rss()}}))
    raise SystemExit
from madstream import asset, get_fs
from workload import apages

@asset("bench/rows.parquet", name="bench_rows", artifact_filetype="parquet")
async def bench_rows():
    async for page in apages(rows):
        yield page

async def main():
    start, cpu0 = time.perf_counter(), cpu()
    await bench_rows()
    seconds, used, peak = time.perf_counter() - start, cpu() - cpu0, peak_rss()
    fs = await get_fs()
    written, opened = fs.io.bytes_written, fs.io.files_opened
    size = int(fs.fs.du(""))  # everything stored: runs, view, records
    fs.io.reset()
    q0 = time.perf_counter()
    found = (await bench_rows.query("SELECT count(*), sum(amount) WHERE id < 10000")).fetchone()
    query = time.perf_counter() - q0
    assert found[0] == min(rows, 10000), found
    print(json.dumps({{"seconds": seconds, "cpu": used, "bytes": size, "written": written, "opened": opened,
                      "query_seconds": query, "query_fetched": fs.io.bytes_fetched, "peak_rss": peak}}))

asyncio.run(main())
"""


def run_case(rows: int, env: dict[str, str], floor: str = "") -> dict[str, Any]:
    code = CHILD.format(paths=sys.path[:3], rows=rows, floor=floor)
    server0 = _cpu()
    out = subprocess.run(
        [sys.executable, "-c", code], env={**STARTED_ENV, **env}, capture_output=True, text=True, check=False
    )
    if out.returncode:
        raise SystemExit(f"case failed:\n{out.stderr[-3000:]}")
    result = dict(json.loads(out.stdout.strip().splitlines()[-1]))
    result["server_cpu"] = _cpu() - server0  # the loopback servers' work for this case
    return result


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


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


def start_servers(prefix: str) -> tuple[Path, Any, Any]:
    """A temporary folder, an SFTP server serving a folder in it, and an S3 server; both on
    loopback, both closed by the caller."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from servers import S3Server, SFTPServer

    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    sftp = SFTPServer(tmp / "sftp")
    sftp.start()
    return tmp, sftp, S3Server()


def storage_env(backend: str, tag: str, tmp: Path, sftp: Any, s3: Any) -> dict[str, str]:
    """The environment pointing madstream at a new, empty storage ``tag`` on ``backend``."""
    if backend == "local":
        return {"FILESYSTEM_URL": f"file://{tmp / tag}"}
    if backend == "sftp":
        (tmp / "sftp" / tag).mkdir(parents=True)
        return {"FILESYSTEM_URL": sftp.url(tag), "FILESYSTEM_STORAGE_OPTIONS": json.dumps(sftp.options())}
    s3.make_bucket(tag)
    return {"FILESYSTEM_URL": f"s3://{tag}/run", "FILESYSTEM_STORAGE_OPTIONS": json.dumps(s3.options())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--cases", default="floor,local,sftp,s3")
    args = parser.parse_args()
    tmp, sftp, s3 = start_servers("bench-remote-")
    names = {"floor": "pyarrow floor (local)", "local": "local disk", "sftp": "SFTP (loopback)", "s3": "S3 (moto, loopback)"}
    chosen = [c.strip() for c in args.cases.split(",") if c.strip()]
    runs: dict[str, list[dict[str, Any]]] = {c: [] for c in chosen}
    print(f"bench_remote: {args.rows:,} workload rows → parquet result + parquet fragments, {args.rounds} round(s)")
    print(versions())
    try:
        for r in range(args.rounds):
            for case in chosen:
                if case == "floor":
                    env, floor = {}, str(tmp / f"floor{r}.parquet")
                else:
                    env, floor = storage_env(case, f"bench{r}", tmp, sftp, s3), ""
                runs[case].append(run_case(args.rows, env, floor))
                print(f"  round {r + 1} {case:6} {runs[case][-1]['seconds']:6.2f} s  "
                      f"{runs[case][-1]['peak_rss'] / 2**20:5.0f} MiB  load {os.getloadavg()[0]:.1f}",
                      file=sys.stderr, flush=True)
    finally:
        sftp.close()
        s3.close()
    _table(args.rows, {names[c]: runs[c] for c in chosen}, names["local"])


def _table(rows: int, runs: dict[str, list[dict[str, Any]]], local: str) -> None:
    def med(case: str, key: str) -> float:
        return statistics.median(run.get(key, 0) for run in runs[case])

    header = (f"{'case':22} {'wall s':>7} {'× local':>7} {'cpu s':>6} {'server cpu s':>12} {'peak MiB':>8} "
              f"{'sent MB':>8} {'files':>6} {'stored MB':>9} {'query s':>7} {'fetched MB':>10}  runs")
    print(header)
    print("-" * len(header))
    for case in runs:
        ratio = f"{med(case, 'seconds') / med(local, 'seconds'):7.2f}" if local in runs else ""
        remote = med(case, "opened") > 0
        print(
            f"{case:22} {med(case, 'seconds'):7.2f} {ratio:>7} {med(case, 'cpu'):6.2f} {med(case, 'server_cpu'):12.2f} "
            f"{med(case, 'peak_rss') / 2**20:8.0f} "
            + (f"{med(case, 'written') / 1e6:8.1f} {med(case, 'opened'):6.0f}" if remote else f"{'':>8} {'':>6}")
            + f" {med(case, 'bytes') / 1e6:9.1f} "
            + (f"{med(case, 'query_seconds'):7.2f} " if "query_seconds" in runs[case][0] else f"{'':>7} ")
            + (f"{med(case, 'query_fetched') / 1e6:10.2f}" if remote else f"{'':>10}")
            + "  [" + " ".join(f"{run['seconds']:.2f}" for run in runs[case]) + "]"
        )
    print(f"{rows:,} rows; medians over rounds. sent: bytes uploaded through remote file handles (server-side copies "
          "of the view not included), files: remote files written; stored: everything left on the storage (runs, "
          "view, records); server cpu: the loopback servers' CPU (this process) during the case.")
    print("query: SELECT count(*), sum(amount) WHERE id < 10000 (fetched: bytes read over the network, remote only)")


if __name__ == "__main__":
    main()
