"""Arrow's allocator in a process that imports madstream (madstream/base/allocator.py): the
system pool unless the application named one; each case in a fresh interpreter, since Arrow
reads its choice once per process."""

from __future__ import annotations

import os
import subprocess
import sys

import pyarrow as pa
import pytest

from madstream.base.allocator import ARROW_POOL


def pool_after(script: str, **env: str) -> str:
    """The backend of Arrow's default pool in a fresh interpreter after ``script``, with
    ``env`` added to an environment that names no pool."""
    clean = {k: v for k, v in os.environ.items() if k not in ("ARROW_DEFAULT_MEMORY_POOL", "MADSTREAM_ARROW_POOL")}
    probe = f"{script}\nimport pyarrow as pa\npa.array([1, 2, 3])\nprint(pa.default_memory_pool().backend_name)\n"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env={**clean, **env}
    )
    return out.stdout.strip().splitlines()[-1]


def _another_pool() -> str:
    others = [b for b in pa.supported_memory_backends() if b != ARROW_POOL]
    if not others:
        pytest.skip("this pyarrow build has the system pool only")
    return others[0]


def test_importing_madstream_before_pyarrow_allocates_with_the_system_pool() -> None:
    assert ARROW_POOL == "system"
    assert pool_after("import madstream") == "system"


def test_a_pool_the_application_named_is_kept() -> None:
    other = _another_pool()
    assert pool_after("import madstream", ARROW_DEFAULT_MEMORY_POOL=other) == other


def test_madstream_arrow_pool_names_another_pool_or_leaves_arrows_own() -> None:
    own = pool_after("pass")  # what pyarrow picks by itself in this build
    assert pool_after("import madstream", MADSTREAM_ARROW_POOL="0") == own
    other = _another_pool()
    assert pool_after("import madstream", MADSTREAM_ARROW_POOL=other) == other


def test_after_pyarrow_allocated_arrows_choice_stands() -> None:
    # Arrow chose at its first allocation; naming a pool afterwards changes nothing (and breaks nothing).
    own = pool_after("pass")
    assert pool_after("import pyarrow as pa\npa.array([1])\nimport madstream") == own
