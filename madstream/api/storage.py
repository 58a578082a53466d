"""``Storage``: the public face of a file store, with the seed's helper methods.

``get_fs()`` returns a :class:`Storage`, and the seed's users call ``await fs.write_path(...)``
and friends. As in the seed, ``glob``, ``exists`` and ``mkdirs`` are plain (blocking) calls,
while ``read_path``, ``write_path``, ``move_path``, ``delete_path``, ``write_data``,
``read_data`` and ``open`` are awaited: each of those is a worker-thread hop around a blocking
primitive of the :class:`~madstream.storage.store.FileStore` below. :meth:`Storage.active`
makes a storage the current one for a block of code (see
:func:`~madstream.api.config.current_storage`).
"""

from __future__ import annotations

import contextlib
import contextvars
import io
from collections import defaultdict
from collections.abc import Generator, Iterator
from typing import Any

import anyio.to_thread
import orjson
import pyarrow as pa

from ..run.persist import persist_rows
from ..storage.store import FileStore

__all__ = ["OpenFile", "Storage", "active_storage"]

_active: contextvars.ContextVar[Storage | None] = contextvars.ContextVar("madstream_storage", default=None)

#: The seed reads CSV with pandas' defaults; these are pandas' default missing-value markers
#: and boolean spellings, so a column parses to the same kind of values.
CSV_NULLS = [
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
]
CSV_TRUE = ["True", "TRUE", "true"]
CSV_FALSE = ["False", "FALSE", "false"]


def active_storage() -> Storage | None:
    """The storage made active by :meth:`Storage.active` in this context, if any."""
    return _active.get()


class Storage(FileStore):
    """A filesystem rooted at a base URL, with the seed's ``FsspecFileSystem`` helpers.

    Args:
        basepath: any fsspec URL; options may ride in its query string (``?endpoint_url=...``).
        storage_options: fsspec options (credentials, ports, ``known_hosts``); never shown.
        retry: how transient faults of idempotent operations are retried.

    ``glob``, ``exists`` and ``mkdirs`` are synchronous, as in the seed; the other helpers are
    ``async`` as in the seed, and run their blocking fsspec calls in worker threads. Every fault
    is raised as a :class:`~madstream.StorageError` naming the URL without secrets.
    """

    @contextlib.contextmanager
    def active(self) -> Iterator[Storage]:
        """Make this the storage that assets and artifacts use inside the ``with`` block.

        Context-local (a ``ContextVar``), so concurrent tasks and worker threads started inside
        the block see it and nothing else does.

        >>> with Storage("s3://bucket/prefix", {"profile": "etl"}).active():
        ...     await orders()
        """
        token = _active.set(self)
        try:
            yield self
        finally:
            _active.reset(token)

    # -- synchronous, as in the seed -----------------------------------------------------------
    def glob(self, pattern: str) -> list[str]:
        """Paths matching ``pattern`` (fsspec glob syntax), relative to the root, sorted.

        >>> len(fs.glob("bound_arguments/*.parquet"))
        2
        """
        return self.glob_sync(pattern)

    def exists(self, path: str) -> bool:
        """Whether ``path`` (a file or a folder) exists."""
        return self.exists_sync(path)

    def mkdirs(self, path: str, exist_ok: bool = False) -> None:
        """Create the folder ``path`` and its parents.

        As in the seed, an existing folder raises :class:`FileExistsError` unless ``exist_ok``.
        Object stores have no folders: there it does nothing (as s3fs does).
        """
        if not exist_ok and not self.is_object_store and self.exists_sync(path):
            raise FileExistsError(f"path `{path}` already exists on storage `{self.url}`")
        self.makedirs_sync(path)

    # -- awaited, as in the seed ---------------------------------------------------------------
    async def write_path(self, path: str, content: bytes) -> str:
        """Write ``content`` to ``path`` (relative to the root); returns the path."""
        await anyio.to_thread.run_sync(self.write_bytes_sync, path, content)
        return path

    async def read_path(self, path: str) -> bytes:
        """Read the whole file at ``path``."""
        return await anyio.to_thread.run_sync(self.read_bytes_sync, path)

    async def delete_path(self, path: str, recursive: bool = False) -> None:
        """Delete ``path`` (a folder needs ``recursive=True``); a missing path is not an error."""
        await anyio.to_thread.run_sync(self.delete_sync, path, recursive)

    async def move_path(self, src: str, dst: str) -> None:
        """Move ``src`` to ``dst``."""
        await anyio.to_thread.run_sync(self.move_sync, src, dst)

    def open(self, path: str, mode: str = "rb", auto_mkdir: bool = False, **kwargs: Any) -> OpenFile:
        """Open ``path`` as a file object.

        Await it as in the seed (``f = await fs.open(p)``), or use it directly as a context
        manager (``with fs.open(p) as f``, ``async with fs.open(p) as f``). Writing creates
        missing parent folders whatever ``auto_mkdir`` says.
        """
        return OpenFile(self.open_sync(path, mode, **kwargs))

    async def write_data(self, path: str, data: object, indent: bool = True, **kwargs: Any) -> str:
        """Write ``data`` as json, parquet or csv (by the extension of ``path``); returns the path.

        As in the seed, ``path`` is a ``str.format`` template: when ``data`` is a dict it is
        formatted with ``kwargs`` and the dict's keys (which win), when it is a list with
        ``kwargs`` and ``data=data``; any other data leaves ``path`` as given. ``indent`` is
        accepted for the seed's signature; madstream chooses its own JSON layout. Data without
        rows writes no file (madstream's rule, unlike the seed's ``[]``).

        >>> await fs.write_data("orders/{id}.json", {"id": 7, "amount": 9.5})
        'orders/7.json'
        """
        if isinstance(data, dict):
            path = path.format(**{**kwargs, **data})
        elif isinstance(data, list):
            path = path.format(**{**kwargs, "data": data})
        await persist_rows(self, path, data, asset=path)
        return path

    async def read_data(self, path: str, encoding: str = "utf-8") -> Any:
        """Read a file written by :meth:`write_data` (or anyone else) back, by its extension.

        ``.parquet`` and ``.csv`` come back as a list of row dicts (the seed's pandas
        ``to_dict(orient="records")``, read here with Arrow: missing values are ``None``
        rather than ``NaN``); CSV values are inferred as pandas infers them (ints, floats,
        booleans, the rest text; dates stay text) and header names are made unique as pandas
        makes them (``Unnamed: 0``, ``a.1``). Anything else is parsed as JSON (the document,
        or a list of the lines of a JSON-lines file).
        """
        raw = await self.read_path(path)
        lower = path.lower()
        if lower.endswith(".parquet"):
            return await anyio.to_thread.run_sync(_parquet_records, raw)
        if lower.endswith(".csv"):
            return await anyio.to_thread.run_sync(_csv_records, raw, encoding)
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            return [orjson.loads(line) for line in raw.splitlines() if line.strip()]


