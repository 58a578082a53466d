"""The seed's import path: ``from madstream.data_assets import asset`` (same objects as ``madstream``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import DataAsset, ReadCSVOptions, ReadJsonOptions, asset

if TYPE_CHECKING:
    from .. import DataArtifact as DataArtifact
    from .. import DataArtifactCollector as DataArtifactCollector
    from .. import DataArtifactQuery as DataArtifactQuery
    from .. import DataAssetRun as DataAssetRun
    from .. import FsspecFileSystem as FsspecFileSystem
    from .. import MadFileSystem as MadFileSystem
    from .. import get_fs as get_fs
    from .. import register_mad_protocol as register_mad_protocol
    from .. import yield_data_batches as yield_data_batches

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

#: The seed's names kept out of ``__all__`` (see ``madstream.LAZY``).
LAZY = ("FsspecFileSystem",)


def __getattr__(name: str) -> Any:
    # madstream imports these on first touch (see ``madstream.ON_FIRST_USE``); so does this module.
    if name in __all__ or name in LAZY:
        import madstream

        obj = getattr(madstream, name)
        globals()[name] = obj
        return obj
    raise AttributeError(f"module 'madstream.data_assets' has no attribute {name!r}")


def __dir__() -> list[str]:
    # The public surface only: the layers are importable, but not what to reach for.
    return sorted([*__all__, *LAZY])
