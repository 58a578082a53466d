"""Shared fixtures: every test gets its own local storage root and metadata location."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def storage_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ``FILESYSTEM_URL`` per test (local disk under pytest's tmp dir)."""
    root = tmp_path / "storage"
    monkeypatch.setenv("FILESYSTEM_URL", f"file://{root}")
    for var in ("FILESYSTEM_BLOCK_NAME", "FILESYSTEM_STORAGE_OPTIONS", "ASSET_METADATA_LOCATION"):
        monkeypatch.delenv(var, raising=False)
    return root
