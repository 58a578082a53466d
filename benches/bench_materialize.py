"""Materialize the standard workload: madstream against the hand-written pyarrow floor.

Three settings, each against a floor producing the same files in the same run:
(a) parquet fragments + parquet result, (b) the default JSON fragments + parquet result,
(c) CSV fragments + CSV result. Each measurement runs in a fresh subprocess (honest peak RSS),
floor and madstream alternate within every round, and the table shows medians and ratios.

    python benches/bench_materialize.py [--rows 1000000] [--rounds 5] [--settings a,b,c]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import Sample, child_main, measure, print_table, timed, versions  # noqa: E402

#: setting → (result path, artifact file type, floor)
SETTINGS = {
    "a": ("bench/orders.parquet", "parquet", "parquet"),
    "b": ("bench/orders.parquet", "json", "json"),
    "c": ("bench/orders.csv", "csv", "csv"),
}
LABELS = {"a": "(a) parquet + parquet", "b": "(b) json + parquet (default)", "c": "(c) csv + csv"}


def run_madstream(setting: str, rows: int, workdir: str) -> dict[str, Any]:
    """Materialize the workload through an async-generator asset; returns the wall time."""
    os.environ["FILESYSTEM_URL"] = f"file://{workdir}"
    from workload import apages

    # `import madstream` loads no engine (it is lazy); the clock starts after the engine's
    # imports, as the floor's starts after it imports pyarrow: both time the run alone.
    import madstream.run.lifecycle  # noqa: F401
    from madstream import asset

    path, filetype, _ = SETTINGS[setting]

    @asset(path, name="orders", artifact_filetype=filetype)  # type: ignore[arg-type]
    async def orders() -> Any:
        async for page in apages(rows):
            yield page

    out: list[Any] = []
    result = timed(lambda: out.append(asyncio.run(orders())))
    assert out[0].rows == rows, out[0].rows
    return result


def run_floor(setting: str, rows: int, workdir: str) -> dict[str, Any]:
    from floors import FLOORS

    floor = FLOORS[SETTINGS[setting][2]]
    return timed(lambda: floor(rows, workdir))


def _cases() -> dict[str, Any]:
    cases: dict[str, Any] = {}
    for s in SETTINGS:
        cases[f"floor-{s}"] = lambda rows, wd, s=s: run_floor(s, rows, wd)
        cases[f"madstream-{s}"] = lambda rows, wd, s=s: run_madstream(s, rows, wd)
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--settings", default="a,b,c", help="comma-separated subset of a,b,c")
    args = parser.parse_args()
    settings = [s.strip() for s in args.settings.split(",") if s.strip()]
    print(f"bench_materialize: {args.rows:,} rows, {args.rounds} rounds; {versions()}")
    cases = [c for s in settings for c in (f"floor-{s}", f"madstream-{s}")]
    samples = measure(__file__, cases, args.rows, args.rounds)
    table: list[tuple[str, Sample, Sample | None]] = []
    for s in settings:
        floor = samples[f"floor-{s}"]
        table.append((f"floor {LABELS[s]}", floor, None))
        table.append((f"madstream {LABELS[s]}", samples[f"madstream-{s}"], floor))
    print_table(f"materialize {args.rows:,} rows (medians of {args.rounds}; wall excludes interpreter start)", table)


if __name__ == "__main__":
    if not child_main(_cases()):
        main()
