"""Rechunking: a stream of Arrow batches cut to exactly ``rows`` rows each (the last may be shorter).

DuckDB's ``to_arrow_reader(rows)`` treats ``rows`` as a ceiling: a parquet scan hands over one
row group's worth at a time, so ``stream(batch_rows=1_000_000)`` saw 80,000-row frames. Callers
asked for a size, so they get it. Memory stays bounded: at most one batch of ``rows`` rows is
held back (as zero-copy slices of DuckDB's batches) while the next is filled, and rows are only
copied when a frame is stitched together from more than one of DuckDB's batches.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pyarrow as pa

from ..base.errors import QueryError

__all__ = ["check_batch_rows", "exact_batches"]


def check_batch_rows(rows: object, *, asset: str | None = None, path: str | None = None) -> int:
    """``rows`` if it is a usable batch size (a whole number ≥ 1), else a :class:`QueryError`."""
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise QueryError(
            f"batch_rows must be a whole number of at least 1, not {rows!r}", asset=asset, path=path,
            hint="pass batch_rows=65_536 (the default) or another positive int",
        )
    return rows


def exact_batches(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """The rows of ``batches`` in batches of exactly ``rows`` rows, but for a shorter last one.

    Empty batches vanish. A batch of DuckDB's that already has the right size (or holds several
    whole frames) passes through as zero-copy slices; only a frame spanning two or more of
    DuckDB's batches is concatenated, from the pieces it needs and no more.
    """
    check_batch_rows(rows)
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        offset = 0
        while offset < batch.num_rows:
            take = min(rows - held, batch.num_rows - offset)
            pending.append(batch.slice(offset, take) if take < batch.num_rows else batch)
            held += take
            offset += take
            if held == rows:
                yield _joined(pending)
                pending, held = [], 0
    if held:
        yield _joined(pending)


def _joined(pieces: list[pa.RecordBatch]) -> pa.RecordBatch:
    return pieces[0] if len(pieces) == 1 else pa.concat_batches(pieces)

