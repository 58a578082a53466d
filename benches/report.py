"""Tables (markdown) and the chart (SVG) of one ``bench_all.py`` run, from its JSON.

    python benches/report.py benches/results/run-....json [--summary benches/results/summary.md] [--chart benches/chart.svg]

The goals are the "Speed" issue's: madstream ≤ 0.85× its floor's wall time, peak RSS ≤ 250 MiB
and flat (≤ +15 %) from 1M to 10M rows, mad-prefect ≥ 6× and dlt ≥ 15× slower than madstream.
Each table says whether its goal was met, with the measured numbers either way.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

GOAL_VS_FLOOR = 0.85
RSS_BUDGET_MIB, RSS_GROWTH = 250, 0.15
PEER_GOALS = {"mad-prefect": 6.0, "dlt": 15.0}
LABELS = {
    "floor-a": "pyarrow floor, parquet + parquet",
    "madstream-a": "madstream, parquet + parquet",
    "floor-b": "pyarrow floor, json + parquet",
    "madstream-b": "madstream, json + parquet (default)",
}


def _load(load: list[float]) -> str:
    return " / ".join(f"{x:.1f}" for x in load)


def _machine(m: dict[str, Any]) -> str:
    return (f"{m['date']}, madstream {m['madstream']}; {m['cpu']}, {m['cores']} cores ({m['machine']}, Linux {m['kernel']}); "
            f"python {m['python']}, pyarrow {m['pyarrow']}, duckdb {m['duckdb']}, polars {m['polars']}, orjson {m['orjson']}; "
            f"load average (1/5/15 min) {_load(m['load_start'])} at start, {_load(m['load_end'])} at end")


def _verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def _speed(s: dict[str, Any]) -> list[str]:
    c = s["cases"]
    lines = [f"### Speed: {s['rows']:,} rows, medians of {s['rounds']} alternating runs (load {_load(s['load_before'])})", "",
             "| system | wall s | rows/s | CPU s | peak MiB | × floor | runs (wall s) |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for case in ("floor-a", "madstream-a", "floor-b", "madstream-b"):
        x = c[case]
        ratio = f"{x['wall_s'] / c['floor-' + case[-1]]['wall_s']:.2f}" if case.startswith("madstream") else ""
        runs = " ".join(f"{w:.2f}" for w in x["walls"])
        lines.append(f"| {LABELS[case]} | {x['wall_s']:.2f} | {x['rows_per_s']:,.0f} | {x['cpu_s']:.2f} | {x['peak_mib']:.0f} | "
                     f"{ratio} | {runs} |")
    ratios = {k: c[f"madstream-{k}"]["wall_s"] / c[f"floor-{k}"]["wall_s"] for k in ("a", "b")}
    ok = all(r <= GOAL_VS_FLOOR for r in ratios.values())
    lines += ["", f"Goal ≤ {GOAL_VS_FLOOR}× floor: {_verdict(ok)} (parquet {ratios['a']:.2f}×, json {ratios['b']:.2f}×)."]
    return lines


def _cores(s: dict[str, Any]) -> list[str]:
    if "skipped" in s:
        return [f"### Cores: skipped ({s['skipped']})"]
    one, two = s["cases"]["1 core"], s["cases"]["2 cores"]
    lines = [f"### Cores: `taskset -c 0` against `taskset -c 0,1`, {s['rows']:,} rows, medians of {s['rounds']} "
             f"(load {_load(s['load_before'])})", "",
             "| system | 1 core wall s | 2 cores wall s | speedup 1→2 | CPU s 1 / 2 cores | × floor 1 / 2 cores |",
             "| --- | --- | --- | --- | --- | --- |"]
    for case in ("floor-a", "madstream-a", "floor-b", "madstream-b"):
        a, b = one[case], two[case]
        floor = "floor-" + case[-1]
        ratio = ""
        if case.startswith("madstream"):
            ratio = f"{a['wall_s'] / one[floor]['wall_s']:.2f} / {b['wall_s'] / two[floor]['wall_s']:.2f}"
        lines.append(f"| {LABELS[case]} | {a['wall_s']:.2f} | {b['wall_s']:.2f} | {a['wall_s'] / b['wall_s']:.2f}× | "
                     f"{a['cpu_s']:.2f} / {b['cpu_s']:.2f} | {ratio} |")
    return lines


def _memory(s: dict[str, Any]) -> list[str]:
    sizes = s["sizes"]
    lines = [f"### Peak RSS against rows, one run per size (load {_load(s['load_before'])})", "",
             "| system | " + " | ".join(f"{n:,} rows" for n in sizes) + f" | growth {sizes[-2]:,} → {sizes[-1]:,} |",
             "| --- " * (len(sizes) + 2) + "|"]
    verdicts = []
    for case in ("floor-a", "madstream-a", "floor-b", "madstream-b"):
        pts = [s["cases"][case][str(n)] for n in sizes]
        growth = pts[-1]["peak_mib"] / pts[-2]["peak_mib"] - 1
        cells = " | ".join(f"{p['peak_mib']:.0f} MiB ({p['rows_per_s'] / 1e3:.0f}k rows/s)" for p in pts)
        lines.append(f"| {LABELS[case]} | {cells} | {growth:+.1%} |")
        if case.startswith("madstream"):
            top = max(p["peak_mib"] for p in pts)
            over = top > RSS_BUDGET_MIB or growth > RSS_GROWTH
            verdicts.append(f"{LABELS[case]}: max {top:.0f} MiB, {growth:+.1%}" + (" (over)" if over else ""))
    ok = all("(over)" not in v for v in verdicts)
    goal = f"Goal ≤ {RSS_BUDGET_MIB} MiB and flat (≤ +{RSS_GROWTH:.0%}) up to {sizes[-1]:,} rows"
    lines += ["", f"{goal}: {_verdict(ok)} ({'; '.join(verdicts)})."]
    return lines


def peer_table(s: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (tool, artifacts): median seconds, rows/s, peak, and × madstream with the same artifacts."""
    rows = []
    for r in s["runs"]:
        res = r["results"]
        rows.append({"tool": r["tool"], "variant": r["variant"], "seconds": statistics.median(x["materialize_s"] for x in res),
                     "peak_mib": max(x["peak_mib"] for x in res), "walls": [x["materialize_s"] for x in res]})
    base = {x["variant"]: x["seconds"] for x in rows if x["tool"] == "madstream"}
    for x in rows:
        x["rows_per_s"] = s["rows"] / x["seconds"]
        x["vs_madstream"] = x["seconds"] / base["parquet" if x["tool"] == "dlt" else x["variant"]]
    return rows


