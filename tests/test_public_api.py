"""The public surface: names, import paths, and what importing pulls in."""

from __future__ import annotations

import pickle
import subprocess
import sys

import madstream
import madstream.data_assets as data_assets

SEED_NAMES = {
    "asset", "DataAsset", "DataArtifact", "DataArtifactCollector", "DataArtifactQuery", "DataAssetRun",
    "yield_data_batches", "register_mad_protocol", "get_fs", "FsspecFileSystem", "MadFileSystem",
    "ReadJsonOptions", "ReadCSVOptions",
}


def test_all_is_sorted_and_names_the_public_surface() -> None:
    assert madstream.__all__ == sorted(madstream.__all__)
    assert SEED_NAMES == (set(madstream.__all__) | set(madstream.LAZY)) & SEED_NAMES
    assert "MadstreamError" in madstream.__all__
    public = {name for name in dir(madstream) if not name.startswith("_")}
    assert public == set(madstream.__all__) | set(madstream.LAZY)


def test_public_names_show_the_public_module() -> None:
    # Tracebacks, reprs and pickles name madstream.X, not the layer a name is defined in.
    for name in madstream.__all__:
        obj = getattr(madstream, name)
        if isinstance(obj, type) or callable(obj):
            assert obj.__module__ == "madstream", name
    assert repr(madstream.BatchError("x")).startswith("BatchError(")
    pickled = pickle.dumps(madstream.BatchError("x", asset="a"))
    assert b"madstream.base" not in pickled and pickle.loads(pickled).asset == "a"


def test_seed_names_importable_from_data_assets() -> None:
    assert set(data_assets.__all__) | set(data_assets.LAZY) == SEED_NAMES
    for name in SEED_NAMES - {"FsspecFileSystem"}:
        assert getattr(data_assets, name) is getattr(madstream, name)


def test_star_import_does_not_import_prefect() -> None:
    script = "import sys\nfrom madstream import *\nfrom madstream.data_assets import *\nprint(asset.__module__, 'prefect' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["madstream", "False"]


def test_import_and_local_materialize_do_not_import_prefect_pandas_or_duckdb(tmp_path) -> None:
    script = f"""
import asyncio, os, sys
os.environ["FILESYSTEM_URL"] = "file://{tmp_path}/store"
import pytest

import madstream
assert "prefect" not in sys.modules and "pandas" not in sys.modules, "import"
from madstream import asset

@asset("a/b.parquet|json", name="b", artifact_filetype="parquet")
async def b():
    yield [{{"x": 1}}]

async def main():
    await b()
    assert "duckdb" not in sys.modules and "polars" not in sys.modules, "materialize"
    print((await b.query("SELECT sum(x)")).fetchone()[0])
asyncio.run(main())
print(sorted(m for m in sys.modules if m.split('.')[0] == 'prefect'))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "[]"]


def test_fsspec_filesystem_is_a_prefect_block() -> None:
    from prefect.filesystems import WritableDeploymentStorage, WritableFileSystem

    cls = madstream.FsspecFileSystem
    assert issubclass(cls, WritableFileSystem) and issubclass(cls, WritableDeploymentStorage)
    assert data_assets.FsspecFileSystem is cls

