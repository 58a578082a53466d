"""Channel: source → normalize → bounded channel → writer, with backpressure.

The producer pulls batches from the source (sync generators in a worker thread), hands each to
the run's normalize stages (encode, then normalize) and sends the normalization under way into a
bounded memory stream; the consumer waits for each in turn and hands its pages to a blocking
writer in the run's write thread. Normalization and writing overlap (and extraction too, on the
fast path), and a fast producer waits when the channel is full, so memory stays flat.

Each stage keeps one thread for the whole run (:class:`StageThread`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from functools import partial

import anyio
import pyarrow as pa
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ..base.allocator import written
from ..base.errors import ExtractError, MadstreamError
from ..base.types import Encoded
from ..query.mad import mad_protocol_hint
from .normalize import Page, normalize, prepare
from .source import fast_path_enabled, iter_raw_batches
from .threads import StageThread
from .tuning import run_tuning

__all__ = ["CHANNEL_BATCHES", "Write", "pump", "unwrap_group"]

#: Pages in flight between normalize and write.
CHANNEL_BATCHES = 4

#: The writer's side of the channel: a record batch and, when normalizing made them, its JSON lines.
Write = Callable[[pa.RecordBatch, Encoded | None], None]


def unwrap_group(exc: BaseException) -> BaseException:
    """The first real error inside (possibly nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        inner = [e for e in exc.exceptions if not isinstance(e, anyio.get_cancelled_exc_class())]
        exc = (inner or list(exc.exceptions))[0]
    return exc


async def pump(
    data: object, write: Write, *, asset: str, path: str | None = None, json_lines: bool = False,
    trim_heap: bool = False,
) -> int:
    """Stream every batch of ``data`` into ``write``; returns the number of source batches.

    ``write`` gets each record batch and, with ``json_lines``, the same rows as JSON lines when
    normalizing produced them (see :func:`normalize`), else ``None``. ``trim_heap``: now and
    then, give the heap's free memory back to the system (see :func:`~..base.allocator.written`).
    """
    send, receive = anyio.create_memory_object_stream[_Pending](CHANNEL_BATCHES)
    encoder, normalizer, writer = StageThread("encode"), StageThread("normalize"), StageThread("write")
    producer = _Producer(asset, path, json_lines, encoder, normalizer)
    try:
        with run_tuning():
            async with anyio.create_task_group() as tg:
                tg.start_soon(producer.run, data, send)
                tg.start_soon(_consume, receive, normalizer, writer, write, path, producer.drained, trim_heap)
    except BaseExceptionGroup as group:
        inner = unwrap_group(group)
        try:
            raise inner from inner.__cause__  # the group goes; the error keeps its own cause
        finally:
            # This frame is in the error's traceback: a name holding the error would make a
            # cycle keeping the run's source and pages alive until a full collection.
            del inner
    finally:
        encoder.close()
        normalizer.close()
        writer.close()
    return producer.count


#: What travels the channel: a source batch's pages, or their normalization under way.
_Pending = list[Page] | Future[list[Page]]


class _Producer:
    """Pulls the source's batches and hands each to the normalize stages without waiting.

    Normalizing is two stages, each in its own thread (see :func:`~.normalize.prepare`): the
    encode stage makes a fast-path page's JSON and type census while the normalize stage parses
    the page before it off the GIL and finishes it. The extract function keeps producing
    meanwhile; the channel's bound still holds the pages in flight.
    """

    def __init__(self, asset: str, path: str | None, json_lines: bool, encoder: StageThread, normalizer: StageThread) -> None:
        self.asset, self.path, self.json_lines = asset, path, json_lines
        self.encoder, self.normalizer = encoder, normalizer
        #: Whether to pull the next batch while this one is normalized: only when pages may
        #: take the fast path, whose parse leaves the GIL to the extract function.
        self.ahead = json_lines and fast_path_enabled()
        #: Source batches pulled so far (the number of the one being normalized).
        self.count = 0
        #: Normalizations handed on and perhaps not yet finished, oldest first.
        self._pending: deque[Future[list[Page]]] = deque(maxlen=CHANNEL_BATCHES + 2)
        #: Set by the consumer once every page it received is written.
        self.drained = anyio.Event()
        self._send: MemoryObjectSendStream[_Pending] | None = None

    async def run(self, data: object, send: MemoryObjectSendStream[_Pending]) -> None:
        self._send = send
        async with send:
            async for raw in self._raw_batches(data):
                if isinstance(raw, pa.RecordBatch):
                    if not await _sent(send, [Page(raw)] if raw.num_rows else []):
                        return
                    continue
                if self.ahead:
                    prepared = self.encoder.submit(_prepare, raw, self.asset, self.count, self.json_lines)
                    future = self.normalizer.submit(_finish, prepared)
                else:
                    # Off the fast path the first half only picks the conversion: no stage of its own.
                    future = self.normalizer.submit(
                        partial(normalize, raw, asset=self.asset, batch=self.count, json_lines=self.json_lines),
                    )
                self._pending.append(future)
                if not self.ahead:
                    # The direct path holds the GIL throughout: pulling the next batch meanwhile
                    # only adds contention and pages in flight (measured slower for json and csv).
                    # A batch that fails stops the run before the next one is pulled.
                    await self.normalizer.wait(future)
                    _result(future, self.path)
                if not await _sent(send, future):
                    return

    async def _raw_batches(self, data: object) -> AsyncIterator[object]:
        """The source's batches; its failures become errors naming the asset, path and batch."""
        source = iter_raw_batches(data).__aiter__()
        while True:
            try:
                raw = await source.__anext__()
            except StopAsyncIteration:
                return
            except MadstreamError as exc:
                await self._earlier_failure()
                raise exc.at(asset=self.asset, path=self.path) from exc.__cause__
            except Exception as exc:
                await self._earlier_failure()
                raise ExtractError(
                    f"the extract function raised {type(exc).__name__}: {exc}",
                    asset=self.asset, path=self.path, batch=self.count + 1,
                    hint=mad_protocol_hint(exc) or "fix the function or its input; the previous result is unchanged",
                ) from exc
            self.count += 1
            yield raw

    async def _earlier_failure(self) -> None:
        """Raise the error of an earlier batch, if its normalization or its write failed: that
        batch came first, so its error is the run's, as when each batch was normalized and
        written before the next was pulled."""
        for future in self._pending:
            await self.normalizer.wait(future)
            if future.exception() is not None:
                _result(future, self.path)
        if self._send is not None:
            # The channel ends here: the consumer writes what it holds, and a failed write
            # fails its task, which cancels this one before the extract's error is raised.
            await self._send.aclose()
            await self.drained.wait()


async def _sent(send: MemoryObjectSendStream[_Pending], item: _Pending) -> bool:
    """Send ``item``; ``False`` when the consumer has stopped reading (it failed, and its error
    is the run's)."""
    try:
        await send.send(item)
    except anyio.BrokenResourceError:
        return False
    return True


def _result(future: Future[list[Page]], path: str | None) -> list[Page]:
    try:
        return future.result()
    except MadstreamError as exc:
        raise exc.at(path=path) from exc.__cause__


async def _consume(
    receive: MemoryObjectReceiveStream[_Pending], normalizer: StageThread, writer: StageThread, write: Write,
    path: str | None, drained: anyio.Event, trim_heap: bool,
) -> None:
    # Pages are queued on the write thread a few ahead of the one being written: waiting for
    # each write before queueing the next left the writer idle whenever the event loop was
    # busy (pulling the extract function's next page), and the writer is the stage that can
    # run off the GIL beside the others.
    queued: deque[Future[None]] = deque()
    # The channel stays open until the writes are settled: closed earlier, it would wake a
    # producer waiting to send with BrokenResourceError before this task's own error is seen.
    async with receive:
        try:
            async for item in receive:
                if isinstance(item, Future):
                    await normalizer.wait(item)
                    item = _result(item, path)
                for page in item:
                    previous = queued[-1] if queued else None
                    queued.append(writer.submit(_write_in_turn, previous, write, page.batch, page.json, trim_heap))
                    while len(queued) > WRITES_AHEAD:
                        await _oldest_written(writer, queued)
            while queued:
                await _oldest_written(writer, queued)
            # Only now: a failed write fails this task, which cancels a producer still waiting.
            drained.set()
        finally:
            # Failed or cancelled: writes not started are dropped, and the one under way is
            # waited for, since the write thread owns the run's open files until it returns.
            for future in queued:
                future.cancel()
            with anyio.CancelScope(shield=True):
                for future in queued:
                    await writer.wait(future)


#: Pages queued on the write thread behind the one it is writing.
WRITES_AHEAD = 2


class _NotWritten(Exception):
    """A queued page skipped because a page before it failed to write (that error is the run's)."""


def _write_in_turn(
    previous: Future[None] | None, write: Write, batch: pa.RecordBatch, json: Encoded | None, trim_heap: bool,
) -> None:
    # The write thread runs its calls in order, so `previous` is done by now.
    if previous is not None and (previous.cancelled() or previous.exception() is not None):
        raise _NotWritten
    write(batch, json)
    if trim_heap:
        written(batch.nbytes)


async def _oldest_written(writer: StageThread, queued: deque[Future[None]]) -> None:
    """Wait for the oldest queued write and take it off the queue; raises its error. It stays
    queued while waited for, so a cancelled wait still leaves it to the caller's cleanup."""
    await writer.wait(queued[0])
    queued.popleft().result()


def _prepare(raw: object, asset: str, batch: int, json_lines: bool) -> Callable[[], list[Page]]:
    return prepare(raw, asset=asset, batch=batch, json_lines=json_lines)


def _finish(prepared: Future[Callable[[], list[Page]]]) -> list[Page]:
    # The encode stage's queue is in the same order as this one's: this waits, off the GIL,
    # only for the page it is about to finish.
    return prepared.result()()