def _peers(s: dict[str, Any]) -> list[str]:
    pins = ", ".join(p for pins in s["versions"].values() for p in pins)
    lines = [f"### Peers: {s['rows']:,} rows, medians of {s['repeat']} interleaved runs, each tool in its own venv ({pins}; "
             f"load {_load(s['load_before'])})", "",
             "| tool | artifacts | materialize s | rows/s | peak MiB | × madstream | goal |", "| --- | --- | --- | --- | --- | --- | --- |"]
    misses = []
    for x in peer_table(s):
        goal = PEER_GOALS.get(x["tool"])
        verdict = ""
        if goal is not None:
            verdict = f"≥ {goal:.0f}×: {_verdict(x['vs_madstream'] >= goal)}"
            if x["vs_madstream"] < goal:
                misses.append(f"{x['tool']} {x['variant']} {x['vs_madstream']:.1f}×")
        lines.append(f"| {x['tool']} | {x['variant']} | {x['seconds']:.2f} | {x['rows_per_s']:,.0f} | {x['peak_mib']:.0f} | "
                     f"{x['vs_madstream']:.1f}× | {verdict} |")
    lines += ["", "dlt writes parquet only; it is compared with madstream's parquet run. Peak RSS of madstream here includes "
              "the query after materializing (DuckDB)." + (f" Short of the goals: {', '.join(misses)}." if misses else "")]
    return lines


def _query_imports(q: dict[str, Any] | None, i: dict[str, Any] | None) -> list[str]:
    lines = ["### Query and import", "", "| measure | median | × reference |", "| --- | --- | --- |"]
    if q:
        raw = q["median_s"]["raw duckdb read_parquet"]
        for name, sec in q["median_s"].items():
            lines.append(f"| group-by over {q['rows']:,} rows: {name} | {sec * 1e3:.1f} ms | {sec / raw:.2f} |")
    if i:
        base = i["pyarrow"]["median_s"]
        for name in ("pyarrow", "madstream"):
            x = i[name]
            also = ", ".join(x["also_imported"]) or "nothing heavy"
            lines.append(f"| `import {name}` ({x['peak_mib']:.0f} MiB; also imports {also}) | {x['median_s']:.3f} s | "
                         f"{x['median_s'] / base:.2f} |")
    return lines


