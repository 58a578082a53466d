"""One exception tree for everything madstream raises.

::

    MadstreamError                      (root: catch this to catch anything of ours)
     ├── DefinitionError                an asset or artifact was declared wrongly (terminal)
     │    ├── TemplateError             a path/name template names a key nobody gave
     │    └── PathEscapeError           a rendered path would leave the storage root
     ├── ArgumentError                  a required argument of the extract function is missing
     ├── ExtractError                   the extract function itself raised (its error is __cause__)
     ├── BatchError                     a batch cannot become a table (unsupported type, bad rows)
     ├── SchemaError                    batches cannot be reconciled into one schema
     ├── QueryError                     DuckDB rejected a query over an asset or artifact
     ├── ConflictError                  another writer committed a change this one contradicts
     └── StorageError                   the filesystem failed
          ├── TransientStorageError     a retry may fix it (timeouts, resets)
          └── PermanentStorageError     a retry will not (auth, missing bucket, permissions)

Every error carries named fields (``asset``, ``path``, ``batch``, ``column``) and builds its
message from them plus a ``hint`` saying what to do. Errors pickle (Prefect and Dask ship them
between processes).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ArgumentError",
    "BatchError",
    "ConflictError",
    "DefinitionError",
    "ExtractError",
    "MadstreamError",
    "PathEscapeError",
    "PermanentStorageError",
    "QueryError",
    "SchemaError",
    "StorageError",
    "TemplateError",
    "TransientStorageError",
]


class MadstreamError(Exception):
    """Root of madstream's errors; the message names the asset, the path and what to do."""

    #: Whether retrying the same operation may succeed.
    transient: bool = False

    def __init__(
        self,
        message: str,
        *,
        asset: str | None = None,
        path: str | None = None,
        batch: int | None = None,
        column: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.detail = message
        self.asset = asset
        self.path = path
        self.batch = batch
        self.column = column
        self.hint = hint
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.asset is not None:
            where.append(f"asset `{self.asset}`")
        if self.path is not None:
            where.append(f"path `{self.path}`")
        if self.batch is not None:
            where.append(f"batch {self.batch}")
        if self.column is not None:
            where.append(f"column `{self.column}`")
        text = (", ".join(where) + ": " if where else "") + self.detail
        if self.hint:
            text += f" — {self.hint}"
        return text

    def _fields(self) -> dict[str, Any]:
        return {"asset": self.asset, "path": self.path, "batch": self.batch, "column": self.column, "hint": self.hint}

    def at(self, **fields: Any) -> MadstreamError:
        """The same error with missing context (``asset``, ``path``, ...) filled in."""
        merged = self._fields()
        merged.update({k: v for k, v in fields.items() if merged.get(k) is None})
        copy = type(self)(self.detail, **merged)
        copy.__cause__ = self.__cause__
        return copy

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild from the fields, so the error survives pickling across processes (Prefect and
        # Dask ship them) and the pickle names only the public class.
        return (type(self), (self.detail,), self._fields())

    def __setstate__(self, fields: dict[str, Any] | None) -> None:
        MadstreamError.__init__(self, self.detail, **(fields or {}))


class DefinitionError(MadstreamError):
    """An asset, artifact or option was declared in a way that cannot work."""


class TemplateError(DefinitionError):
    """A ``path``/``name``/``artifacts_dir`` template cannot be rendered."""


class PathEscapeError(DefinitionError):
    """A rendered path is absolute or climbs out of the storage root with ``..``."""


class ArgumentError(MadstreamError):
    """The extract function was called without a required argument."""


class ExtractError(MadstreamError):
    """The extract function raised; the original exception is ``__cause__``."""


class BatchError(MadstreamError):
    """A batch cannot be turned into rows of a table."""


class SchemaError(MadstreamError):
    """Batches cannot be reconciled into one schema."""


class QueryError(MadstreamError):
    """DuckDB rejected a query over an asset or artifact."""


class ConflictError(MadstreamError):
    """Another writer committed, meanwhile, a merge of some of the same keys: nothing was committed."""


class StorageError(MadstreamError):
    """The filesystem under an asset failed."""


class TransientStorageError(StorageError):
    """A storage fault that a retry may fix (timeout, connection reset)."""

    transient = True


class PermanentStorageError(StorageError):
    """A storage fault that a retry will not fix (auth, missing bucket, permissions)."""
