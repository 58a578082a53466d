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
    assert block.exists("notes/a.txt")
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


async def test_used_block_pickles_with_its_secrets_and_reads_back(sftp_server: SFTPServer) -> None:
    import pickle

    (sftp_server.root / "pickled").mkdir(exist_ok=True)
    FsspecFileSystem: Any = madstream.FsspecFileSystem
    block = FsspecFileSystem(basepath=sftp_server.url("pickled"), storage_options=sftp_server.options())
    storage = block.as_storage()
    await block.write_path("notes/a.txt", b"before pickling")
    assert block.as_storage() is storage  # one connection per block, opened above

    back = pickle.loads(pickle.dumps(block))
    assert back.basepath == sftp_server.url("pickled")
    assert back.storage_options.get_secret_value() == sftp_server.options()
    assert await back.read_path("notes/a.txt") == b"before pickling"
    assert back.as_storage() is not storage  # the unpickled block connected anew
    assert back.as_storage().url == storage.url
    assert block.as_storage() is storage  # pickling did not drop the original's connection
    for text in (repr(block), str(block), repr(back), str(back), repr(back.as_storage())):
        assert sftp_server.password not in text
    assert repr(back) == f"FsspecFileSystem(basepath={sftp_server.url('pickled')!r}, storage_options=SecretDict('**********'))"


async def test_put_directory_honours_an_ignore_file(tmp_path: Path) -> None:
    source = tmp_path / "project"
    for rel, content in {
        "flow.py": b"flow",
        "build.txt": b"not the build folder",
        "app.log": b"noise",
        "sub/keep.py": b"keep",
        "sub/debug.log": b"noise",
        "build/out.bin": b"artifact",
        "sub/build/deep.bin": b"artifact",
    }.items():
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        (source / rel).write_bytes(content)
    ignore = tmp_path / ".prefectignore"
    ignore.write_text("# comments and blank lines are fine\n\n*.log\nbuild/\n", encoding="utf-8")

    FsspecFileSystem: Any = madstream.FsspecFileSystem
    block = FsspecFileSystem(basepath=f"file://{tmp_path / 'remote'}")
    uploaded = await block.put_directory(str(source), "deploy", ignore_file=str(ignore))
    assert uploaded == 3
    remote = tmp_path / "remote"
    landed = sorted(p.relative_to(remote).as_posix() for p in remote.rglob("*") if p.is_file())
    assert landed == ["deploy/build.txt", "deploy/flow.py", "deploy/sub/keep.py"]
    assert await block.read_path("deploy/sub/keep.py") == b"keep"
    # Without an ignore file everything goes up.
    assert await block.put_directory(str(source), "all") == 7


async def test_block_name_of_a_missing_block_says_how_to_fix_it(
    prefect_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FILESYSTEM_BLOCK_NAME", "madstream-no-such-block")
    with pytest.raises(madstream.PermanentStorageError) as caught:
        await get_fs()
    message = str(caught.value)
    assert "madstream-no-such-block" in message
    assert "FILESYSTEM_BLOCK_NAME" in message
    assert 'FsspecFileSystem(basepath=...).save("madstream-no-such-block")' in message
    assert caught.value.transient is False
    assert isinstance(caught.value.__cause__, ValueError)
