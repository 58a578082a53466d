"""Defaults of an asset's options, kept here, on the ground floor, so defining an asset (the API's
signatures) needs none of the layers that apply them: those import pyarrow, fsspec and pydantic."""

from __future__ import annotations

import datetime as dt

__all__ = ["DEFAULT_KEEP_FOR", "DEFAULT_KEEP_VERSIONS", "MAX_OPEN_FILES"]

#: Retention: a version is kept while it is one of the newest this many ...
DEFAULT_KEEP_VERSIONS = 10
#: ... or younger than this.
DEFAULT_KEEP_FOR = dt.timedelta(days=7)
#: Open partition files at once, by default.
MAX_OPEN_FILES = 64
