"""Schema contracts: what a run may do to the columns its dataset already has.

``evolve`` (the default) widens losslessly, as within a run. ``freeze`` fails a run that would
add a column or change a type, before anything is committed, listing every difference.
``discard_new_columns`` keeps the dataset's columns and drops any other from the rows as they
pass. The baseline is the dataset's newest version, whichever configuration committed it; a
dataset's first run sets it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ..base.errors import SchemaError

if TYPE_CHECKING:  # only annotations: the API checks CONTRACTS when an asset is defined
    import pyarrow as pa

    from ..base.types import Encoded

__all__ = ["CONTRACTS", "check_frozen", "contracted"]

CONTRACTS = ("evolve", "freeze", "discard_new_columns")

Write = Callable[["pa.RecordBatch", "Encoded | None"], None]


def _hint(baseline: Mapping[str, str]) -> str:
    return (
        f"the dataset's schema is frozen at {len(baseline)} column(s); yield only those columns with their types, "
        "or give the asset schema_contract='evolve' (or 'discard_new_columns')"
    )


def freezing(write: Write, baseline: Mapping[str, str]) -> Write:
    """``write`` that fails at the first batch with a column the frozen schema lacks."""
    known = set(baseline)

    def frozen(batch: pa.RecordBatch, json: Encoded | None = None) -> None:
        extra = [name for name in batch.schema.names if name not in known]
        if extra:
            raise SchemaError(
                f"new column(s) {', '.join(f'`{n}`' for n in extra)} in a dataset whose schema is frozen",
                hint=_hint(baseline),
            )
        write(batch, json)

    return frozen


def check_frozen(baseline: Mapping[str, str], columns: Mapping[str, str]) -> None:
    """Raise if the run's final ``columns`` add to or retype the frozen ``baseline``."""
    differences = [f"new column `{n}` {t}" for n, t in columns.items() if n not in baseline]
    differences += [f"column `{n}` {baseline[n]} -> {t}" for n, t in columns.items() if n in baseline and baseline[n] != t]
    if differences:
        raise SchemaError(
            f"the run would change a frozen schema: {'; '.join(differences)}; nothing was committed",
            hint=_hint(baseline),
        )


def discarding(write: Write, baseline: Mapping[str, str]) -> Write:
    """``write`` that drops every column the dataset does not have yet."""
    known = set(baseline)

    def kept(batch: pa.RecordBatch, json: Encoded | None = None) -> None:
        names = batch.schema.names
        if all(name in known for name in names):
            write(batch, json)
        else:  # the JSON lines hold the dropped columns too: the writer encodes what is kept
            write(batch.select([name for name in names if name in known]), None)

    return kept


def contracted(write: Write, contract: str, baseline: Mapping[str, str] | None) -> Write:
    """``write`` under ``contract`` against ``baseline`` (none yet: the first run sets it)."""
    if not baseline or contract == "evolve":
        return write
    return freezing(write, baseline) if contract == "freeze" else discarding(write, baseline)
