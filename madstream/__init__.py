"""madstream: extract functions → fast, safe, queryable data assets.

>>> from madstream import asset
>>> @asset("sales/orders.parquet")
... async def orders():
...     yield [{"id": 1, "amount": 9.5}]
>>> await orders()
>>> (await orders.query("SELECT sum(amount)")).fetchone()
(9.5,)

The package is layered along the data flow (``base`` → ``storage`` → ``commit`` → ``query`` →
``stream`` | ``write`` → ``run`` → ``api``); this module is its one public surface.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .api.artifact import DataArtifact
from .api.asset import DataAsset, asset
from .api.collect import DataArtifactCollector, DataArtifactQuery
from .api.config import get_fs
from .api.seed import DataAssetRun, MadFileSystem, register_mad_protocol
from .api.storage import Storage
from .base.errors import (
    ArgumentError,
    BatchError,
    ConflictError,
    DefinitionError,
    ExtractError,
    MadstreamError,
    PathEscapeError,
    PermanentStorageError,
    QueryError,
    SchemaError,
    StorageError,
    TemplateError,
    TransientStorageError,
)
from .query.options import ReadCSVOptions, ReadJsonOptions
from .query.result import QueryResult
from .run.incremental import Incremental, incremental
from .stream.source import yield_data_batches

if TYPE_CHECKING:
    from .api.block import FsspecFileSystem as FsspecFileSystem

__version__ = "0.1.0"

__all__ = [
    "ArgumentError",
    "BatchError",
    "ConflictError",
    "DataArtifact",
    "DataArtifactCollector",
    "DataArtifactQuery",
    "DataAsset",
    "DataAssetRun",
    "DefinitionError",
    "ExtractError",
    "Incremental",
    "MadFileSystem",
    "MadstreamError",
    "PathEscapeError",
    "PermanentStorageError",
    "QueryError",
    "QueryResult",
    "ReadCSVOptions",
    "ReadJsonOptions",
    "SchemaError",
    "Storage",
    "StorageError",
    "TemplateError",
    "TransientStorageError",
    "asset",
    "get_fs",
    "incremental",
    "register_mad_protocol",
    "yield_data_batches",
]

#: Public names resolved on first touch, kept out of ``__all__`` so ``from madstream import *``
#: never imports what they need: ``FsspecFileSystem`` is a Prefect block (it imports prefect).
LAZY = ("FsspecFileSystem",)

# Tracebacks, reprs, pickles and docs show the public path (madstream.BatchError), not the layer.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) or callable(_obj):
        _obj.__module__ = __name__
del _name, _obj


def __getattr__(name: str) -> Any:
    if name == "FsspecFileSystem":
        from .api.block import FsspecFileSystem

        return FsspecFileSystem
    raise AttributeError(f"module 'madstream' has no attribute {name!r}")


def __dir__() -> list[str]:
    # The public surface only: the layers are importable, but not what to reach for.
    return sorted(["__version__", *__all__, *LAZY])
