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


def test_the_heap_is_trimmed_every_trim_bytes_written_unless_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from madstream.base import allocator

    monkeypatch.setattr(allocator, "_since_trim", 0)
    assert not allocator.written(allocator.TRIM_BYTES - 1)
    glibc = allocator._trimmer() is not None  # malloc_trim exists on glibc only
    assert allocator.written(1) is glibc  # the threshold is crossed: trimmed (really) on glibc
    assert allocator._since_trim == 0
    monkeypatch.setenv("MADSTREAM_TRIM_HEAP", "0")
    assert not allocator.written(allocator.TRIM_BYTES)


@pytest.mark.anyio
@pytest.mark.parametrize("trim_heap", [True, False])
async def test_a_run_counts_what_it_writes_toward_a_trim_only_when_asked(
    trim_heap: bool, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from madstream.base import allocator
    from madstream.stream.channel import pump

    monkeypatch.setattr(allocator, "_since_trim", 0)
    pages = []

    async def rows():
        for i in range(3):
            yield [{"i": i, "text": "x" * 100}]

    assert await pump(rows(), lambda batch, _json: pages.append(batch), asset="pages", trim_heap=trim_heap) == 3
    counted = sum(batch.nbytes for batch in pages)
    assert counted > 0
    assert allocator._since_trim == (counted if trim_heap else 0)
