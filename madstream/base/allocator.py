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

import os

__all__ = ["ARROW_POOL", "choose_arrow_pool"]

#: The pool named when nothing else is: glibc's allocator, which every pyarrow build supports
#: (jemalloc is not in every wheel, and Arrow warns on a pool it lacks).
ARROW_POOL = "system"


def choose_arrow_pool() -> None:
    """Name :data:`ARROW_POOL` as Arrow's default pool unless one is named already."""
    wanted = os.environ.get("MADSTREAM_ARROW_POOL", ARROW_POOL).strip()
    if wanted and wanted.lower() not in ("0", "false", "no"):
        os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", wanted)
