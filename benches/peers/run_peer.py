"""Run one tool on the standard workload and print one JSON line of figures.

Executed by each tool's own virtualenv (see bench_peers.py); standard library plus the tool.
Usage: python run_peer.py <madstream|mad-prefect|dlt> <variant> <rows> <workdir>
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from workload import apages, pages  # noqa: E402


def _peak_mib() -> float:
    """This process's own peak RSS: ``VmHWM`` on Linux (``ru_maxrss`` would include the parent's, across exec)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _asset_tool(module: str, variant: str, rows: int) -> dict[str, float]:
    """madstream and mad-prefect share the seed's API: the same code runs on both."""
    mod = __import__(module, fromlist=["asset"])
    filetype = "parquet" if variant == "parquet" else "json"

    @mod.asset("bench/orders.parquet", name="orders", artifact_filetype=filetype)
    async def orders():
        async for page in apages(rows):
            yield page

    started = time.perf_counter()
    await orders()
    materialize = time.perf_counter() - started
    started = time.perf_counter()
    result = await orders.query("SELECT address.city, count(*), avg(amount) GROUP BY ALL")
    groups = len(result.fetchall())
    query = time.perf_counter() - started
    return {"materialize_s": materialize, "query_s": query, "groups": groups}


def _dlt(rows: int, workdir: str) -> dict[str, float]:
    import dlt

    os.environ["DESTINATION__FILESYSTEM__BUCKET_URL"] = f"file://{workdir}/dlt"
    pipeline = dlt.pipeline(pipeline_name="bench", destination="filesystem", dataset_name="orders", pipelines_dir=f"{workdir}/pipelines")

    @dlt.resource(name="orders", write_disposition="replace")
    def orders():
        yield from pages(rows)

    started = time.perf_counter()
    pipeline.run(orders(), loader_file_format="parquet")
    return {"materialize_s": time.perf_counter() - started, "query_s": float("nan"), "groups": 0}


def main() -> None:
    tool, variant, rows, workdir = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    os.environ["FILESYSTEM_URL"] = f"file://{workdir}/storage"
    os.environ.setdefault("PREFECT_HOME", f"{workdir}/prefect-home")
    if tool == "dlt":
        figures = _dlt(rows, workdir)
    else:
        figures = asyncio.run(_asset_tool("madstream" if tool == "madstream" else "mad_prefect.data_assets", variant, rows))
    figures.update(tool=tool, variant=variant, rows=rows, peak_mib=_peak_mib())
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
