"""The seed's view: the result path and fragment folder show the files of the latest version.

Tools outside madstream read the seed's paths, so right after a commit each result and fragment
of the new version is placed there (a hard link renamed into place on local disk and SFTP, a
server-side copy on object stores), and fragments the version does not have are removed (unless
the asset keeps snapshots). ``view.json`` records which version the paths show and whether the
refresh finished; a refresh a kill interrupted is redone by the next madstream call on the
dataset. madstream's own reads never use these paths, so a refresh can never disturb them.
"""

from __future__ import annotations

import glob
import logging
import posixpath

import orjson

from ..storage.atomic import Placement, place_many
from ..storage.transfer import delete_many
from .crashpoints import crash_point
from .versions import Dataset, FileEntry, Version

__all__ = ["refresh_view", "repair_view"]

log = logging.getLogger("madstream")

#: Rounds of catching up when other writers commit while a refresh runs.
_ROUNDS = 5


def _marker(dataset: Dataset) -> str:
    return posixpath.join(dataset.root, "view.json")


def shown(dataset: Dataset) -> tuple[int, bool] | None:
    """The version the seed's paths show, and whether its refresh finished (``None``: never refreshed)."""
    try:
        raw = orjson.loads(dataset.store.read_bytes_sync(_marker(dataset)))
        return int(raw["version"]), bool(raw["complete"])
    except Exception:  # noqa: BLE001 - missing or torn: the view is refreshed again
        return None


def refresh_view(dataset: Dataset, version: Version) -> None:
    """Make the seed's paths show ``version``, then catch up with versions committed meanwhile."""
    for _ in range(_ROUNDS):
        _show(dataset, version)
        latest = dataset.latest()
        if latest is None or latest.version <= version.version:
            return
        version = latest


def repair_view(dataset: Dataset) -> None:
    """Redo the refresh of the latest version if the seed's paths do not fully show it (best effort)."""
    try:
        numbers = dataset.numbers()
        if not numbers or shown(dataset) == (numbers[-1], True):
            return
        latest = dataset.latest()
        if latest is not None:
            refresh_view(dataset, latest)
    except Exception as exc:  # noqa: BLE001 - the view serves outside tools; madstream reads versions
        log.warning("could not refresh the files at %s (%s)", dataset.result_path, exc)


def _show(dataset: Dataset, version: Version) -> None:
    store = dataset.store
    store.write_bytes_sync(_marker(dataset), orjson.dumps({"version": version.version, "complete": False}))

    def put(entries: list[FileEntry]) -> None:
        place_many(store, [Placement(e.file, e.path, e.size) for e in entries],
                   lambda path: dataset.scratch(posixpath.basename(path)))

    put(version.fragments)  # results last: their fragments are there first
    crash_point("refreshing")
    put(version.results)
    if version.accumulates or version.partition_by:
        # The dataset's folder shows exactly this version's files: a replaced partitioned result's
        # earlier files, and parts retention removed, go.
        keep = {entry.path for entry in version.results}
        stem, ext = posixpath.splitext(dataset.result_path)
        # Only this dataset's types: `x.parquet` and `x.json` are two datasets sharing the folder.
        types = {ext} | {posixpath.splitext(path)[1] for path in keep}
        present = [p for t in sorted(types) for p in store.glob_sync(posixpath.join(glob.escape(stem), "**", f"part-*{t}"))]
        delete_many(store, [path for path in present if path not in keep])
    if version.fragment_dir and not version.snapshot:
        keep = {entry.path for entry in version.fragments}
        # The folder's name is the user's, taken literally: its glob characters match only themselves.
        present = store.glob_sync(posixpath.join(glob.escape(version.fragment_dir), "fragment=*"))
        delete_many(store, [path for path in present if path not in keep])
    store.write_bytes_sync(_marker(dataset), orjson.dumps({"version": version.version, "complete": True}))
