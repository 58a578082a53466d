"""madstream: extract functions → fast, safe, queryable data assets.

>>> from madstream import asset
>>> @asset("sales/orders.parquet")
... async def orders():
...     yield [{"id": 1, "amount": 9.5}]
>>> await orders()
>>> (await orders.query("SELECT sum(amount)")).fetchone()
(9.5,)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._artifact import DataArtifact
from ._asset import DataAsset, asset
from ._catalog import DataAssetRun
from ._collect import DataArtifactCollector, DataArtifactQuery
from ._errors import (
    ArgumentError,
    BatchError,
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
from ._mad import MadFileSystem, register_mad_protocol
from ._options import ReadCSVOptions, ReadJsonOptions
from ._query import QueryResult
from ._source import yield_data_batches
from ._storage import Storage, get_fs

if TYPE_CHECKING:
    FsspecFileSystem: type

__version__ = "0.1.0"

__all__ = [
    "ArgumentError",
    "BatchError",
    "DataArtifact",
    "DataArtifactCollector",
    "DataArtifactQuery",
    "DataAsset",
    "DataAssetRun",
    "DefinitionError",
    "ExtractError",
    "FsspecFileSystem",
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
    "register_mad_protocol",
    "yield_data_batches",
]


def __getattr__(name: str) -> Any:
    # The Prefect block is built on first touch, so importing madstream never imports prefect.
    if name == "FsspecFileSystem":
        from ._prefect_block import block_class

        return block_class()
    raise AttributeError(f"module 'madstream' has no attribute {name!r}")
