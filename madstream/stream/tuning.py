"""The interpreter settings a run works under, set while runs are under way and put back after.

Both are process-wide, so they are counted: the first run to start sets them, the last to end
puts back what was there before. Each can be turned off by an environment variable.

- **The GIL switch interval** (:data:`SWITCH_INTERVAL`). A write stage releases the GIL inside
  every Arrow call and needs it back a few times a page; each time, the thread converting the
  next page holds it until the interval runs out. At the interpreter's 5 ms the writer spends
  most of a run waiting, and two cores ran slower than one; at 0.1 ms the stages overlap
  (benches/README.md, "Handing the GIL over"). ``MADSTREAM_SWITCH_INTERVAL`` sets another
  value; 0 leaves the interpreter's own. On one processor a hand-off is a context switch and
  nothing runs beside the holder, so there the interval is left alone.
- **The objects that were there before the run stay out of full collections** (``gc.freeze``).
  An extract function allocates a dict per row; every so often that triggers a full collection,
  which walks every tracked object in the process: mostly the modules and objects imported
  before the run (pyarrow, pandas, DuckDB, the application), none of which the run frees. A
  1M-row run spent ~0.45 s in 12 full collections, ~0.07 s with them frozen. Objects made
  during the run are collected as always; the frozen ones return to the oldest generation when
  the last run ends. Left alone when the application froze objects itself (a pre-fork server)
  or turned the collector off, and with ``MADSTREAM_FREEZE_GC=0``. Objects are frozen only if a
  full collection ran since the last unfreeze: garbage from before a run would otherwise be
  frozen again by each of a series of back-to-back runs and never collected. (An application
  that calls ``gc.freeze`` itself while a run is under way has those objects unfrozen when the
  last run ends.)
"""

from __future__ import annotations

import gc
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ..base.switches import switched_off

__all__ = ["SWITCH_INTERVAL", "run_tuning"]

#: The GIL switch interval while runs are under way (seconds; the interpreter's default is 5 ms).
SWITCH_INTERVAL = 0.0001

_lock = threading.Lock()
_runs_under_way = 0
#: The interval before the first run, and the one madstream set (``None``: it set none).
_interval_before = 0.0
_interval_set: float | None = None
_froze = False
#: Whether the collector made a full pass since madstream last unfroze objects (see above).
_collected_since_unfreeze = True


def _interval() -> float:
    try:
        wanted = float(os.environ.get("MADSTREAM_SWITCH_INTERVAL", SWITCH_INTERVAL))
    except ValueError:
        wanted = SWITCH_INTERVAL
    return wanted if _cores() > 1 else 0.0


def _cores() -> int:
    """The processors this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux, or a sandbox that refuses to say
        return os.cpu_count() or 1


def _may_freeze() -> bool:
    return not switched_off("MADSTREAM_FREEZE_GC") and _collected_since_unfreeze and gc.isenabled() and gc.get_freeze_count() == 0


def _note_full_pass(phase: str, info: dict[str, int]) -> None:
    global _collected_since_unfreeze
    # A full pass while objects are frozen leaves them out: only one after the unfreeze counts.
    if phase == "stop" and info.get("generation") == 2 and not _froze:
        _collected_since_unfreeze = True


def _reset_in_child() -> None:
    # A process forked during a run (a fork-started pool in an extract function) runs none of
    # it: its settings are the interpreter's own, restored here.
    global _lock, _runs_under_way
    _lock = threading.Lock()
    _untune()
    _runs_under_way = 0


gc.callbacks.append(_note_full_pass)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_in_child)


@contextmanager
def run_tuning() -> Iterator[None]:
    """The settings above while at least one run's stages work (see the module docstring)."""
    global _runs_under_way
    with _lock:
        if _runs_under_way == 0:
            _tune()
        _runs_under_way += 1
    try:
        yield
    finally:
        with _lock:
            _runs_under_way -= 1
            if _runs_under_way == 0:
                _untune()


def _tune() -> None:
    global _interval_before, _interval_set, _froze, _collected_since_unfreeze
    _interval_before = sys.getswitchinterval()
    wanted = _interval()
    if 0 < wanted < _interval_before:  # never lengthen a shorter interval the application set
        sys.setswitchinterval(wanted)
        _interval_set = sys.getswitchinterval()
    if _may_freeze():
        gc.freeze()
        _froze, _collected_since_unfreeze = True, False


def _untune() -> None:
    global _interval_set, _froze
    # Put back only what madstream set, and only if nothing changed it since.
    if _interval_set is not None and sys.getswitchinterval() == _interval_set:
        sys.setswitchinterval(_interval_before)
    _interval_set = None
    if _froze:
        gc.unfreeze()
        _froze = False
