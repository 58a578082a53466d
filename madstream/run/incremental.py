"""Incremental cursors: an extract function fetches only what is newer than the last committed run.

An extract function declares a cursor as a parameter default::

    @asset("events.parquet", write_mode="append")
    async def events(since=incremental("updated_at", initial_value=0)):
        yield await api.events(updated_after=since.last_value)

Each run gets an :class:`Incremental` whose ``last_value`` is the high-water mark committed with
the configuration's newest version (``initial_value`` the first time, minus ``lag``). While the
batches pass, the run follows the cursor column (its highest value, or lowest with
``last_value_func="min"``); the new mark is committed in the same version record as the rows,
so a failed or killed run never advances it and a re-run fetches the same rows again.
"""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from ..base.errors import DefinitionError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["CursorTracker", "Incremental", "decode_value", "encode_value", "incremental"]


@dataclass(frozen=True)
class Incremental:
    """A cursor over one column; what an extract function receives for its cursor parameter.

    Attributes:
        cursor_path: the column whose values order the rows (``updated_at``).
        initial_value: ``last_value`` of the first run.
        last_value_func: ``"max"`` (default: newer is higher) or ``"min"`` (walking backwards).
        lag: subtracted from (``max``) or added to (``min``) the committed mark, so late rows
            inside that window are fetched again (a number, or a ``timedelta`` for times).
        end_value: a backfill's end: the function fetches up to it, and the committed mark
            does not move (a backfill never changes where the live loads continue).
        last_value: set by madstream for each run.
    """

    cursor_path: str
    initial_value: Any = None
    last_value_func: Literal["max", "min"] = "max"
    lag: Any = None
    end_value: Any = None
    last_value: Any = None

    @property
    def start_value(self) -> Any:
        """Alias of :attr:`last_value` (where this run starts)."""
        return self.last_value

    def for_run(self, committed: Any) -> Incremental:
        """This cursor as a run sees it: ``last_value`` from the committed mark (or the initial value)."""
        value = self.initial_value if committed is None else committed
        if committed is not None and self.lag is not None and value is not None:
            value = value - self.lag if self.last_value_func == "max" else value + self.lag
        return replace(self, last_value=value)

    def advance(self, committed: Any, seen: Any) -> Any:
        """The mark to commit after a run that saw ``seen`` as its extreme cursor value."""
        if self.end_value is not None:
            return committed  # a backfill leaves the live mark where it was
        if seen is None:
            return committed
        if committed is None:
            return seen
        return max(committed, seen) if self.last_value_func == "max" else min(committed, seen)


def incremental(
    cursor_path: str, *, initial_value: Any = None, last_value_func: Literal["max", "min"] = "max",
    lag: Any = None, end_value: Any = None,
) -> Incremental:
    """Declare an incremental cursor as an extract function's parameter default.

    >>> @asset("events.parquet", write_mode="append")
    ... async def events(since=incremental("updated_at", initial_value=0)):
    ...     yield fetch(after=since.last_value)
    """
    if last_value_func not in ("max", "min"):
        raise DefinitionError(
            f"last_value_func `{last_value_func}` is not supported", hint="use 'max' (default) or 'min'",
        )
    if not isinstance(cursor_path, str) or not cursor_path:
        raise DefinitionError("an incremental cursor needs the name of its column", hint='incremental("updated_at")')
    return Incremental(cursor_path, initial_value, last_value_func, lag, end_value)


class CursorTracker:
    """Follows the extreme value of the cursor column as batches pass (the write callback)."""

    def __init__(self, spec: Incremental) -> None:
        self.spec = spec
        self.value: Any = None

    def observe(self, batch: pa.RecordBatch) -> None:
        import pyarrow.compute as pc  # on first use: it adds to `import madstream`

        if self.spec.cursor_path not in batch.schema.names:
            return
        column = batch.column(self.spec.cursor_path)
        if column.null_count == len(column):
            return
        found = (pc.max if self.spec.last_value_func == "max" else pc.min)(column).as_py()
        if found is None:
            return
        if self.value is None:
            self.value = found
        else:
            self.value = max(self.value, found) if self.spec.last_value_func == "max" else min(self.value, found)


def encode_value(value: Any) -> dict[str, Any] | None:
    """A cursor value as JSON that reads back as the same Python type."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return {"type": "datetime", "value": value.isoformat()}
    if isinstance(value, dt.date):
        return {"type": "date", "value": value.isoformat()}
    if isinstance(value, decimal.Decimal):
        return {"type": "decimal", "value": str(value)}
    if isinstance(value, (bool, int, float, str)):
        return {"type": type(value).__name__, "value": value}
    return {"type": "str", "value": str(value)}


def decode_value(raw: dict[str, Any] | None) -> Any:
    """The Python value :func:`encode_value` wrote."""
    if not raw:
        return None
    kind, value = raw.get("type"), raw.get("value")
    if kind == "datetime":
        return dt.datetime.fromisoformat(value)  # type: ignore[arg-type]
    if kind == "date":
        return dt.date.fromisoformat(value)  # type: ignore[arg-type]
    if kind == "decimal":
        return decimal.Decimal(value)  # type: ignore[arg-type]
    return value
