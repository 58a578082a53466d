"""What ``import madstream`` loads: defining an asset imports none of the heavy libraries; using
one imports them then (the import time itself is benches/bench_import.py's, never a test's)."""

from __future__ import annotations

import json
import subprocess
import sys

import madstream

HEAVY = ("pyarrow", "duckdb", "fsspec", "numpy", "pandas", "polars", "pydantic", "prefect")


def loaded_after(script: str) -> list[str]:
    """The heavy top-level modules a fresh interpreter has loaded after running ``script``."""
    probe = f"{script}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    modules = json.loads(out.stdout.strip().splitlines()[-1])
    return sorted({m.split(".")[0] for m in modules} & set(HEAVY))


def test_import_and_defining_assets_load_no_heavy_library() -> None:
    script = """
import madstream
from madstream import asset, incremental
from madstream.data_assets import asset as seed_asset

@asset("sales/orders.parquet|csv", partition_by="day", write_mode="append", checkpoint_every="64MB")
async def orders(since=incremental("updated_at")):
    yield [{"id": 1, "day": "2024-01-02"}]

@seed_asset("sales/{city}.json")
async def city(city: str):
    yield [{"city": city}]

bound = orders.with_options(keep_versions=3).with_arguments()
assert city.with_arguments("x").path == "sales/x.json"
"""
    assert loaded_after(script) == []


def test_heavy_libraries_load_on_first_use(tmp_path) -> None:
    script = f"""
import asyncio, os
os.environ["FILESYSTEM_URL"] = "file://{tmp_path}/store"
from madstream import asset

@asset("a/b.parquet", name="b")
async def b():
    yield [{{"x": 1}}]

assert asyncio.run(b.query("SELECT sum(x)")).fetchone() == (1,)
"""
    assert {"pyarrow", "fsspec", "duckdb", "pydantic"} <= set(loaded_after(script))


def test_names_imported_on_first_touch_are_the_objects_of_their_modules() -> None:
    import importlib

    import madstream.data_assets as data_assets

    assert set(madstream.ON_FIRST_USE) <= set(madstream.__all__) | set(madstream.LAZY)
    for name, module in madstream.ON_FIRST_USE.items():
        obj = getattr(importlib.import_module(f"madstream.{module}"), name)
        assert getattr(madstream, name) is obj and name in dir(madstream)
        if name in data_assets.__all__ or name in data_assets.LAZY:
            assert getattr(data_assets, name) is obj
