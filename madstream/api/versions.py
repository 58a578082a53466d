"""Time travel: which committed version of a configuration a query reads.

``version=`` picks a version by number, ``as_of=`` the newest committed at or before a moment;
either way the version must be this configuration's own (a dataset's path can be shared by
configurations) and its result files must still be as they were committed.
"""

from __future__ import annotations

import datetime as dt

from ..base.errors import MadstreamError, QueryError
from ..commit.versions import Version
from ..run.plan import RunPlan
from ..run.results import dataset_of, intact

__all__ = ["chosen_version", "own_versions"]


def own_versions(plan: RunPlan) -> list[Version]:
    """The committed versions of ``plan``'s configuration, oldest first (blocking).

    Every version of an appended dataset is the whole dataset, whichever configuration (or
    cursor position) added the last part, so all of them are the configuration's own.
    """
    history = dataset_of(plan).history()
    return history if plan.appends else [v for v in history if v.asset_id == plan.asset_id]


def chosen_version(plan: RunPlan, *, version: int | None, as_of: dt.datetime | None) -> Version:
    """The version ``version=`` or ``as_of=`` names (blocking); raises a clear error if there is none."""
    mine = own_versions(plan)
    if version is not None:
        found = next((v for v in mine if v.version == version), None)
        if found is None:
            other = dataset_of(plan).read(version) if version in dataset_of(plan).numbers() else None
            detail = (
                f"version {version} of `{plan.results[0]}` holds another configuration's data ({other.parameters})"
                if other is not None else f"there is no version {version} of `{plan.results[0]}`"
            )
            raise QueryError(detail, asset=plan.name, path=plan.path, hint=_listing(mine))
    else:
        assert as_of is not None
        moment = as_of if as_of.tzinfo is not None else as_of.replace(tzinfo=dt.UTC)
        earlier = [v for v in mine if v.committed <= moment]
        if not earlier:
            raise QueryError(
                f"no version was committed at or before {moment.isoformat()}", asset=plan.name, path=plan.path,
                hint=_listing(mine),
            )
        found = earlier[-1]
    if not intact(plan, found):
        raise MadstreamError(
            f"the files of version {found.version} changed after it was committed ({found.results[0].file})",
            asset=plan.name, path=plan.path, hint="query another version, or materialize the asset again",
        )
    return found


def _listing(mine: list[Version]) -> str:
    if not mine:
        return "this configuration has no committed version: materialize it first"
    numbers = ", ".join(str(v.version) for v in mine[-10:])
    return f"this configuration's versions: {numbers} (await asset.versions() lists them with their times)"
