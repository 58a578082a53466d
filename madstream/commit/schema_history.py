"""Schema history: what each version changed in its configuration's columns.

A version records its column types; comparing each with the previous version of its own
configuration (two configurations sharing a path alternate versions, so comparing across them
would report noise) says which columns were added, widened or retyped, or dropped. A change
within a run (its first batches had another type) is recorded by the writer and added when the
comparison misses it, e.g. in a configuration's first version.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .versions import Version

__all__ = ["SchemaVersion", "column_changes", "history_of", "schema_changes"]

_COLUMN = re.compile(r"`([^`]*)`")


def column_changes(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """``["column `id` BIGINT -> VARCHAR", "new column `t` DOUBLE", "dropped column `x`"]``."""
    out = []
    for name, kind in after.items():
        if name not in before:
            out.append(f"new column `{name}` {kind}")
        elif before[name] != kind:
            out.append(f"column `{name}` {before[name]} -> {kind}")
    out.extend(f"dropped column `{name}`" for name in before if name not in after)
    return out


def schema_changes(versions: Iterable[Version]) -> dict[str, list[str]]:
    """Run id → the schema changes its version brought (``versions`` oldest first, any configurations).

    Each version is compared with the previous one of its own configuration: two configurations
    sharing a path alternate versions, and comparing across them would report noise. A change
    within the run (its first batches had another type) is added when the comparison misses it,
    e.g. in a configuration's first version.
    """
    out: dict[str, list[str]] = {}
    previous: dict[str, Version] = {}
    for version in versions:
        before = previous.get(_chain(version))
        found = column_changes(before.columns, version.columns) if before is not None else []
        covered = {m.group(1) for change in found if (m := _COLUMN.search(change))}
        within = [
            f"{change} within the run" for change in version.schema_changes
            if (m := _COLUMN.search(change)) is None or m.group(1) not in covered
        ]
        out[version.run_id] = found + within
        previous[_chain(version)] = version
    return out


def _chain(version: Version) -> str:
    """Which versions follow one another: a configuration's, or every version of an appended dataset."""
    return "" if version.accumulates else version.asset_id


@dataclass(frozen=True)
class SchemaVersion:
    """One version's schema and how it differs from the version before it (of its configuration)."""

    version: int
    committed: dt.datetime
    run_id: str
    columns: dict[str, str]
    #: ``{column: type}`` of columns the previous version did not have.
    added: dict[str, str] = field(default_factory=dict)
    #: ``{column: (before, after)}`` of columns whose type changed.
    changed: dict[str, tuple[str, str]] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)
    #: The same, as sentences (with changes inside the run).
    changes: list[str] = field(default_factory=list)


def history_of(versions: Iterable[Version]) -> list[SchemaVersion]:
    """The schema of each version (oldest first) and what it changed."""
    versions = list(versions)
    sentences = schema_changes(versions)
    previous: dict[str, Version] = {}
    out = []
    for v in versions:
        before = previous.get(_chain(v))
        old = before.columns if before is not None else {}
        out.append(SchemaVersion(
            version=v.version, committed=v.committed, run_id=v.run_id, columns=dict(v.columns),
            added={k: t for k, t in v.columns.items() if before is not None and k not in old},
            changed={k: (old[k], t) for k, t in v.columns.items() if k in old and old[k] != t},
            dropped=[k for k in old if k not in v.columns],
            changes=sentences.get(v.run_id, []),
        ))
        previous[_chain(v)] = v
    return out
