"""Bench: reading committed files, DuckDB's own parquet reader against a pyarrow dataset.

One parquet result of the standard workload (``workload.py``) is materialized on local disk,
on an SFTP server and on S3 (moto), both on 127.0.0.1. Two queries then read it two ways:

- **madstream**: ``asset.query(...)``, i.e. DuckDB's ``read_parquet`` over the committed files,
  by native path on local disk and through the ``mad`` filesystem (fsspec) when remote;
- **pyarrow dataset**: ``pyarrow.dataset.dataset(files, filesystem=PyFileSystem(FSSpecHandler(fs)))``
  over the same fsspec filesystem (the store's, so the same file handles and byte counters),
  registered on a DuckDB connection as a view (DuckDB pushes projection and filters into the
  dataset's scanner; batches cross zero-copy).

Queries: a full scan (``count(*)`` and a sum over every column) and a selective one (two columns
of the one row with a given ``id``). Every (backend, way) runs in a fresh process: ``cold`` is
the first query of the process (connection, footers and all), ``warm`` the median of the next
``--reps``. ``fetched`` is what crossed the network for the cold query.

    PYTHONPATH=. python benches/bench_reading.py                   # 1,000,000 rows, 3 warm reps
    PYTHONPATH=. python benches/bench_reading.py --rows 200000 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "storage"), str(HERE)]

from bench_remote import start_servers, storage_env, versions  # noqa: E402

#: Every column read: numbers summed, text and lists by length, the struct by its leaves.
FULL = ("SELECT count(*), sum(id), sum(amount), sum(score), sum(active::INT), max(created_at), sum(length(uuid)), "
        "sum(length(name)), sum(length(email)), sum(len(tags)), sum(length(address.city)), "
        "sum(length(address.zip)), sum(address.geo.lat), sum(address.geo.lon)")
SELECTIVE = "SELECT id, amount WHERE id = {id}"
QUERIES = {"full scan": FULL, "selective": SELECTIVE}

CHILD = r"""
import asyncio, json, statistics, sys, time
sys.path[:0] = {paths!r}
from madstream import asset, get_fs
from workload import apages
rows, way, reps, setup = {rows}, {way!r}, {reps}, {setup!r}

@asset("bench/rows.parquet", name="bench_rows", artifact_filetype="parquet")
async def bench_rows():
    async for page in apages(rows):
        yield page

def same(rows):
    # Float sums differ in their last digits with the order threads add them in.
    return repr([tuple(float(f"{{v:.9g}}") if isinstance(v, float) else v for v in row) for row in rows])

def with_from(sql, table):
    head, _, tail = sql.partition(" WHERE ")
    return f"{{head}} FROM {{table}}" + (f" WHERE {{tail}}" if tail else "")

