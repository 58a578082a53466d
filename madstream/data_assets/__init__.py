"""The seed's import path: ``from madstream.data_assets import asset`` (same objects as ``madstream``)."""

from __future__ import annotations

from typing import Any

from .. import (
    DataArtifact,
    DataArtifactCollector,
    DataArtifactQuery,
    DataAsset,
    DataAssetRun,
    MadFileSystem,
    ReadCSVOptions,
    ReadJsonOptions,
    asset,
    get_fs,
    register_mad_protocol,
    yield_data_batches,
)

__all__ = [
    "DataArtifact",
    "DataArtifactCollector",
    "DataArtifactQuery",
    "DataAsset",
    "DataAssetRun",
    "FsspecFileSystem",
    "MadFileSystem",
    "ReadCSVOptions",
    "ReadJsonOptions",
    "asset",
    "get_fs",
    "register_mad_protocol",
    "yield_data_batches",
]


def __getattr__(name: str) -> Any:
    if name == "FsspecFileSystem":
        from .._prefect_block import block_class

        return block_class()
    raise AttributeError(f"module 'madstream.data_assets' has no attribute {name!r}")
