"""`make bench`: every bench in one run, saved as JSON, then the tables and the chart.

Steps, each in fresh child processes (this driver imports neither pyarrow nor madstream, so it
adds nothing to what the children measure):

- speed: floor vs madstream, settings (a) parquet and (b) default json fragments (bench_materialize);
- cores: the same pinned with ``taskset -c 0`` and ``taskset -c 0,1``, alternating, for the speedup;
- memory: peak RSS at each of ``--memory-rows`` (the speed step's row count is reused);
- peers: mad-prefect and dlt in their own venvs (benches/peers/bench_peers.py);
- query and import: bench_query.py and bench_import.py.

The run is written to ``benches/results/run-<date>-<commit>.json``; ``report.py`` then writes
``benches/results/summary.md`` and ``benches/chart.svg`` from it.

    python benches/bench_all.py            # full size: ~20-40 min on 2 cores
    python benches/bench_all.py --quick    # smoke check: ~1-2 min, writes to .tmp/bench-quick/
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(HERE / "peers")]

from _harness import MIB, Sample, measure  # noqa: E402

MATERIALIZE = str(HERE / "bench_materialize.py")
SPEED_CASES = ["floor-a", "madstream-a", "floor-b", "madstream-b"]
#: the floor is single-threaded; madstream's stages overlap, so only it can use a second core
CPUSETS = {"1 core": "0", "2 cores": "0,1"}


def machine() -> dict[str, Any]:
    """Where and with what the run was measured (versions are read by a child, to keep this process lean)."""
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown")
    probe = ("import json, platform, duckdb, orjson, polars, pyarrow; print(json.dumps({'python': platform.python_version(), "
             "'pyarrow': pyarrow.__version__, 'duckdb': duckdb.__version__, 'polars': polars.__version__, 'orjson': orjson.__version__}))")
    found = json.loads(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout)
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no", "--", "madstream"))
    return {"cpu": model, "cores": os.cpu_count(), "machine": platform.machine(), "kernel": platform.release(),
            **found, "madstream": commit + ("-dirty" if dirty else ""), "date": _now(), "load_start": os.getloadavg()}


def _git(*args: str) -> str:
    out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return out.stdout.strip()


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def sample_dict(s: Sample) -> dict[str, Any]:
    return {"rows": s.rows, "wall_s": s.wall, "rows_per_s": s.rows_per_s, "peak_mib": s.rss_mib, "cpu_s": s.cpu,
            "walls": s.walls, "peaks_mib": [r / MIB for r in s.rsss], "cpus": s.extra.get("cpu", [])}


def speed(rows: int, rounds: int) -> dict[str, Any]:
    samples = measure(MATERIALIZE, SPEED_CASES, rows, rounds)
    return {"rows": rows, "rounds": rounds, "cases": {c: sample_dict(s) for c, s in samples.items()}}


def cores(rows: int, rounds: int) -> dict[str, Any]:
    """Each round runs every case on 1 core, then on 2 cores, so drift hits both cpusets alike."""
    if shutil.which("taskset") is None or (os.cpu_count() or 1) < 2:
        return {"skipped": "needs taskset and at least 2 cores"}
    merged: dict[str, dict[str, Sample]] = {name: {} for name in CPUSETS}
    for _ in range(rounds):
        for name, cpus in CPUSETS.items():
            for case, s in measure(MATERIALIZE, SPEED_CASES, rows, 1, prefix=["taskset", "-c", cpus]).items():
                into = merged[name].setdefault(case, Sample(case, rows))
                into.walls += s.walls
                into.rsss += s.rsss
                into.extra.setdefault("cpu", []).extend(s.extra.get("cpu", []))
    return {"rows": rows, "rounds": rounds, "cpusets": CPUSETS,
            "cases": {name: {c: sample_dict(s) for c, s in by_case.items()} for name, by_case in merged.items()}}


def memory(sizes: list[int], reuse: dict[str, Any]) -> dict[str, Any]:
    points: dict[str, dict[str, Any]] = {c: {} for c in SPEED_CASES}
    for n in sizes:
        if n == reuse["rows"]:
            found = reuse["cases"]
        else:
            found = {c: sample_dict(s) for c, s in measure(MATERIALIZE, SPEED_CASES, n, 1).items()}
        for case in SPEED_CASES:
            points[case][str(n)] = found[case]
    return {"sizes": sizes, "cases": points}


def peers(rows: int, repeat: int) -> dict[str, Any]:
    import bench_peers

    runs = bench_peers.collect(rows, repeat)
    return {"rows": rows, "repeat": repeat, "versions": {t: pins for t, pins in bench_peers.PEERS.items()},
            "runs": [{"tool": tool, "variant": variant, "results": results} for (tool, variant), results in runs.items()]}


def _script_json(script: str, *args: str) -> dict[str, Any]:
    """Run one bench script with ``--json`` and return what it wrote."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), str(HERE), env.get("PYTHONPATH")) if p)
    with tempfile.TemporaryDirectory(prefix="madbench-all-") as work:
        out = Path(work) / "figures.json"
        proc = subprocess.run([sys.executable, str(HERE / script), *args, "--json", str(out)],
                              capture_output=True, text=True, env=env, check=False)
        if proc.returncode or not out.exists():
            raise RuntimeError(f"{script} failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return dict(json.loads(out.read_text()))


def _step(run: dict[str, Any], name: str, fn: Callable[[], dict[str, Any]]) -> None:
    """Run one step, keeping the load average around it (the machine is shared; figures are noisy)."""
    print(f"== {name} (load {os.getloadavg()[0]:.2f})", file=sys.stderr, flush=True)
    started, load = time.perf_counter(), os.getloadavg()
    figures = fn()
    figures.update(load_before=load, load_after=os.getloadavg(), took_s=time.perf_counter() - started)
    run[name] = figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one round; output under .tmp/bench-quick/")
    parser.add_argument("--rows", type=int, help="rows for speed and cores (default 1M; quick 100k)")
    parser.add_argument("--rounds", type=int, help="rounds for speed and cores (default 3; quick 1)")
    parser.add_argument("--memory-rows", help="comma-separated sizes (default 100000,1000000,10000000)")
    parser.add_argument("--peer-rows", type=int, help="rows for the peers (default 1M; quick 20k)")
    parser.add_argument("--peer-repeat", type=int, help="interleaved peer runs (default 3; quick 1)")
    parser.add_argument("--skip", default="", help="comma-separated steps to leave out: speed,cores,memory,peers,query,imports")
    parser.add_argument("--out", type=Path, help="folder for the run's JSON and summary.md (default benches/results)")
    parser.add_argument("--chart", type=Path, help="the SVG chart (default benches/chart.svg)")
    args = parser.parse_args()
    q = args.quick
    rows = args.rows or (100_000 if q else 1_000_000)
    rounds = args.rounds or (1 if q else 3)
    sizes = [int(n) for n in (args.memory_rows or ("20000,100000,300000" if q else "100000,1000000,10000000")).split(",")]
    out = args.out or (ROOT / ".tmp" / "bench-quick" if q else HERE / "results")
    # a run elsewhere than benches/results keeps its chart next to its tables, not over the committed one
    chart = args.chart or (HERE / "chart.svg" if out == HERE / "results" else out / "chart.svg")
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}

    run: dict[str, Any] = {"machine": machine(), "quick": q}
    steps: dict[str, Callable[[], dict[str, Any]]] = {
        "speed": lambda: speed(rows, rounds),
        "cores": lambda: cores(rows, rounds),
        "memory": lambda: memory(sizes, run.get("speed") or {"rows": None}),
        "peers": lambda: peers(args.peer_rows or (20_000 if q else 1_000_000), args.peer_repeat or (1 if q else 3)),
        "query": lambda: _script_json("bench_query.py", "--rows", str(rows), "--reps", "3" if q else "15"),
        "imports": lambda: _script_json("bench_import.py", "--rounds", "2" if q else "7"),
    }
    for name, fn in steps.items():
        if name not in skip:
            _step(run, name, fn)
    run["machine"]["load_end"] = os.getloadavg()
    out.mkdir(parents=True, exist_ok=True)
    stamp = run["machine"]["date"].replace(" UTC", "").replace(" ", "T").replace(":", "")
    path = out / f"run-{stamp}-{run['machine']['madstream']}.json"
    path.write_text(json.dumps(run, indent=1) + "\n")
    print(f"wrote {path}", file=sys.stderr)

    import report

    report.write(run, out / "summary.md", chart)
    print(f"wrote {out / 'summary.md'} and {chart}", file=sys.stderr)


if __name__ == "__main__":
    main()
