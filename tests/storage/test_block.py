"""The ``FsspecFileSystem`` Prefect block against the session's Prefect test server and the SFTP server.

``prefect_api`` (tests/conftest.py) is Prefect's own local test server, started once per session.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import madstream
from madstream import asset, get_fs

from .servers import SFTPServer

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]


def test_block_saves_loads_and_hides_secrets(prefect_api: str, sftp_server: SFTPServer) -> None:
    (sftp_server.root / "blockdata").mkdir(exist_ok=True)
    FsspecFileSystem: Any = madstream.FsspecFileSystem
    from prefect.filesystems import WritableDeploymentStorage, WritableFileSystem

    assert issubclass(FsspecFileSystem, WritableFileSystem)
    assert issubclass(FsspecFileSystem, WritableDeploymentStorage)
    block = FsspecFileSystem(basepath=sftp_server.url("blockdata"), storage_options=sftp_server.options())
    block.save("madstream-sftp", overwrite=True)

    loaded = FsspecFileSystem.load("madstream-sftp")
    assert loaded.basepath == sftp_server.url("blockdata")
    assert loaded.storage_options.get_secret_value()["password"] == sftp_server.password
    for text in (repr(loaded), str(loaded), loaded.model_dump_json()):
        assert sftp_server.password not in text


async def test_block_name_configures_every_asset(
    prefect_api: str, sftp_server: SFTPServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (sftp_server.root / "viablock").mkdir(exist_ok=True)
    FsspecFileSystem: Any = madstream.FsspecFileSystem
    await FsspecFileSystem(basepath=sftp_server.url("viablock"), storage_options=sftp_server.options()).save(
        "madstream-assets", overwrite=True
    )
    monkeypatch.setenv("FILESYSTEM_BLOCK_NAME", "madstream-assets")

    @asset("orders/result.parquet", name="block_orders")
    def orders():
        return [{"id": 1, "amount": 2.5}, {"id": 2, "amount": 4.0}]

    await orders()
    assert (sftp_server.root / "viablock" / "orders" / "result.parquet").is_file()
    assert (await orders.query("SELECT sum(amount)")).fetchone() == (6.5,)
    fs = await get_fs()
    assert fs.url == sftp_server.url("viablock")

    block = await FsspecFileSystem.load("madstream-assets")
    await block.write_path("notes/a.txt", b"hello")
    assert await block.read_path("notes/a.txt") == b"hello"
    assert await block.exists("notes/a.txt")
    (tmp_path / "up" / "sub").mkdir(parents=True)
    (tmp_path / "up" / "sub" / "b.txt").write_bytes(b"deploy")
    assert await block.put_directory(str(tmp_path / "up"), "deploy") == 1
    await block.get_directory("deploy", str(tmp_path / "down"))
    assert (tmp_path / "down" / "sub" / "b.txt").read_bytes() == b"deploy"


def test_local_materialize_never_imports_prefect(tmp_path: Path) -> None:
    code = (
        "import asyncio, sys\n"
        "from madstream import asset\n"
        "@asset('x/out.parquet', name='x')\n"
        "def x():\n    return [{'a': 1}]\n"
        "asyncio.run(x())\n"
        "assert (asyncio.run(x.query('SELECT a'))).fetchone() == (1,)\n"
        "print('prefect' in sys.modules)\n"
    )
    env = {**os.environ, "FILESYSTEM_URL": f"file://{tmp_path}", "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False"
