"""Environment switches: how a ``MADSTREAM_*`` setting is turned off."""

from __future__ import annotations

import os

__all__ = ["OFF_WORDS", "is_off", "switched_off"]

#: Values that turn a setting off, whatever their case and surrounding spaces.
OFF_WORDS = frozenset({"0", "false", "no"})


def is_off(value: str) -> bool:
    """Whether ``value`` is one of :data:`OFF_WORDS`."""
    return value.strip().lower() in OFF_WORDS


def switched_off(name: str) -> bool:
    """Whether the environment variable ``name`` is set to turn its setting off."""
    return is_off(os.environ.get(name, ""))
