"""Shared fixtures: every test gets its own local storage root and metadata location."""

from __future__ import annotations

from collections.abc import Iterator
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


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[str]:
    """Prefect's own local test server, started once per session; yields its API URL."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield str(PREFECT_API_URL.value())
