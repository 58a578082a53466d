"""Versions: one small record per run is the commit point of a dataset.

A dataset is everything published at one result path. Each run writes its files once, under
names no other run uses, in a folder of its own; nothing is visible until the run creates the
next version record, which lists every file with its size and checksum. Two writers can never
create the same record (:func:`~madstream.storage.atomic.create_exclusive`), so a version holds
exactly one run's files. Layout under the metadata root (``ASSET_METADATA_LOCATION``)::

    datasets/<key>/versions/v0000000007.json    the commit points, one per version
    datasets/<key>/runs/<run id>/results/...    a run's result files (immutable)
    datasets/<key>/runs/<run id>/fragments/...  a run's fragments (immutable)
    datasets/<key>/scratch/...                  temporary files of commits and view refreshes
    datasets/<key>/view.json                    which version the seed's paths show

The seed's paths (the result file, the fragment folder) are refreshed after each commit as the
view of the latest version for tools outside madstream; madstream itself reads version files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import posixpath
import re
from collections.abc import Callable
from typing import Any

import orjson
from pydantic import BaseModel, Field, ValidationError

from ..storage.atomic import create_exclusive
from ..storage.paths import clean
from ..storage.store import FileStore
from .catalog import metadata_root
from .staging import scratch_name

__all__ = ["ACCUMULATING", "Dataset", "FileEntry", "Version", "verify"]

log = logging.getLogger("madstream")

#: Write modes whose every version holds the whole dataset, built on the version before it
#: (whichever configuration wrote that), in parts of a folder.
ACCUMULATING = ("append", "merge", "overwrite_partitions")

_VERSION_FILE = re.compile(r"^v(\d{10})\.json$")


class FileEntry(BaseModel):
    """One file of a version: where the seed's layout shows it, and the immutable file itself."""

    path: str
    file: str
    size: int
    crc32: int
    rows: int | None = None
    #: Modification time (Unix seconds) of ``file`` at commit: with the size, the cheap check.
    mtime: float | None = None
    #: The part's own column types, when the parts of a version differ (appends widen).
    columns: dict[str, str] | None = None
    #: A merged dataset's file: its smallest and largest primary key (a merge skips it when the
    #: run's keys fall outside).
    key_range: list[list[Any]] | None = None


class Version(BaseModel):
    """A committed version of a dataset: one run of one configuration, and all its files."""

    version: int = 0
    run_id: str
    asset_id: str
    asset_name: str
    parameters: str | None = None
    committed: dt.datetime
    results: list[FileEntry]
    fragments: list[FileEntry] = Field(default_factory=list)
    fragment_type: str = "json"
    fragment_dir: str = ""
    snapshot: bool = False
    columns: dict[str, str] = Field(default_factory=dict)
    rows: int = 0
    batches: int = 0
    bytes: int = 0
    schema_changes: list[str] = Field(default_factory=list)
    #: Text columns whose every value is a date, timestamp, time or UUID: ``{column: SQL type}``,
    #: cast on read (the files keep the text).
    text_types: dict[str, str] = Field(default_factory=dict)
    #: ``replace``: ``results`` are this run's files. ``append``: ``results`` are every part of the
    #: dataset so far (the previous version's and this run's); ``rows`` counts them all.
    #: ``overwrite_partitions``: the previous version's parts but those of the partitions this
    #: run wrote, and this run's.
    write_mode: str = "replace"
    #: A merged dataset's primary key columns, and the files holding the rows this version merged
    #: (a concurrent merge of the same keys conflicts with them).
    primary_key: list[str] = Field(default_factory=list)
    merged_files: list[str] = Field(default_factory=list)
    #: The partition columns: ``results`` are files under ``<column>=<value>/`` folders.
    partition_by: list[str] = Field(default_factory=list)
    #: State committed with the rows, e.g. an incremental cursor's high-water mark.
    state: dict[str, Any] = Field(default_factory=dict)

    @property
    def accumulates(self) -> bool:
        """Whether this version holds the parts of the versions before it (see ``ACCUMULATING``)."""
        return self.write_mode in ACCUMULATING

    def runs_referenced(self) -> set[str]:
        """The run folders holding this version's files (an appended version spans many)."""
        found = {self.run_id}
        for entry in [*self.results, *self.fragments]:
            parts = entry.file.split("/")
            if "runs" in parts[:-1]:
                found.add(parts[parts.index("runs") + 1])
        return found


