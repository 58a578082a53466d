"""A run folder: where one run of an asset writes its files, once, under names no other run uses.

A :class:`RunFolder` is the writer's staging for an asset's run: results go to
``runs/<run id>/results/``, fragments to ``runs/<run id>/fragments/``, working files to
``runs/<run id>/work/``, all inside the dataset's own folder (never the user's). Nothing there
is visible until a version record lists it; a failed run deletes its folder, and a killed run's
folder is removed by ``vacuum`` once it is old enough that no run can still be writing it.
"""

from __future__ import annotations

import logging
import posixpath
import re

from ..storage.paths import clean
from .versions import Dataset

__all__ = ["RunFolder"]

log = logging.getLogger("madstream")

_SAFE = re.compile(r"[^A-Za-z0-9_.=-]")


class RunFolder:
    """The files of one run of one dataset (the writer's ``Staging``)."""

    def __init__(self, dataset: Dataset, run_id: str) -> None:
        self.dataset = dataset
        self.run_id = run_id
        self.root = dataset.run_dir(run_id)

    def stage(self, final: str) -> str:
        # A name of madstream's own (DuckDB globs the paths it reads; a user's `*` or `[` must not).
        return posixpath.join(self.root, "results", _SAFE.sub("_", posixpath.basename(clean(final))))

    def stage_partition(self, partition: str, final: str) -> str:
        # The partition folders (``day=2024-01-02``, values percent-encoded by the writer) stay in
        # the stored path: readers take a partition's values from its path, as hive layouts do.
        name = _SAFE.sub("_", posixpath.basename(clean(final)))
        return posixpath.join(self.root, "results", partition, name)

    def stage_in(self, folder: str, name: str) -> str:
        return posixpath.join(self.root, "fragments", name)

    def scratch_file(self, final: str, tag: str) -> str:
        return posixpath.join(self.root, "work", f"{_SAFE.sub('_', posixpath.basename(clean(final)))}.{tag}")

    def delete_file(self, path: str) -> None:
        """Delete one file the run wrote (blocking, best effort): a segment a crash cut short."""
        self._delete(path)

    def drop_work(self) -> None:
        """Delete the working files once the results are final (blocking, best effort)."""
        self._delete(posixpath.join(self.root, "work"))

    def discard(self) -> None:
        """Delete everything the run wrote (blocking, best effort): it never became a version."""
        self._delete(self.root)

    def _delete(self, path: str) -> None:
        try:
            self.dataset.store.delete_sync(path, recursive=True)
        except Exception as exc:  # noqa: BLE001 - the run's own outcome matters more than its cleanup
            log.warning("run %s: could not delete %s (%s); vacuum removes it later", self.run_id, path, exc)
