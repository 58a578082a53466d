"""Peak RSS of materializing the workload at 1M and 5M rows: memory must not grow with rows.

Each measurement is a fresh subprocess (the cases of ``bench_materialize.py``), so the peak is
that run's alone. The floor is measured alongside, for reference.

    python benches/bench_memory.py [--rows 1000000,5000000] [--rounds 1] [--settings a,b]
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import Sample, measure, versions  # noqa: E402
from bench_materialize import LABELS  # noqa: E402

#: The issue's budget: peak RSS at 1M rows, and the allowed growth from 1M to 5M.
BUDGET_MIB, GROWTH = 250, 0.15


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1000000,5000000")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--settings", default="a,b")
    args = parser.parse_args()
    sizes = [int(r) for r in args.rows.split(",")]
    settings = [s.strip() for s in args.settings.split(",") if s.strip()]
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench_materialize.py")
    print(f"bench_memory: rows {sizes}, {args.rounds} round(s); {versions()}")
    cases = [c for s in settings for c in (f"floor-{s}", f"madstream-{s}")]
    results: dict[int, dict[str, Sample]] = {n: measure(script, cases, n, args.rounds) for n in sizes}
    head = "".join(f"{f'{n:,} rows':>16}" for n in sizes)
    print(f"\npeak RSS MiB (rows/s){'':<14}{head}   growth  verdict")
    for case in cases:
        s = [results[n][case] for n in sizes]
        cells = "".join(f"{x.rss_mib:7.0f} ({x.rows_per_s / 1e3:4.0f}k/s)" for x in s)
        growth = s[-1].rss_mib / s[0].rss_mib - 1
        verdict = ""
        if case.startswith("madstream"):
            ok = s[0].rss_mib <= BUDGET_MIB and growth <= GROWTH
            verdict = "ok" if ok else f"over (≤{BUDGET_MIB} MiB, ≤+{GROWTH:.0%})"
        label = f"{case.split('-')[0]} {LABELS[case.split('-')[1]]}"
        print(f"{label:<36}{cells}  {growth:+6.1%}  {verdict}")


if __name__ == "__main__":
    main()
