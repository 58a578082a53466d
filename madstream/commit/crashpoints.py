"""Crash points: named steps of the commit protocol where a test can kill the process.

``MADSTREAM_CRASH_AT=<step>`` makes the process kill itself with ``SIGKILL`` when a run reaches
that step, exactly as an operator's ``kill -9`` or a lost machine would stop it: no cleanup, no
``finally``. The tests use it to prove that whatever step a run dies at, readers see a whole
version (the previous one or the new one), the user's folders hold no temporary names, and the
next run and ``vacuum`` clear what the dead run left. Unset (always, outside tests), a crash
point costs one dictionary lookup.

Steps, in order: ``written`` (every file of the run closed), ``committing`` (the version record
is about to be created), ``committed`` (it exists; the seed's paths not yet refreshed),
``refreshing`` (the seed's paths half refreshed: fragments placed, results not), ``recorded``
(the view is refreshed; the run record is not yet written).
"""

from __future__ import annotations

import os
import signal

__all__ = ["STEPS", "crash_point"]

STEPS = ("written", "committing", "committed", "refreshing", "recorded")


def crash_point(step: str) -> None:
    """Kill this process now if ``MADSTREAM_CRASH_AT`` names ``step``."""
    if os.environ.get("MADSTREAM_CRASH_AT") == step:
        os.kill(os.getpid(), signal.SIGKILL)