def summary(run: dict[str, Any]) -> str:
    out = ["# Bench summary (written by `benches/bench_all.py`; do not edit by hand)", "", _machine(run["machine"]), ""]
    if run.get("quick"):
        out += ["**Quick mode: small sizes, one round: a smoke check, not figures to quote.**", ""]
    parts = [("speed", _speed), ("cores", _cores), ("memory", _memory), ("peers", _peers)]
    for key, fn in parts:
        if key in run:
            out += fn(run[key]) + [""]
    if "query" in run or "imports" in run:
        out += _query_imports(run.get("query"), run.get("imports")) + [""]
    return "\n".join(out)


def _count(n: float) -> str:
    """100000 → 100k, 10000000 → 10M."""
    for div, unit in ((1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:g}{unit}"
    return f"{n:g}"


def chart(run: dict[str, Any], path: Path) -> None:
    """Two panels: rows/s by system; peak RSS against rows (log x) with the budget line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    plt.rcParams["svg.hashsalt"] = "madstream-bench"  # stable element ids: the SVG diffs only when figures do
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6))
    bars: list[tuple[str, float, str]] = []
    if "speed" in run:
        c = run["speed"]["cases"]
        bars += [("pyarrow floor (parquet)", c["floor-a"]["rows_per_s"], "#999999"),
                 ("pyarrow floor (json)", c["floor-b"]["rows_per_s"], "#bbbbbb"),
                 ("madstream parquet", c["madstream-a"]["rows_per_s"], "#1f77b4"),
                 ("madstream json (default)", c["madstream-b"]["rows_per_s"], "#4a9ad6")]
    if "peers" in run:
        for x in peer_table(run["peers"]):
            if x["tool"] != "madstream":
                bars.append((f"{x['tool']} ({x['variant']})", x["rows_per_s"], "#d62728" if x["tool"] == "dlt" else "#ff7f0e"))
    names = [b[0] for b in bars][::-1]
    values = [b[1] for b in bars][::-1]
    left.barh(names, values, color=[b[2] for b in bars][::-1])
    for y, v in enumerate(values):
        left.text(v, y, f" {v / 1e3:,.0f}k", va="center", fontsize=8)
    left.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _count(v)))
    left.set_xlabel("rows per second (higher is better)")
    speed_rows = run.get("speed", {}).get("rows", 0)
    peer_rows = run.get("peers", {}).get("rows", 0)
    loads = ", ".join(f"{k} {run[k]['load_before'][0]:.1f}" for k in ("speed", "peers") if k in run)
    left.set_title(f"Materialize: {speed_rows:,} rows (peers: {peer_rows:,}); load average {loads}", fontsize=10)
    left.set_xlim(0, max(values, default=1) * 1.18)
    if "memory" in run:
        m = run["memory"]
        styles = {"madstream-a": ("#1f77b4", "-"), "madstream-b": ("#4a9ad6", "-"),
                  "floor-a": ("#999999", "--"), "floor-b": ("#bbbbbb", "--")}
        for case, (color, ls) in styles.items():
            right.plot(m["sizes"], [m["cases"][case][str(n)]["peak_mib"] for n in m["sizes"]], marker="o", color=color, ls=ls,
                       label=LABELS[case])
        right.axhline(RSS_BUDGET_MIB, color="#d62728", lw=1, ls=":", label=f"budget {RSS_BUDGET_MIB} MiB")
        right.set_xscale("log")
        right.set_xticks(m["sizes"], [_count(n) for n in m["sizes"]])
        right.xaxis.set_minor_formatter(NullFormatter())
        right.set_ylim(0, max(RSS_BUDGET_MIB * 1.3, *(p["peak_mib"] * 1.1 for c in m["cases"].values() for p in c.values())))
        right.set_xlabel("rows (log scale)")
        right.set_ylabel("peak RSS, MiB")
        right.set_title(f"Peak RSS against rows (lower and flat is better); load average {m['load_before'][0]:.1f}", fontsize=10)
        right.legend(fontsize=8, loc="lower right")
    mach = run["machine"]
    fig.suptitle(f"madstream {mach['madstream']}, {mach['date']}: {mach['cpu']}, {mach['cores']} cores, python {mach['python']}, "
                 f"pyarrow {mach['pyarrow']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)


def write(run: dict[str, Any], summary_path: Path, chart_path: Path) -> None:
    summary_path.write_text(summary(run))
    chart(run, chart_path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run's JSON from benches/results/")
    parser.add_argument("--summary", type=Path, default=Path(__file__).parent / "results" / "summary.md")
    parser.add_argument("--chart", type=Path, default=Path(__file__).parent / "chart.svg")
    args = parser.parse_args()
    write(json.loads(args.run.read_text()), args.summary, args.chart)


if __name__ == "__main__":
    main()
