"""Peers: the standard workload through madstream, mad-prefect 2.3.0rc8 and dlt, side by side.

Each peer is installed in a virtualenv of its own under .tmp/peers/ (created on first run), and
every measurement runs in a fresh process that reports its own wall time and peak RSS.
Never part of `make test`. Usage:

    .venv/bin/python benches/peers/bench_peers.py [--rows 1000000] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PEERS = {
    "mad-prefect": ["mad-prefect==2.3.0rc8"],
    "dlt": ["dlt[parquet]==1.31.0"],
}
RUNS = [
    ("madstream", "parquet"),
    ("madstream", "json"),
    ("mad-prefect", "parquet"),
    ("mad-prefect", "json"),
    ("dlt", "parquet"),
]


def _python(tool: str) -> str:
    if tool == "madstream":
        return sys.executable
    home = ROOT / ".tmp" / "peers" / tool
    python = home / "bin" / "python"
    if not python.exists():
        print(f"installing {tool} into {home} ...", flush=True)
        venv.create(home, with_pip=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *PEERS[tool]], check=True)
    return str(python)


def _run(tool: str, variant: str, rows: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix=f"peer-{tool}-") as work:
        (Path(work) / "prefect-home").mkdir()
        out = subprocess.run(
            [_python(tool), str(HERE / "run_peer.py"), tool, variant, str(rows), work],
            capture_output=True, text=True, check=True, cwd=work,
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def collect(rows: int, repeat: int) -> dict[tuple[str, str], list[dict[str, float]]]:
    """Every (tool, artifacts) run ``repeat`` times, interleaved so machine noise hits every tool alike."""
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    for _ in range(repeat):
        for tool, variant in RUNS:
            results.setdefault((tool, variant), []).append(_run(tool, variant, rows))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    results = collect(args.rows, args.repeat)
    base = {v: statistics.median(r["materialize_s"] for r in results[("madstream", v)]) for v in ("parquet", "json")}
    print(f"\n{args.rows:,} rows, median of {args.repeat}; python {sys.version.split()[0]}")
    print(f"{'tool':<12} {'artifacts':<9} {'materialize s':>13} {'rows/s':>10} {'query s':>8} {'peak MiB':>9} {'vs madstream':>13}")
    for (tool, variant), runs in results.items():
        seconds = statistics.median(r["materialize_s"] for r in runs)
        query = statistics.median(r["query_s"] for r in runs)
        peak = max(r["peak_mib"] for r in runs)
        ratio = seconds / base["parquet" if tool == "dlt" else variant]
        print(f"{tool:<12} {variant:<9} {seconds:>13.2f} {args.rows / seconds:>10,.0f} {query:>8.2f} {peak:>9.0f} {ratio:>12.1f}x")


if __name__ == "__main__":
    main()
