"""Backends for the storage conformance suite: local, memory, SFTP and S3 on loopback servers.

The servers start once per session (well under a second each); every test gets its own folder
or key prefix on them, so tests never see each other's files.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest

from madstream import ConflictError

from .servers import S3Server, SFTPServer

BACKENDS = ("local", "memory", "sftp", "s3")
BUCKET = "madstream-tests"


@dataclass
class Backend:
    """One configured storage: its ``FILESYSTEM_URL`` and options, as set for the test."""

    name: str
    url: str
    options: dict[str, Any] = field(default_factory=dict)
    #: Whether another process can see the same files (not so for ``memory://``).
    shared: bool = True

    @property
    def env(self) -> dict[str, str]:
        env = {"FILESYSTEM_URL": self.url}
        if self.options:
            env["FILESYSTEM_STORAGE_OPTIONS"] = json.dumps(self.options)
        return env

    def child_env(self, **extra: str) -> dict[str, str]:
        """The environment of a child process (a writer killed or raced by a test) on this storage."""
        return {**os.environ, **self.env, "PYTHONPATH": os.pathsep.join(sys.path), "MADSTREAM_PROGRESS": "0", **extra}


@pytest.fixture(scope="session")
def sftp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SFTPServer]:
    server = SFTPServer(tmp_path_factory.mktemp("sftp-root"))
    server.start()
    yield server
    server.close()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = S3Server()
    server.make_bucket(BUCKET)
    yield server
    server.close()


def make_backend(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    unique = uuid.uuid4().hex[:10]
    if name == "local":
        return Backend(name, f"file://{tmp_path / 'storage'}")
    if name == "memory":
        return Backend(name, f"memory://madstream-{unique}", shared=False)
    if name == "sftp":
        server: SFTPServer = request.getfixturevalue("sftp_server")
        (server.root / unique).mkdir()
        return Backend(name, server.url(unique), server.options())
    s3: S3Server = request.getfixturevalue("s3_server")
    return Backend(name, f"s3://{BUCKET}/{unique}", s3.options())


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Backend:
    """The test's storage, configured through the environment as a user would."""
    made = make_backend(request.param, request, tmp_path)
    for key, value in made.env.items():
        monkeypatch.setenv(key, value)
    return made


async def race(
    slow: Callable[[], Awaitable[object]], rival: Callable[[], Awaitable[object]], started: anyio.Event, go: anyio.Event,
) -> ConflictError | None:
    """Run ``slow`` (which sets ``started``, then waits for ``go`` before it yields rows), commit
    ``rival`` meanwhile, then let ``slow`` finish: its ``ConflictError``, or ``None`` if it landed."""
    outcome: list[ConflictError | None] = []

    async def run_slow() -> None:
        try:
            await slow()
            outcome.append(None)
        except ConflictError as exc:
            outcome.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(run_slow)
        await started.wait()
        await rival()
        go.set()
    return outcome[0]
