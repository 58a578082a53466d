"""The options that shape a dataset (write mode, keys, partitions, contracts, checkpoints), checked
when an asset is defined, so a mistake fails before anything runs."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..base.errors import DefinitionError
from ..run.contract import CONTRACTS
from .paths import result_types

__all__ = ["WRITE_MODES", "check_dataset_options", "checkpoint_size"]

#: How a run's rows reach the dataset.
WRITE_MODES = ("replace", "append", "merge", "overwrite_partitions")
_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}


def check_dataset_options(
    name: str, *, path: str, write_mode: str, primary_key: Sequence[str], partition_by: Sequence[str],
    max_open_files: object, checkpoint_every: int | str | None, schema_contract: str,
) -> tuple[int | None, int | None]:
    """Raise ``DefinitionError`` for options that do not fit; returns the checkpoint (rows, bytes)."""
    if write_mode not in WRITE_MODES:
        raise DefinitionError(
            f"write_mode `{write_mode}` is not supported", asset=name,
            hint="use 'replace' (each run replaces the result), 'append' (each run adds its rows), "
                 "'merge' (with primary_key: rows replace those with the same key) or 'overwrite_partitions' "
                 "(with partition_by: a run's rows replace the partitions they fall in)",
        )
    if write_mode == "overwrite_partitions" and not partition_by:
        raise DefinitionError(
            "write_mode='overwrite_partitions' needs partition_by", asset=name,
            hint='@asset(..., partition_by=["day"], write_mode="overwrite_partitions")',
        )
    if (write_mode == "merge") != bool(primary_key):
        raise DefinitionError(
            "write_mode='merge' and primary_key go together", asset=name,
            hint='@asset(..., write_mode="merge", primary_key="id") (or a list of columns)',
        )
    if set(primary_key) & set(partition_by):
        raise DefinitionError(
            "a primary key column cannot be a partition column (partition values live in folder names)",
            asset=name, hint="key on the data columns; rows keep their partition",
        )
    if write_mode == "merge" and len(result_types(path)) > 1:
        raise DefinitionError(
            f"a merged dataset has one result type, not `{path}`", asset=name,
            hint="give the path one type (x.parquet); query it to export others",
        )
    if any(not isinstance(c, str) or not c for c in partition_by) or len(set(partition_by)) < len(partition_by):
        raise DefinitionError(
            f"partition_by {list(partition_by)!r} must name distinct columns", asset=name,
            hint='partition_by=["day"] or partition_by=["day", "region"]',
        )
    if not isinstance(max_open_files, int) or max_open_files < 1:
        raise DefinitionError(f"max_open_files must be a positive number, not {max_open_files!r}", asset=name)
    if checkpoint_every is not None and write_mode in ("replace", "overwrite_partitions"):
        raise DefinitionError(
            "checkpoint_every needs write_mode='append' or 'merge'", asset=name,
            hint="a replaced result or partition is all or nothing; an appended or merged one can commit as it goes",
        )
    if schema_contract not in CONTRACTS:
        raise DefinitionError(
            f"schema_contract `{schema_contract}` is not supported", asset=name,
            hint="use 'evolve' (widen losslessly), 'freeze' (fail on any change) or 'discard_new_columns'",
        )
    return checkpoint_size(checkpoint_every, asset=name)


def checkpoint_size(every: int | str | None, *, asset: str) -> tuple[int | None, int | None]:
    """``checkpoint_every`` as (rows, bytes): ``100_000`` rows, or ``"256MB"`` of Arrow data."""
    if every is None:
        return None, None
    if isinstance(every, int) and not isinstance(every, bool) and every > 0:
        return every, None
    if isinstance(every, str):
        found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]i?B|B)\s*", every, flags=re.IGNORECASE)
        if found:
            return None, max(int(float(found.group(1)) * _UNITS[found.group(2).lower()]), 1)
    raise DefinitionError(
        f"checkpoint_every={every!r} is neither a number of rows nor a size", asset=asset,
        hint='checkpoint_every=100_000 (rows) or checkpoint_every="256MB"',
    )
