"""Shared bench plumbing: one measurement per fresh subprocess, medians, ratios, tables.

Every measurement runs in its own interpreter so its peak RSS (``ru_maxrss``) is its own and
nothing warmed up by an earlier case leaks into a later one. Cases are alternated within each
round (floor, madstream, floor, madstream, ...) so drift of a shared, noisy machine hits both
sides alike; the tables report medians over rounds and the ratio of the medians.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MIB", "Sample", "child_main", "measure", "print_table", "timed", "versions"]

MIB = 1024 * 1024
_MARK = "@@bench "


@dataclass
class Sample:
    """Medians of one case over the rounds."""

    case: str
    rows: int
    walls: list[float] = field(default_factory=list)
    rsss: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def rss_mib(self) -> float:
        return statistics.median(self.rsss) / MIB

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.wall if self.wall else 0.0

    @property
    def cpu(self) -> float:
        """Median CPU seconds (all threads; includes the case's imports)."""
        return statistics.median(self.extra.get("cpu") or [0.0])

    @property
    def mb_per_s(self) -> float:
        """Bytes written per second (all files the case left behind), in MB/s."""
        written = self.extra.get("bytes") or [0]
        return statistics.median(written) / 1e6 / self.wall if self.wall else 0.0


def versions() -> str:
    """Python, platform and library versions, as one line."""
    import duckdb
    import polars
    import pyarrow

    parts = [f"python {platform.python_version()}", f"pyarrow {pyarrow.__version__}",
             f"polars {polars.__version__}", f"duckdb {duckdb.__version__}"]
    try:
        import orjson

        parts.append(f"orjson {orjson.__version__}")
    except ImportError:
        pass
    parts.append(f"{os.cpu_count()} cpus, {platform.machine()}")
    return ", ".join(parts)


def peak_rss() -> int:
    """This process's peak resident set size in bytes.

    On Linux ``VmHWM`` is read, not ``ru_maxrss``: the latter survives ``fork`` and ``exec``, so
    a child would report at least its parent's size.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def child_main(cases: dict[str, Callable[[int, str], dict[str, Any] | None]]) -> bool:
    """If this process is a measurement child (``--child CASE ROWS DIR``), run it and return True."""
    if len(sys.argv) != 5 or sys.argv[1] != "--child":
        return False
    _, _, case, rows, workdir = sys.argv
    started, cpu = time.perf_counter(), _cpu()
    extra = cases[case](int(rows), workdir) or {}
    extra.setdefault("wall", time.perf_counter() - started)
    extra.setdefault("cpu", _cpu() - cpu)
    wall = extra.pop("wall")
    extra.setdefault("bytes", _tree_bytes(workdir))
    print(_MARK + json.dumps({"wall": wall, "rss": peak_rss(), **extra}), flush=True)
    return True


def timed(fn: Callable[[], object]) -> dict[str, Any]:
    """Wall and CPU seconds of ``fn()`` alone (imports done before it are not counted)."""
    started, cpu = time.perf_counter(), _cpu()
    fn()
    return {"wall": time.perf_counter() - started, "cpu": _cpu() - cpu}


def _cpu() -> float:
    """User + system CPU seconds of this process (all threads) so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _tree_bytes(root: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(root) for f in files)


def _run_child(script: str, case: str, rows: int, env: dict[str, str], prefix: Sequence[str] = ()) -> dict[str, Any]:
    workdir = tempfile.mkdtemp(prefix=f"madbench-{case}-")
    try:
        proc = subprocess.run(
            [*prefix, sys.executable, script, "--child", case, str(rows), workdir],
            capture_output=True, text=True, env=env, check=False,
        )
        for line in proc.stdout.splitlines():
            if line.startswith(_MARK):
                return dict(json.loads(line[len(_MARK):]))
        raise RuntimeError(f"case {case} failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def measure(script: str, cases: Sequence[str], rows: int, rounds: int, *, verbose: bool = True,
            prefix: Sequence[str] = ()) -> dict[str, Sample]:
    """Run every case ``rounds`` times, alternating cases within a round.

    ``prefix`` goes before the child's command line (``taskset -c 0`` pins it to one core).
    """
    env = dict(os.environ)
    here = os.path.dirname(os.path.abspath(script))
    # The repository root first, so a checkout's madstream wins over any installed one.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (os.path.dirname(here), env.get("PYTHONPATH")) if p)
    samples = {c: Sample(c, rows) for c in cases}
    for r in range(rounds):
        for case in cases:
            out = _run_child(script, case, rows, env, prefix)
            s = samples[case]
            s.walls.append(out.pop("wall"))
            s.rsss.append(out.pop("rss"))
            for k, v in out.items():
                s.extra.setdefault(k, []).append(v)
            if verbose:
                pinned = f" ({' '.join(prefix)})" if prefix else ""
                print(f"  round {r + 1}/{rounds} {case:<24} {s.walls[-1]:7.2f} s  {s.rsss[-1] / MIB:6.0f} MiB{pinned}",
                      file=sys.stderr, flush=True)
    return samples


def print_table(title: str, rows: list[tuple[str, Sample, Sample | None]]) -> None:
    """One line per case: wall, rows/s, peak RSS, and the ratio to its floor when given."""
    print(f"\n{title}")
    print(f"{'case':<28} {'wall s':>8} {'rows/s':>10} {'MB/s':>7} {'cpu s':>6} {'peak MiB':>9} {'× floor':>8}  runs")
    for label, s, floor in rows:
        ratio = f"{s.wall / floor.wall:8.2f}" if floor is not None else f"{'':>8}"
        walls = " ".join(f"{w:.2f}" for w in s.walls)
        print(f"{label:<28} {s.wall:8.2f} {s.rows_per_s:10,.0f} {s.mb_per_s:7.1f} {s.cpu:6.2f} {s.rss_mib:9.0f} {ratio}  [{walls}]")