class Dataset:
    """The versions of the dataset at one result path on one store."""

    def __init__(self, store: FileStore, result_path: str) -> None:
        self.store = store
        self.result_path = clean(result_path)
        digest = hashlib.sha1(self.result_path.encode(), usedforsecurity=False).hexdigest()[:12]
        slug = re.sub(r"[^A-Za-z0-9_.=-]+", "_", self.result_path)[-80:].strip("_.") or "root"
        self.root = posixpath.join(metadata_root(), "datasets", f"{slug}-{digest}")

    def run_dir(self, run_id: str) -> str:
        return posixpath.join(self.root, "runs", run_id)

    def run_dir_of(self, file: str) -> str | None:
        """The run folder (``run_dir``) holding the stored ``file``, or ``None`` if it is in none."""
        runs = posixpath.join(self.root, "runs") + "/"
        if not file.startswith(runs) or "/" not in file[len(runs):]:
            return None
        return runs + file[len(runs):].split("/", 1)[0]

    def scratch(self, name: str) -> str:
        return posixpath.join(self.root, "scratch", scratch_name(name))

    def version_path(self, number: int) -> str:
        return posixpath.join(self.root, "versions", f"v{number:010d}.json")

    # -- reading -------------------------------------------------------------------------------
    def numbers(self) -> list[int]:
        """The committed version numbers, ascending."""
        found = self.store.glob_sync(posixpath.join(self.root, "versions", "v*.json"))
        return sorted(int(m.group(1)) for p in found if (m := _VERSION_FILE.match(posixpath.basename(p))))

    def read(self, number: int) -> Version | None:
        """Version ``number``, or ``None`` (with a warning) if its record cannot be read."""
        path = self.version_path(number)
        try:
            return Version.model_validate(orjson.loads(self.store.read_bytes_sync(path)))
        except (orjson.JSONDecodeError, ValidationError, UnicodeDecodeError) as exc:
            log.warning("skipping the unreadable version record %s (%s)", path, type(exc).__name__)
            return None

    def history(self) -> list[Version]:
        """Every readable version, oldest first."""
        return [v for n in self.numbers() if (v := self.read(n)) is not None]

    def latest(self, asset_id: str | None = None) -> Version | None:
        """The newest version (of configuration ``asset_id`` when given)."""
        for number in reversed(self.numbers()):
            found = self.read(number)
            if found is not None and (asset_id is None or found.asset_id == asset_id):
                return found
        return None

    def _newest_below(self, number: int) -> Version | None:
        for found in reversed(self.numbers()):
            if found < number and (version := self.read(found)) is not None:
                return version
        return None

    # -- committing ----------------------------------------------------------------------------
    def commit(self, draft: Version, rebase: Callable[[Version | None], Version] | None = None) -> Version:
        """Create the next version record for ``draft``: the one step that makes a run visible.

        ``rebase`` builds the record from the newest version before each attempt (an append lists
        that version's parts and its own): a writer that loses the race for a number rebases on
        the winner and takes the next, so concurrent appends all land, each exactly once.
        """
        numbers = self.numbers()
        number = (numbers[-1] if numbers else 0) + 1
        while True:
            if rebase is not None:
                draft = rebase(self._newest_below(number))
            record = draft.model_copy(update={"version": number, "committed": dt.datetime.now(dt.UTC)})
            data = record.model_dump_json(indent=2).encode()
            if create_exclusive(self.store, self.version_path(number), data, self.scratch("version.json")):
                return record
            numbers = self.numbers()  # another writer took it: the next free number
            number = max(number, numbers[-1] if numbers else 0) + 1


def verify(dataset: Dataset, version: Version) -> list[str]:
    """Every problem with ``version``'s files (missing, another size, another checksum); ``[]`` if none.

    Reads every file whole (blocking): the thorough check behind ``madstream verify``.
    """
    problems = []
    for entry in [*version.results, *version.fragments]:
        try:
            size, crc = dataset.store.crc32_sync(entry.file)
        except Exception as exc:  # noqa: BLE001 - reported, not raised: verify lists every problem
            problems.append(f"version {version.version}: `{entry.file}` cannot be read ({type(exc).__name__})")
            continue
        if size != entry.size:
            problems.append(f"version {version.version}: `{entry.file}` has {size} bytes, {entry.size} were committed")
        elif crc != entry.crc32:
            problems.append(f"version {version.version}: `{entry.file}` does not match its committed checksum")
    return problems
