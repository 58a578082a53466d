"""Appends: the version an appending run commits lists every part so far and its own.

A run of an asset with ``write_mode="append"`` writes its rows once, as new parts; its version
record lists the parts of the newest version before it plus its own, so a reader of any version
sees exactly the rows committed up to it. The record is rebuilt on the newest version at every
commit attempt (:meth:`~madstream.commit.versions.Dataset.commit`), so two writers appending at
once both land, one after the other, each exactly once.
"""

from __future__ import annotations

from .versions import Version

__all__ = ["appended", "widened", "widest"]

_INTEGERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
_FLOATS = ("FLOAT", "DOUBLE")


def widest(old: str, new: str) -> str:
    """A DuckDB type that holds values of both ``old`` and ``new`` (the parts' columns differ)."""
    if old == new:
        return old
    if old == '"NULL"' or old == "NULL":
        return new
    if new == '"NULL"' or new == "NULL":
        return old
    if old in _INTEGERS and new in _INTEGERS:
        return "HUGEINT" if "UBIGINT" in (old, new) or "HUGEINT" in (old, new) else "BIGINT"
    if old in _INTEGERS + _FLOATS and new in _INTEGERS + _FLOATS:
        return "DOUBLE"
    return "VARCHAR"  # any value reads as text: nothing an earlier part holds is lost


def widened(columns: dict[str, str], more: dict[str, str]) -> dict[str, str]:
    """``columns`` with ``more`` added: a column in both takes the :func:`widest` of its two types."""
    out = dict(columns)
    for name, kind in more.items():
        out[name] = widest(out[name], kind) if name in out else kind
    return out


def appended(draft: Version, newest: Version | None) -> Version:
    """``draft`` (one run's own parts) as the version after ``newest``: all parts, all rows."""
    if newest is None or not newest.accumulates:
        return draft  # the first part (a replaced dataset's files are not carried over)
    columns = widened(newest.columns, draft.columns)
    text_types = {
        name: kind for name, kind in {**newest.text_types, **draft.text_types}.items()
        # Cast on read only when no part holds values of another kind in that column.
        if all(name not in v.columns or v.text_types.get(name) == kind for v in (newest, draft))
    }
    return draft.model_copy(update={
        "results": [*newest.results, *draft.results],
        "rows": newest.rows + draft.rows,
        "columns": columns,
        "text_types": text_types,
        "state": {**newest.state, **draft.state},
    })
