"""Channel: source → normalize → bounded channel → writer, with backpressure.

The producer pulls batches from the source (sync generators in a worker thread), normalizes
each in the run's normalize thread, and sends record batches into a bounded memory stream; the
consumer hands each to a blocking writer in the run's write thread. Extraction, normalization
and writing overlap, and a fast producer waits when the channel is full, so memory stays flat.

Normalizing and writing each keep one thread for the whole run (:class:`StageThread`).
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pyarrow as pa

from ._errors import ExtractError, MadstreamError
from ._normalize import Page, normalize
from ._source import iter_raw_batches
from ._stage import StageThread
from ._types import Encoded

__all__ = ["pump", "unwrap_group"]

#: Record batches in flight between normalize and write.
CHANNEL_BATCHES = 4


def unwrap_group(exc: BaseException) -> BaseException:
    """The first real error inside (possibly nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        inner = [e for e in exc.exceptions if not isinstance(e, anyio.get_cancelled_exc_class())]
        exc = (inner or list(exc.exceptions))[0]
    return exc


async def pump(
    data: object,
    write: Callable[[pa.RecordBatch, Encoded | None], None],
    *,
    asset: str,
    path: str | None = None,
    json_lines: bool = False,
) -> int:
    """Stream every batch of ``data`` into ``write``; returns the number of source batches.

    ``write`` gets each record batch and, with ``json_lines``, the same rows as JSON lines when
    normalizing produced them (see :func:`normalize`), else ``None``.
    """
    send, receive = anyio.create_memory_object_stream[Page](CHANNEL_BATCHES)
    normalizer, writer = StageThread("normalize"), StageThread("write")
    count = 0

    async def produce() -> None:
        nonlocal count
        async with send:
            source = iter_raw_batches(data).__aiter__()
            while True:
                try:
                    raw = await source.__anext__()
                except StopAsyncIteration:
                    break
                except MadstreamError as exc:
                    raise exc.at(asset=asset, path=path) from exc.__cause__
                except Exception as exc:
                    raise ExtractError(
                        f"the extract function raised {type(exc).__name__}: {exc}",
                        asset=asset,
                        path=path,
                        batch=count + 1,
                        hint="fix the function or its input; the previous result is unchanged",
                    ) from exc
                count += 1
                if isinstance(raw, pa.RecordBatch):
                    pages = [Page(raw)] if raw.num_rows else []
                else:
                    try:
                        pages = await normalizer.run(_normalize, raw, asset, count, json_lines)
                    except MadstreamError as exc:
                        raise exc.at(path=path) from exc.__cause__
                for page in pages:
                    await send.send(page)

    async def consume() -> None:
        async with receive:
            async for page in receive:
                await writer.run(write, page.batch, page.json)

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(produce)
            tg.start_soon(consume)
    except BaseExceptionGroup as group:
        raise unwrap_group(group) from None
    finally:
        normalizer.close()
        writer.close()
    return count


def _normalize(raw: object, asset: str, batch: int, json_lines: bool) -> list[Page]:
    return normalize(raw, asset=asset, batch=batch, json_lines=json_lines)
