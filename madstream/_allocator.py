"""Allocator: which memory pool pyarrow allocates the pipeline's buffers from.

pyarrow's default pool (mimalloc) keeps freed pages in per-thread heaps. A streaming run
allocates batches in one thread and frees them in another, so those heaps hold on to tens of
MiB the run no longer uses: 1M workload rows peak at ~245 MiB RSS with it and ~200 MiB with
the system allocator, at the same speed (``benches/bench_memory.py``). A run therefore switches
the process's default pool to the system allocator, unless the user chose a pool through
``ARROW_DEFAULT_MEMORY_POOL`` or set one that is not mimalloc.
"""

from __future__ import annotations

import os
import threading

import pyarrow as pa

__all__ = ["prefer_system_pool"]

_done = False
_lock = threading.Lock()


def prefer_system_pool() -> None:
    """Make the system allocator pyarrow's default pool, once, where the user has not chosen."""
    global _done
    if _done:
        return
    with _lock:
        if not _done:
            if not os.environ.get("ARROW_DEFAULT_MEMORY_POOL") and pa.default_memory_pool().backend_name == "mimalloc":
                pa.set_memory_pool(pa.system_memory_pool())
            _done = True
