"""Arrow's allocator for a process that imports madstream: one that gives freed memory back.

pyarrow's Linux wheels allocate with mimalloc by default, which keeps much of what a run frees
(per-thread heaps, cached segments): a 1M-row run peaked ~35 MiB higher with it than with the
system allocator or jemalloc, on every backend (benches/README.md, "Peak RSS on SFTP and S3").
Arrow reads its choice once, from ``ARROW_DEFAULT_MEMORY_POOL``, at its first allocation; the
pool ``pyarrow.set_memory_pool`` sets later serves only pyarrow's Python-side conversions, not
the parquet writer or the compute kernels, and so saved nothing. madstream therefore names a
pool in the environment when it is imported, before pyarrow has allocated anything (importing
madstream does not import pyarrow).

It only fills a gap: a pool the application (or its environment) named is kept, and so is the
one Arrow chose already if pyarrow allocated before madstream was imported.
``MADSTREAM_ARROW_POOL=0`` leaves the variable alone, another value names the pool to set.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from typing import Any

from .switches import is_off, switched_off

__all__ = ["ARROW_POOL", "TRIM_BYTES", "choose_arrow_pool", "written"]

#: The pool named when nothing else is: glibc's allocator, which every pyarrow build supports
#: (jemalloc is not in every wheel, and Arrow warns on a pool it lacks).
ARROW_POOL = "system"


def choose_arrow_pool() -> None:
    """Name :data:`ARROW_POOL` as Arrow's default pool unless one is named already."""
    wanted = os.environ.get("MADSTREAM_ARROW_POOL", ARROW_POOL).strip()
    if wanted and not is_off(wanted):
        os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", wanted)


#: Bytes of record batches written between two returns of freed heap memory to the system.
TRIM_BYTES = 32 * 2**20

_trim_lock = threading.Lock()
_since_trim = 0
_malloc_trim: Any = None


def written(nbytes: int) -> bool:
    """Count ``nbytes`` of record batches written; every :data:`TRIM_BYTES` of them, give the heap's
    free memory back to the system (glibc's ``malloc_trim``); returns whether it did.

    glibc keeps what a long run frees in its heaps: a 10M-row run on S3 peaked at 252 MiB, and at
    241 MiB with the heap trimmed as it went, at the same speed (benches/README.md). Runs on
    remote storage call it from their write thread (the ctypes call leaves the GIL, so the other
    stages go on); local runs do not, since there it cost ~3 % of the wall time and gained
    nothing. ``MADSTREAM_TRIM_HEAP=0`` turns it off; without glibc it does nothing.
    """
    global _since_trim
    with _trim_lock:
        _since_trim += nbytes
        if _since_trim < TRIM_BYTES:
            return False
        _since_trim = 0
    trim = _trimmer()
    if trim is None:
        return False
    trim(0)
    return True


def _trimmer() -> Any:
    global _malloc_trim
    if switched_off("MADSTREAM_TRIM_HEAP"):
        return None
    if _malloc_trim is None:
        found = None
        try:
            found = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):  # not glibc (macOS, musl without it, Windows)
            pass
        _malloc_trim = found or False
    return _malloc_trim or None
