"""Where a page's conversion time goes: the direct path against the fast path, stage by stage.

One process, no files: the standard workload's pages are converted over and over, and each
step is timed in thread CPU seconds (``time.thread_time``), scaled to 1M rows, best of
``--reps``. The GIL column says whether the step holds the GIL: only those steps compete with
the extract function and the writer; the others can run on another core.

    python benches/bench_convert.py [--rows 200000] [--reps 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _best(fn: Callable[[], object], reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        started = time.thread_time()
        fn()
        best = min(best, time.thread_time() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()

    import pyarrow as pa
    from _harness import versions
    from workload import pages

    from madstream.stream import fastchecks as checks
    from madstream.stream.fastpath import FastPath, _parse, census
    from madstream.stream.normalize import _build, _json_lines

    rows = list(pages(args.rows))
    fast = FastPath()
    fast.learn(rows[0], pa.RecordBatch.from_pylist(rows[0]))
    plan = fast.plan
    assert plan is not None
    schema = plan.schema
    lines = [_json_lines(p) for p in rows]
    parsed = [_parse(b, schema) for b in lines if b is not None]
    times = [f.name for f in schema if f.type == pa.timestamp("us")]
    nested = [f.name for f in schema if pa.types.is_nested(f.type)]
    steps: list[tuple[str, str, Callable[[], object]]] = [
        ("pa.RecordBatch.from_pylist (reference)", "yes", lambda: [pa.RecordBatch.from_pylist(p) for p in rows]),
        ("direct: columns gathered in C + from_pydict", "yes", lambda: [_build(p, asset="b", batch=1) for p in rows]),
        ("JSON lines (orjson, one dumps a page)", "yes", lambda: [_json_lines(p) for p in rows]),
        ("fast: keys check", "yes", lambda: [plan.takes(p) for p in rows]),
        ("fast: type census (gc.get_referents)", "yes", lambda: [census(p, nested) for p in rows]),
        ("fast: timestamp columns naive", "yes", lambda: [checks.naive_times(p, k) for p in rows for k in times]),
        ("fast: Arrow JSON reader", "no", lambda: [_parse(b, schema) for b in lines if b is not None]),
        ("fast: nulls stand for None", "mostly", lambda: [checks.nulls_are_none(b, p) for b, p in zip(parsed, rows)]),
        ("fast: no datetime text", "no", lambda: [checks.no_datetime_text(b, times) for b in parsed]),
        ("fast: exact floats", "no", lambda: [checks.exact_floats(b) for b in parsed]),
        ("fast: whole convert", "partly", lambda: [fast.convert(p, b) for p, b in zip(rows, lines)]),
    ]
    scale = 1_000_000 / args.rows
    print(f"bench_convert: {args.rows:,} rows in pages of {len(rows[0]):,}, best of {args.reps}; {versions()}")
    print(f"\n{'step':<46} {'GIL':>6} {'s per 1M rows':>14}")
    for label, gil, fn in steps:
        print(f"{label:<46} {gil:>6} {_best(fn, args.reps) * scale:14.2f}")
    print(f"\npages taken by the fast path: {fast.taken}, refused: {fast.refused}")


if __name__ == "__main__":
    main()
