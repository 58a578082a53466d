"""Source: whatever an extract function produced → an async stream of raw batches.

Sync generators are pulled in a worker thread so blocking extract code (HTTP clients, database
cursors) never stalls the event loop. Anything that streams itself as Arrow (an asset, an
artifact, a query result: see :class:`ArrowSource`) and DuckDB relations found among the
batches are expanded into record batches as they stream. A batch that is awaitable (``yield
other_asset()``, an un-awaited call) is awaited first, and its result is the batch.

Every batch goes on with the run's :class:`~.normalize.ColumnNames`, so that each is named the
same way; a record batch already in its final form goes on as it is (the channel passes those
straight to the writer).
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol, runtime_checkable

import anyio.to_thread
import pyarrow as pa

from ..base.types import STREAM_BATCH_ROWS
from ..query.result import iter_reader, relation_reader
from .fastpath import FastPath
from .finish import ColumnNames
from .normalize import SourceBatch

__all__ = ["ArrowSource", "iter_raw_batches", "yield_data_batches"]

_DONE = object()


@runtime_checkable
class ArrowSource(Protocol):
    """Something an extract function may yield that streams its own rows as Arrow batches.

    ``DataAsset`` (materialized first, as awaiting it would), ``DataArtifact`` and ``QueryResult``
    implement it; the source stage needs to know no more about them.
    """

    def arrow_batches(self) -> AsyncIterator[pa.RecordBatch]: ...


def _next(it: Iterator[Any]) -> Any:
    return next(it, _DONE)


async def yield_data_batches(data: object) -> AsyncIterator[Any]:
    """Async-iterate ``data``: a coroutine, sync generator, async generator or plain value.

    A coroutine is awaited and its value iterated in turn; a plain value is yielded once.

    >>> async for batch in yield_data_batches(fetch_pages()):
    ...     print(len(batch))
    """
    if inspect.iscoroutine(data) or inspect.isawaitable(data) and not inspect.isasyncgen(data):
        data = await data  # type: ignore[misc]
    if inspect.isasyncgen(data) or (hasattr(data, "__anext__") and hasattr(data, "__aiter__")):
        async for item in data:  # type: ignore[union-attr]
            yield item
    elif inspect.isgenerator(data):
        while (item := await anyio.to_thread.run_sync(_next, data)) is not _DONE:
            yield item
    else:
        yield data


async def iter_raw_batches(data: object) -> AsyncIterator[Any]:
    """Every batch of ``data``, with Arrow sources and DuckDB relations streamed as Arrow batches.

    A finished record batch comes as it is; anything else as a :class:`SourceBatch` holding
    the batch, the run's column names and its fast path, for :func:`~.normalize.normalize`.
    """
    names, fast = ColumnNames(), FastPath() if fast_path_enabled() else None
    async for item in yield_data_batches(data):
        async for batch in _expand(item):
            if isinstance(batch, pa.RecordBatch) and names.clean(batch.schema):
                yield batch
            else:
                yield SourceBatch(batch, names, fast)


def fast_path_enabled() -> bool:
    """Whether dict pages may take the fast path (:mod:`.fastpath`): ``MADSTREAM_FAST_PATH=1``.

    Off by default: it converts a page with ~1.3x the CPU of the direct path, which pays only
    where a core is idle to parse on, and on the shared 2-core machine it was measured on it
    was slower (benches/README.md)."""
    return os.environ.get("MADSTREAM_FAST_PATH", "0").strip().lower() in ("1", "true", "yes", "on")


async def _expand(item: Any) -> AsyncIterator[Any]:
    """``item`` itself, its result if it is awaitable, or the record batches it streams."""
    while inspect.isawaitable(item):
        item = await item
    if isinstance(item, ArrowSource):
        async for batch in item.arrow_batches():
            yield batch
    elif _is_relation(item):
        reader = await anyio.to_thread.run_sync(relation_reader, item, STREAM_BATCH_ROWS)
        async for batch in iter_reader(reader):
            yield batch
    else:
        yield item


def _is_relation(item: object) -> bool:
    # Without duckdb imported no relation exists; checking this way keeps it out of plain runs.
    duckdb = sys.modules.get("duckdb")
    # Another thread may be importing it right now (a writer detecting types): a module still
    # initializing has no relation class yet, and no relation can exist before it has.
    relation = getattr(duckdb, "DuckDBPyRelation", None)
    return relation is not None and isinstance(item, relation)
