"""Import time of ``madstream`` (budget 0.2 s), and that it imports none of the heavy libraries
(pyarrow, DuckDB, fsspec, numpy, pandas, polars, pydantic, prefect): running, reading or querying
an asset imports them, on first use.

Each import runs in a fresh interpreter; ``import pyarrow`` alone is timed alongside, for scale:
the first run, read or query of an asset pays it (and DuckDB's, fsspec's, ...) on top.

    python benches/bench_import.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from typing import TypedDict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import MIB, versions  # noqa: E402

BUDGET_S = 0.2
HEAVY = ("pyarrow", "duckdb", "fsspec", "numpy", "pandas", "polars", "pydantic", "prefect")
_PROBE = """
import json, sys, time
from _harness import peak_rss
t = time.perf_counter()
import {module}
dt = time.perf_counter() - t
heavy = sorted({{m.split(".")[0] for m in sys.modules}} & {heavy} - {{"{module}"}})
print(json.dumps({{"s": dt, "rss": peak_rss(), "heavy": heavy}}))
"""


class Probe(TypedDict):
    s: float
    rss: int
    heavy: list[str]


def probe(module: str, env: dict[str, str], root: str) -> Probe:
    """Seconds to import ``module`` in a fresh interpreter, its peak RSS, and heavy modules it pulled in."""
    # Run in this checkout: `python -c` puts the working directory first on sys.path, so another
    # folder's madstream would be the one timed.
    out = subprocess.run([sys.executable, "-c", _PROBE.format(module=module, heavy=set(HEAVY))], env=env,
                         cwd=root, capture_output=True, text=True, check=True)
    found = json.loads(out.stdout.strip().splitlines()[-1])
    return Probe(s=float(found["s"]), rss=int(found["rss"]), heavy=list(found["heavy"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", help="also write the figures to this JSON file (benches/bench_all.py reads it)")
    args = parser.parse_args()
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    here = os.path.join(root, "benches")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, here, env.get("PYTHONPATH")) if p)
    print(f"bench_import: {args.rounds} fresh interpreters each; {versions()}")
    runs: dict[str, list[Probe]] = {"pyarrow": [], "madstream": []}
    for _ in range(args.rounds):
        for module in runs:
            runs[module].append(probe(module, env, root))
    print(f"\n{'import':<12} {'median s':>9} {'peak MiB':>9}  also imported")
    for module, rs in runs.items():
        s = statistics.median(r["s"] for r in rs)
        rss = statistics.median(r["rss"] for r in rs) / MIB
        print(f"{module:<12} {s:9.3f} {rss:9.0f}  {', '.join(rs[0]['heavy']) or '-'}")
    ms = runs["madstream"]
    s = statistics.median(r["s"] for r in ms)
    clean = not ms[0]["heavy"]
    verdict = "ok" if s <= BUDGET_S and clean else "over budget" if clean else "heavy libraries imported"
    print(f"\nmadstream import {s:.3f} s (budget {BUDGET_S} s), heavy libraries imported: "
          f"{', '.join(ms[0]['heavy']) or 'none'} -> {verdict}")
    if args.json:
        figures = {m: {"median_s": statistics.median(r["s"] for r in rs), "peak_mib": statistics.median(r["rss"] for r in rs) / MIB,
                       "also_imported": rs[0]["heavy"]} for m, rs in runs.items()}
        with open(args.json, "w") as fh:
            json.dump({"rounds": args.rounds, "budget_s": BUDGET_S, **figures}, fh)


if __name__ == "__main__":
    main()