async def main():
    if setup:
        await bench_rows()
        return
    fs = await get_fs()
    files = [f.file for f in (await bench_rows.versions())[-1].results]
    out = {{}}
    for label, sql in {queries!r}.items():
        sql = sql.format(id=rows // 2 + 7)
        times, fetched, answer = [], None, None
        for rep in range(reps + 1):
            fs.io.reset()
            start = time.perf_counter()
            if way == "madstream":
                answer = (await bench_rows.query(sql, version=1)).fetchall()
            elif way == "duckdb read_parquet":
                answer = await asyncio.to_thread(scan_files, fs, files, sql)
            else:
                answer = await asyncio.to_thread(scan_dataset, fs, files, with_from(sql, "rows"))
            times.append(time.perf_counter() - start)
            fetched = fs.io.bytes_fetched if fetched is None else fetched
        out[label] = {{"cold": times[0], "warm": statistics.median(times[1:]) if reps else times[0],
                      "fetched": fetched, "warm_fetched": fs.io.bytes_fetched, "answer": same(answer)}}
    print(json.dumps(out))

_cached = {{}}

def scan_files(fs, files, sql):
    import duckdb
    from madstream.query.mad import register_store
    if not _cached:
        con = duckdb.connect()
        if fs.native(files[0]) is None:
            register_store(con, "madbench", fs)
        _cached.update(con=con)
    locations = [fs.native(f) or f"madbench://{{f}}" for f in files]
    source = "read_parquet(" + repr(locations) + ")"
    return _cached["con"].execute(with_from(sql, source)).fetchall()

def scan_dataset(fs, files, sql):
    import duckdb, pyarrow.dataset as ds
    from pyarrow.fs import FSSpecHandler, PyFileSystem
    from madstream.query.mad import StoreFileSystem
    if not _cached:  # one dataset and connection per process, as madstream keeps its connection
        if fs.native(files[0]) is not None:  # local disk: native paths, as DuckDB reads them
            dataset = ds.dataset([fs.native(f) for f in files], format="parquet")
        else:
            dataset = ds.dataset(files, format="parquet", filesystem=PyFileSystem(FSSpecHandler(StoreFileSystem(fs))))
        con = duckdb.connect()
        con.register("rows", dataset)
        _cached.update(con=con, dataset=dataset)
    return _cached["con"].execute(sql).fetchall()

asyncio.run(main())
"""


def run_child(rows: int, way: str, reps: int, env: dict[str, str], *, setup: bool = False) -> dict[str, Any]:
    code = CHILD.format(paths=sys.path[:3], rows=rows, way=way, reps=reps, setup=setup, queries=QUERIES)
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(f"{way} failed:\n{out.stderr[-3000:]}")
    return {} if setup else dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--backends", default="local,sftp,s3")
    args = parser.parse_args()
    tmp, sftp, s3 = start_servers("bench-reading-")
    envs = {backend: storage_env(backend, "reading", tmp, sftp, s3) for backend in ("local", "sftp", "s3")}
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    ways = ("madstream", "duckdb read_parquet", "pyarrow dataset")
    found: dict[tuple[str, str], list[dict[str, Any]]] = {(b, w): [] for b in backends for w in ways}
    print(f"bench_reading: {args.rows:,} rows, one parquet result; {args.rounds} round(s), {args.reps} warm reps")
    print(versions())
    try:
        for backend in backends:
            run_child(args.rows, "madstream", 0, envs[backend], setup=True)
        for r in range(args.rounds):
            for backend in backends:
                for way in ways:
                    found[backend, way].append(run_child(args.rows, way, args.reps, envs[backend]))
                    print(f"  round {r + 1} {backend:5} {way:16} load {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
    finally:
        sftp.close()
        s3.close()
    _table(found, backends, ways)


def _table(found: dict[tuple[str, str], list[dict[str, Any]]], backends: list[str], ways: tuple[str, ...]) -> None:
    header = (f"{'backend':7} {'query':10} {'way':19} {'cold s':>7} {'warm s':>7} {'fetched MB':>10} {'warm MB':>8}"
              f"  {'warm × madstream':>16}")
    print(header)
    print("-" * len(header))
    for backend in backends:
        for label in QUERIES:
            base = None
            answers = set()
            for way in ways:
                runs = [run[label] for run in found[backend, way]]
                cold = statistics.median(r["cold"] for r in runs)
                warm = statistics.median(r["warm"] for r in runs)
                fetched = statistics.median(r["fetched"] for r in runs) / 1e6
                warm_fetched = statistics.median(r["warm_fetched"] for r in runs) / 1e6
                answers.update(r["answer"] for r in runs)
                base = warm if base is None else base
                print(f"{backend:7} {label:10} {way:19} {cold:7.3f} {warm:7.3f} "
                      + (f"{fetched:10.2f} {warm_fetched:8.2f}" if backend != "local" else f"{'':>10} {'':>8}")
                      + f"  {warm / base:16.2f}")
            if len(answers) != 1:
                print(f"  !! the ways disagree on {label}: {sorted(answers)}")
    print("cold: first query of a fresh process; warm: median of the next reps; fetched / warm MB: bytes read over")
    print("the network by the cold query / the last warm one (remote only). Medians over rounds.")


if __name__ == "__main__":
    main()
