"""``DataAsset``: the seed's public face of an extract function (made by ``@asset``, :mod:`.decorator`)."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import inspect
import posixpath
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from ..base.defaults import DEFAULT_KEEP_FOR, DEFAULT_KEEP_VERSIONS, MAX_OPEN_FILES
from ..base.errors import ArgumentError, DefinitionError
from ..base.types import ARTIFACT_FILE_TYPES, FILE_TYPES, STREAM_BATCH_ROWS, Params
from ..query.options import ReadCSVOptions, ReadJsonOptions
from ..run.incremental import Incremental
from .naming import default_name
from .options import check_dataset_options
from .paths import hive_keys, result_paths, result_types
from .templates import render_name, render_path, sanitize_name

# Defining an asset needs only the modules above. The engine (running, reading, committing:
# pyarrow, fsspec, pydantic, anyio) is imported by the methods that use it, on first use, so
# `import madstream` and `@asset(...)` stay fast.
if TYPE_CHECKING:
    import pyarrow as pa

    from ..commit.retention import Vacuumed
    from ..commit.schema_history import SchemaVersion
    from ..commit.versions import Version
    from ..query.result import QueryResult
    from ..run.plan import RunPlan
    from .artifact import DataArtifact

__all__ = ["DataAsset"]

_OPTION_NAMES = (
    "path", "artifacts_dir", "name", "snapshot_artifacts", "artifact_filetype",
    "read_json_options", "read_csv_options", "cache_expiration", "keep_versions", "keep_for", "detect_types",
    "write_mode", "schema_contract", "partition_by", "max_open_files", "primary_key",
    "checkpoint_every",
)



class DataAsset:
    """An extract function whose output madstream materializes, caches and queries.

    Create one with :func:`asset`. Awaiting it (``await orders()``) materializes it and returns
    the first result :class:`DataArtifact`; :meth:`query` and :meth:`stream` read the result.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        path: str,
        artifacts_dir: str = "",
        name: str | None = None,
        snapshot_artifacts: bool = False,
        artifact_filetype: ARTIFACT_FILE_TYPES = "json",
        read_json_options: ReadJsonOptions | None = None,
        read_csv_options: ReadCSVOptions | None = None,
        cache_expiration: dt.timedelta | None = None,
        *,
        keep_versions: int = DEFAULT_KEEP_VERSIONS,
        keep_for: dt.timedelta = DEFAULT_KEEP_FOR,
        detect_types: bool = True,
        write_mode: str = "replace",
        schema_contract: str = "evolve",
        partition_by: str | Sequence[str] | None = None,
        max_open_files: int = MAX_OPEN_FILES,
        primary_key: str | Sequence[str] | None = None,
        checkpoint_every: int | str | None = None,
    ) -> None:
        self.fn = fn
        self._path = path
        self._artifacts_dir = artifacts_dir or ""
        self._name = sanitize_name(name or default_name(fn))
        self.snapshot_artifacts = snapshot_artifacts
        self.artifact_filetype = artifact_filetype
        self.read_json_options = read_json_options
        self.read_csv_options = read_csv_options
        self.cache_expiration = cache_expiration
        self.keep_versions = keep_versions
        self.keep_for = keep_for
        self.detect_types = detect_types
        self.write_mode = write_mode
        self.schema_contract = schema_contract
        self.partition_by: tuple[str, ...] = (partition_by,) if isinstance(partition_by, str) else tuple(partition_by or ())
        self.max_open_files = max_open_files
        self.primary_key: tuple[str, ...] = (primary_key,) if isinstance(primary_key, str) else tuple(primary_key or ())
        self.checkpoint_every = checkpoint_every
        self._signature = inspect.signature(fn)
        self._args: tuple[Any, ...] = ()
        self._kwargs: dict[str, Any] = {}
        self._check()

    def _check(self) -> None:
        self._checkpoints = check_dataset_options(
            self._name, path=self._path, write_mode=self.write_mode, primary_key=self.primary_key,
            partition_by=self.partition_by, max_open_files=self.max_open_files,
            checkpoint_every=self.checkpoint_every, schema_contract=self.schema_contract,
        )
        if self.artifact_filetype not in FILE_TYPES:
            raise DefinitionError(
                f"artifact_filetype `{self.artifact_filetype}` is not supported",
                asset=self._name, hint="use 'json', 'parquet' or 'csv'",
            )
        self._check_result_types(self._path)

    def _check_result_types(self, path: str) -> None:
        """Every result type in ``path`` is one madstream writes; a templated one (``x.{filetype}``)
        is checked once its argument is bound, before anything is written."""
        for ext in result_types(path):
            if "{" not in ext and ext not in FILE_TYPES:
                raise DefinitionError(
                    f"result type `{ext}` in `{path}` is not supported",
                    asset=self._name, path=path,
                    hint="end the path with .parquet, .json or .csv (several: `x.parquet|csv`)",
                )

    # -- binding -------------------------------------------------------------------------------
    def with_arguments(self, *args: Any, **kwargs: Any) -> DataAsset:
        """A new asset with these arguments bound (more may be given at call time)."""
        new = copy.copy(self)
        new._args = self._args + args
        new._kwargs = {**self._kwargs, **kwargs}
        try:
            new._signature.bind_partial(*new._args, **new._kwargs)
        except TypeError as exc:
            raise ArgumentError(
                f"arguments do not fit `{self.fn.__name__}{self._signature}`: {exc}",
                asset=self._name, hint="check the arguments passed to with_arguments()",
            ) from exc
        new._check_bound_values()
        return new

    def _check_bound_values(self) -> None:
        """Render what the bound arguments already allow, so a value no path can hold fails here,
        when the asset is bound, not later in a run (missing arguments are left for the call)."""
        values = self._values()
        for template, what in ((self._path, "path"), (self._artifacts_dir, "artifacts_dir")):
            if template:
                rendered = render_path(template, values, asset=self._name, what=what, partial=True)
                if what == "path":
                    self._check_result_types(_bound_types_only(template, rendered))

    def with_options(self, **options: Any) -> DataAsset:
        """A new asset with the given options (``path``, ``name``, ``cache_expiration``, ...) replaced."""
        unknown = set(options) - set(_OPTION_NAMES)
        if unknown:
            raise DefinitionError(
                f"unknown option(s) {sorted(unknown)}", asset=self._name,
                hint=f"options are {', '.join(_OPTION_NAMES)}",
            )
        current: dict[str, Any] = {
            "path": self._path, "artifacts_dir": self._artifacts_dir, "name": self._name,
            "snapshot_artifacts": self.snapshot_artifacts, "artifact_filetype": self.artifact_filetype,
            "read_json_options": self.read_json_options, "read_csv_options": self.read_csv_options,
            "cache_expiration": self.cache_expiration, "keep_versions": self.keep_versions, "keep_for": self.keep_for,
            "detect_types": self.detect_types, "write_mode": self.write_mode, "schema_contract": self.schema_contract,
            "partition_by": self.partition_by, "max_open_files": self.max_open_files, "primary_key": self.primary_key,
            "checkpoint_every": self.checkpoint_every,
        }
        current.update(options)
        new = DataAsset(self.fn, **current)
        new._args, new._kwargs = self._args, dict(self._kwargs)
        return new

    # -- rendering -----------------------------------------------------------------------------
    def _values(self) -> dict[str, Any]:
        bound = self._signature.bind_partial(*self._args, **self._kwargs)
        bound.apply_defaults()
        values: dict[str, Any] = {}
        for value in bound.arguments.values():
            if isinstance(value, DataAsset):
                values.update({k: v for k, v in value._values().items()})
        values.update(bound.arguments)
        return values

    def _plan(self) -> RunPlan:
        """This configuration rendered and frozen for a run, on the current storage."""
        from ..query.shape import detection_options
        from ..run.plan import RunPlan
        from .config import current_storage

        try:
            arguments = self._signature.bind(*self._args, **self._kwargs)
        except TypeError as exc:
            raise ArgumentError(
                f"cannot call `{self.fn.__name__}{self._signature}`: {exc}",
                asset=self._name, path=self._path,
                hint="bind it with with_arguments(...) or pass it when awaiting the asset",
            ) from exc
        arguments.apply_defaults()
        values = self._values()
        name = render_name(self._name, values, asset=self._name)
        path = render_path(self._path, values, asset=name)
        self._check_result_types(path)
        results = result_paths(path)
        if self._artifacts_dir:
            artifacts_dir = render_path(self._artifacts_dir, values, asset=name, what="artifacts_dir")
            fragment_base, hive_source = artifacts_dir, artifacts_dir
        else:
            artifacts_dir = ""
            folder = posixpath.dirname(results[0].lstrip("/"))
            fragment_base = posixpath.join(folder, "_artifacts", f"asset={name}")
            hive_source = folder
        cursor = next(((k, v) for k, v in arguments.arguments.items() if isinstance(v, Incremental)), None)
        parameters = _parameters(arguments, skip=cursor[0] if cursor else None)
        asset_id = hashlib.sha256(f"{name}\x00{path}\x00{artifacts_dir}\x00{parameters}".encode()).hexdigest()[:32]
        return RunPlan(
            store=current_storage(), name=name, path=path, results=results, fragment_base=fragment_base,
            fragment_type=self.artifact_filetype, extras=hive_keys(hive_source), asset_id=asset_id,
            parameters=parameters, snapshot=self.snapshot_artifacts, cache_expiration=self.cache_expiration,
            keep_versions=self.keep_versions, keep_for=self.keep_for,
            fn=self.fn, args=arguments.args, kwargs=arguments.kwargs,
            detect_types=self.detect_types, reader_options=detection_options(self._fragment_options()),
            write_mode=self.write_mode, cursor=cursor, schema_contract=self.schema_contract,
            partition_by=self.partition_by, max_open_files=self.max_open_files, primary_key=self.primary_key,
            checkpoint_rows=self._checkpoints[0], checkpoint_bytes=self._checkpoints[1],
        )

    def _fragment_options(self) -> ReadJsonOptions | ReadCSVOptions | None:
        """The reader options the original read this asset's fragments with."""
        return self.read_csv_options if self.artifact_filetype == "csv" else self.read_json_options

    def _artifact(self, plan: RunPlan, version: Version) -> DataArtifact:
        """The first result of ``version``: shown at the seed's path, read from the version's own file(s)."""
        from .artifact import result_artifact

        return result_artifact(
            plan.results[0], plan.store, version, self.read_json_options, self.read_csv_options,
            detect_types=self.detect_types,
        )

    @property
    def name(self) -> str:
        """The asset's name, rendered with its arguments when they are all bound."""
        try:
            return render_name(self._name, self._values(), asset=self._name)
        except (DefinitionError, TypeError):
            return self._name

    @property
    def path(self) -> str:
        """The result path, rendered with its arguments when they are all bound."""
        try:
            return render_path(self._path, self._values(), asset=self._name)
        except (DefinitionError, TypeError):
            return self._path

    @property
    def artifacts_dir(self) -> str:
        """The intermediate artifacts folder (as given; ``""`` means beside the result)."""
        return self._artifacts_dir

    @property
    def id(self) -> str:
        """A stable id of this configuration (name, path and arguments)."""
        return self._plan().asset_id

    @property
    def args(self) -> tuple[Any, ...]:
        return self._args

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self._kwargs)

    def __repr__(self) -> str:
        return f"DataAsset(name={self.name!r}, path={self.path!r})"

    # -- running -------------------------------------------------------------------------------
    async def __call__(self, *args: Any, **kwargs: Any) -> DataArtifact:
        """Bind ``args``/``kwargs`` and materialize; returns the first result artifact."""
        from ..run.lifecycle import materialize

        target = self.with_arguments(*args, **kwargs) if args or kwargs else self
        plan = target._plan()
        return target._artifact(plan, await materialize(plan))

    async def _current(self, version: int | None = None, as_of: dt.datetime | None = None) -> DataArtifact:
        """The result to read: a chosen version, else this process's last run, a fresh cached one, or a new run."""
        import anyio.to_thread

        from ..run.lifecycle import current
        from .versions import chosen_version

        plan = self._plan()
        if version is None and as_of is None:
            return self._artifact(plan, await current(plan))
        chosen = await anyio.to_thread.run_sync(lambda: chosen_version(plan, version=version, as_of=as_of))
        return self._artifact(plan, chosen)

    async def _latest(self) -> DataArtifact | None:
        """The last intact result on storage however old, or ``None`` if there is none."""
        import anyio.to_thread

        from ..run.results import latest_version

        plan = self._plan()
        found = await anyio.to_thread.run_sync(latest_version, plan)
        return None if found is None else self._artifact(plan, found)

    async def query(
        self, query_str: str | None = None, params: Params = None, *,
        version: int | None = None, as_of: dt.datetime | None = None,
    ) -> QueryResult:
        """``FROM <result> {query_str}``; materializes first only if there is no result to read.

        ``version=`` reads that committed version, ``as_of=`` the newest committed at or before
        that moment (see :meth:`versions`); neither ever runs the extract function.

        >>> await orders.query("SELECT city, avg(amount) GROUP BY city")
        >>> await orders.query("SELECT count(*)", version=3)
        """
        return await (await self._current(version, as_of)).query(query_str, params)

    async def stream(
        self, query_str: str | None = None, *, params: Params = None, batch_rows: int = STREAM_BATCH_ROWS,
        version: int | None = None, as_of: dt.datetime | None = None,
    ) -> AsyncIterator[Any]:
        """Polars frames of at most ``batch_rows`` rows over the query result (``version=``/``as_of=`` as in :meth:`query`).

        >>> async for frame in orders.stream("WHERE amount > 100"):
        ...     print(frame.height)
        """
        artifact = await self._current(version, as_of)
        async for frame in artifact.stream(query_str, params=params, batch_rows=batch_rows):
            yield frame

    async def versions(self) -> list[Version]:
        """This configuration's committed versions, oldest first (``version``, ``run_id``,
        ``committed``, ``rows``, ``parameters``, and every file with its size and checksum)."""
        import anyio.to_thread

        from .versions import own_versions

        plan = self._plan()
        return await anyio.to_thread.run_sync(own_versions, plan)

    async def schema_history(self) -> list[SchemaVersion]:
        """Per committed version (oldest first): its columns, and the columns it added, changed
        (widened or retyped) or dropped against the version before it.

        >>> [(h.version, h.added, h.changed) for h in await orders.schema_history()]
        [(1, {}, {}), (2, {'note': 'VARCHAR'}, {'id': ('BIGINT', 'VARCHAR')})]
        """
        from ..commit.schema_history import history_of

        return history_of(await self.versions())

    async def verify(self) -> list[str]:
        """Read every file of every committed version of this configuration and check its checksum;
        returns the problems found (``[]``: every file is as committed)."""
        import anyio.to_thread

        from ..commit.versions import verify
        from ..run.results import dataset_of
        from .versions import own_versions

        plan = self._plan()
        dataset = dataset_of(plan)

        def check() -> list[str]:
            return [problem for v in own_versions(plan) for problem in verify(dataset, v)]

        return await anyio.to_thread.run_sync(check)

    async def vacuum(self) -> Vacuumed:
        """Remove versions past retention (``keep_versions`` / ``keep_for``), their files, and
        what killed runs left behind; returns what was removed."""
        import anyio.to_thread

        from ..commit.retention import vacuum
        from ..run.results import dataset_of

        plan = self._plan()
        dataset = dataset_of(plan)
        return await anyio.to_thread.run_sync(
            lambda: vacuum(dataset, keep_versions=plan.keep_versions, keep_for=plan.keep_for)
        )

    async def arrow_batches(self) -> AsyncIterator[pa.RecordBatch]:
        """Materialize (as awaiting the asset does), then every result row as Arrow batches.

        An extract function may yield another asset: its rows stream in through this.
        """
        from ..run.observe import expect_rows

        artifact = await self()
        expect_rows(artifact.rows or 0)  # the yielding run's progress display can draw a bar
        async for batch in artifact.stream_arrow():
            yield batch


def _bound_types_only(template: str, rendered: str) -> str:
    """``rendered`` with the result types that still wait for an argument put back as templates."""
    parts = [(t if "{" in t and r.endswith("unbound") else r) for t, r in zip(template.split("|"), rendered.split("|"))]
    return "|".join(parts)


def _param_default(value: object) -> object:
    if isinstance(value, DataAsset):
        return {"asset": value.name, "path": value.path, "args": value._values()}
    return str(value)


def _parameters(arguments: inspect.BoundArguments, skip: str | None = None) -> str:
    # An incremental cursor is state, not configuration: every run of it is one configuration.
    values = {k: v for k, v in arguments.arguments.items() if k != skip}
    return orjson.dumps(
        values, default=_param_default,
        option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS,
    ).decode()