class OpenFile:
    """A file opened by :meth:`Storage.open`: await it, use it as a context manager, or use it as is."""

    def __init__(self, file: Any) -> None:
        self.file = file

    def __await__(self) -> Generator[Any, None, Any]:
        return self._opened().__await__()

    async def _opened(self) -> Any:
        return self.file

    def __enter__(self) -> Any:
        return self.file

    def __exit__(self, *exc: object) -> None:
        self.file.close()

    async def __aenter__(self) -> Any:
        return self.file

    async def __aexit__(self, *exc: object) -> None:
        await anyio.to_thread.run_sync(self.file.close)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.file)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.file, name)


def _parquet_records(raw: bytes) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(raw))
    # A pandas index the seed's writer stored as a column is not a record field in the seed.
    index = [c for c in (table.schema.pandas_metadata or {}).get("index_columns", []) if isinstance(c, str)]
    if index:
        table = table.drop_columns([c for c in index if c in table.column_names])
    return table.to_pylist()


def _csv_records(raw: bytes, encoding: str) -> list[dict[str, Any]]:
    import pyarrow.csv as pacsv

    if encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
        raw = raw.decode(encoding).encode("utf-8")
    convert = pacsv.ConvertOptions(
        null_values=CSV_NULLS, true_values=CSV_TRUE, false_values=CSV_FALSE, strings_can_be_null=True,
    )
    table = pacsv.read_csv(io.BytesIO(raw), convert_options=convert)
    names = _pandas_names(table.column_names)
    temporal = [
        names[i] for i, field in enumerate(table.schema)
        if pa.types.is_temporal(field.type) and not pa.types.is_duration(field.type)
    ]
    if temporal:  # pandas leaves dates and times as text: read those columns again as text
        convert.column_types = {name: pa.string() for name in temporal}
        table = pacsv.read_csv(
            io.BytesIO(raw), read_options=pacsv.ReadOptions(column_names=names, skip_rows=1), convert_options=convert,
        )
    else:
        table = table.rename_columns(names)
    return table.to_pylist()


def _pandas_names(header: list[str]) -> list[str]:
    """CSV header names made unique as pandas' ``read_csv`` makes them.

    An empty name at position ``i`` becomes ``Unnamed: i``; a repeated name gets the first of
    ``.1``, ``.2``, ... that no other column is called. Named columns are settled before the
    unnamed ones, so a named column keeps its name.
    """
    names = [name if name else f"Unnamed: {i}" for i, name in enumerate(header)]
    order = [i for i, name in enumerate(header) if name] + [i for i, name in enumerate(header) if not name]
    taken = set(names)
    counts: defaultdict[str, int] = defaultdict(int)
    for i in order:
        name = names[i]
        count = counts[name]
        counts[name] += 1
        if count:
            while f"{name}.{count}" in taken:
                count += 1
            counts[name] = count + 1
            names[i] = f"{name}.{count}"
            taken.add(names[i])
    return names
