"""The seed's import path: ``from madstream.data_assets import asset`` (same objects as ``madstream``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from ..api.block import FsspecFileSystem as FsspecFileSystem

__all__ = [
    "DataArtifact",
    "DataArtifactCollector",
    "DataArtifactQuery",
    "DataAsset",
    "DataAssetRun",
    "MadFileSystem",
    "ReadCSVOptions",
    "ReadJsonOptions",
    "asset",
    "get_fs",
    "register_mad_protocol",
    "yield_data_batches",
]

#: The seed's names resolved on first touch (see ``madstream.LAZY``).
LAZY = ("FsspecFileSystem",)


def __getattr__(name: str) -> Any:
    if name == "FsspecFileSystem":
        from ..api.block import FsspecFileSystem

        return FsspecFileSystem
    raise AttributeError(f"module 'madstream.data_assets' has no attribute {name!r}")


def __dir__() -> list[str]:
    # The public surface only: the layers are importable, but not what to reach for.
    return sorted([*__all__, *LAZY])
