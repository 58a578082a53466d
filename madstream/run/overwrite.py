"""Partition overwrite: a run's rows replace the partitions they fall in; every other partition stays.

With ``write_mode="overwrite_partitions"`` (and ``partition_by``), a run writes its rows once, as
new parts routed to their partition folders, like any partitioned run. Its version lists the newest
version's files except those in a partition the run wrote to, plus the run's own: reloading one
day of a day-partitioned dataset replaces exactly that day, atomically, and leaves the rest.

A partition is its folder (``day=2024-01-02/``, or ``day=…/region=…/`` for several columns), so
two partitions are the same exactly when their encoded values are. The record is rebuilt on the
newest version at every commit attempt, so overwrites of other partitions by concurrent writers
(and concurrent appends) all land. A version another writer committed after this run started that
changed one of the run's partitions (an append into it, a merge rewriting it, another overwrite) is
a true conflict: the overwrite would silently drop rows its author never saw, so it fails with
:class:`ConflictError` and commits nothing.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable

from ..base.errors import ConflictError
from ..commit.appends import appended, widened
from ..commit.versions import FileEntry, Version

__all__ = ["changed_partitions", "overwritten_version", "partitions_of"]


def partitions_of(entries: Iterable[FileEntry]) -> set[str]:
    """The partition folders (as shown under the result's folder) holding ``entries``."""
    return {posixpath.dirname(entry.path) for entry in entries}


def changed_partitions(before: Version | None, after: Version) -> set[str]:
    """The partitions whose files differ between two consecutive versions (added or dropped)."""
    old = {e.file: e for e in before.results} if before is not None else {}
    new = {e.file for e in after.results}
    return partitions_of([*(e for e in after.results if e.file not in old), *(e for f, e in old.items() if f not in new)])


def overwritten_version(
    draft: Version, newest: Version | None, since: Callable[[Version], list[tuple[Version, set[str]]]] | None = None,
) -> Version:
    """``draft`` as the version after ``newest``: ``newest``'s partitions that the run did not write,
    and the run's parts.

    ``since(newest)`` lists the versions other writers committed after this run started, each with
    the partitions it changed; one that changed a partition this run overwrites is a conflict.
    """
    touched = partitions_of(draft.results)
    for other, changed in since(newest) if since is not None and newest is not None else []:
        clash = sorted(changed & touched)
        if clash and other.run_id != draft.run_id:
            shown = ", ".join(f"`{p}`" for p in clash[:3]) + (f" and {len(clash) - 3} more" if len(clash) > 3 else "")
            raise ConflictError(
                f"version {other.version} (run {other.run_id}) changed {shown} while this run was overwriting "
                f"{'it' if len(clash) == 1 else 'them'}; nothing was committed",
                hint="run the overwrite again: it starts from the newest version (or overwrite disjoint partitions at once)",
            )
    # The newest version's files carry over when they are laid out in the same partitions (a
    # replaced partitioned result too); a dataset partitioned another way starts afresh.
    same_layout = newest is not None and newest.partition_by == draft.partition_by
    base = newest.results if newest is not None and same_layout else []
    kept = [entry for entry in base if posixpath.dirname(entry.path) not in touched]
    results = [*kept, *draft.results]
    columns = widened(draft.columns, _kept_columns(kept, newest))
    # Detected types and state follow an append's rules; the files and columns are the overwrite's.
    merged = appended(draft, newest if same_layout else None)
    return merged.model_copy(update={"results": results, "rows": sum(e.rows or 0 for e in results), "columns": columns})


def _kept_columns(kept: list[FileEntry], newest: Version | None) -> dict[str, str]:
    """The columns the kept files hold (each file's own types when recorded), with the partition columns."""
    if not kept or newest is None:
        return {}
    found: dict[str, str] = {c: newest.columns[c] for c in newest.partition_by if c in newest.columns}
    for entry in kept:
        found = widened(found, entry.columns if entry.columns is not None else newest.columns)
    return found
