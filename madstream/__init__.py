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

import importlib
from typing import TYPE_CHECKING, Any

# Imported now: what defining an asset needs, none of which imports pyarrow, fsspec, pydantic,
# DuckDB or Prefect. Every other public name is imported on first touch (``__getattr__`` below),
# so `import madstream` and `@asset(...)` stay fast; running, reading and querying import the rest.
from .api.asset import DataAsset
from .api.decorator import asset
from .base.allocator import choose_arrow_pool
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
from .run.incremental import Incremental, incremental

# Before pyarrow's first allocation, which none of the imports above makes (see the module).
choose_arrow_pool()

if TYPE_CHECKING:
    from .api.artifact import DataArtifact as DataArtifact
    from .api.block import FsspecFileSystem as FsspecFileSystem
    from .api.collect import DataArtifactCollector as DataArtifactCollector
    from .api.collect import DataArtifactQuery as DataArtifactQuery
    from .api.config import get_fs as get_fs
    from .api.seed import DataAssetRun as DataAssetRun
    from .api.seed import MadFileSystem as MadFileSystem
    from .api.seed import register_mad_protocol as register_mad_protocol
    from .api.storage import Storage as Storage
    from .query.result import QueryResult as QueryResult
    from .stream.source import yield_data_batches as yield_data_batches

#: The module of each public name imported on first touch: each imports pyarrow, fsspec or
#: pydantic (``DataAssetRun`` is a pydantic model, ``MadFileSystem`` an fsspec filesystem), and
#: ``FsspecFileSystem`` imports prefect.
ON_FIRST_USE = {
    "DataArtifact": "api.artifact",
    "DataArtifactCollector": "api.collect",
    "DataArtifactQuery": "api.collect",
    "DataAssetRun": "api.seed",
    "FsspecFileSystem": "api.block",
    "MadFileSystem": "api.seed",
    "QueryResult": "query.result",
    "Storage": "api.storage",
    "get_fs": "api.config",
    "register_mad_protocol": "api.seed",
    "yield_data_batches": "stream.source",
}

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

#: Public names kept out of ``__all__`` so ``from madstream import *`` never imports what they
#: need: ``FsspecFileSystem`` is a Prefect block (it imports prefect).
LAZY = ("FsspecFileSystem",)


def _public(obj: Any) -> Any:
    """``obj`` shown at the public path: tracebacks, reprs, pickles and docs name
    ``madstream.BatchError``, not the layer it is defined in."""
    if isinstance(obj, type) or callable(obj):
        obj.__module__ = __name__
    return obj


for _name in __all__:
    if _name not in ON_FIRST_USE:
        _public(globals()[_name])
del _name


def __getattr__(name: str) -> Any:
    module = ON_FIRST_USE.get(name)
    if module is None:
        raise AttributeError(f"module 'madstream' has no attribute {name!r}")
    obj = getattr(importlib.import_module(f".{module}", __name__), name)
    if name in __all__:
        _public(obj)
    globals()[name] = obj  # the next touch is a plain attribute lookup
    return obj


def __dir__() -> list[str]:
    # The public surface only: the layers are importable, but not what to reach for.
    return sorted(["__version__", *__all__, *LAZY])
