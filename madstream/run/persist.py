"""One-off writes outside an asset's run: a file of rows, or one file per batch.

``DataArtifact.persist``, ``Storage.write_data`` and ``DataArtifactCollector`` write through
these: the same source → normalize → write pipeline as a run, in one transaction (published
whole or not at all), without a run record or manifest.
"""

from __future__ import annotations

import posixpath

import anyio.to_thread
import pyarrow as pa

from ..base.errors import DefinitionError
from ..base.types import FILE_TYPES, Encoded
from ..commit.transaction import Transaction
from ..storage.store import FileStore
from ..stream.channel import pump
from ..write.sinks import encode, filetype_of, write_fragment
from ..write.writer import Layout, RunWriter, WriteStats, fragment_name

__all__ = ["check_filetype", "persist_rows", "persist_batches"]


def check_filetype(path: str, *, asset: str | None = None) -> str:
    """The file type ``path`` names by its extension; raises if madstream cannot write it."""
    filetype = filetype_of(path)
    if filetype not in FILE_TYPES:
        raise DefinitionError(
            f"unsupported file type `.{filetype}`", asset=asset, path=path, hint="use a .parquet, .json or .csv path",
        )
    return filetype


async def persist_rows(store: FileStore, path: str, data: object, *, asset: str) -> WriteStats | None:
    """Write every batch of ``data`` into the one file ``path``; ``None`` (nothing written) if it had no rows."""
    check_filetype(path, asset=asset)
    async with Transaction(store) as txn:
        writer = RunWriter(store, txn, Layout(results=(path,)))
        try:
            await pump(
                data, writer.write, asset=asset, path=path, json_lines=writer.json_lines,
                trim_heap=store.local_root is None,
            )
            stats = await anyio.to_thread.run_sync(writer.close)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(writer.abort)
            raise
        if stats.rows == 0:
            txn.cancel()
            return None
    return stats


async def persist_batches(
    store: FileStore, folder: str, data: object, filetype: str, *, first: int = 1,
) -> list[tuple[str, pa.Schema, int]]:
    """Write each non-empty batch of ``data`` as its own file under ``folder``, numbered from ``first``.

    Returns ``(path, schema, rows)`` of every file, published together when all are written.
    """
    written: list[tuple[str, pa.Schema, int]] = []
    async with Transaction(store) as txn:

        def write(batch: pa.RecordBatch, json: Encoded | None = None) -> None:
            name = fragment_name(first + len(written), filetype)
            temp = txn.stage_in(folder, name)
            write_fragment(store, temp, batch, filetype, json or encode(batch, filetype))
            written.append((posixpath.join(folder, name), batch.schema, batch.num_rows))

        await pump(data, write, asset=folder, path=folder, json_lines=filetype == "json", trim_heap=store.local_root is None)
    return written
