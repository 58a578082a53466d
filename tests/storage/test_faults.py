"""Storage faults on real servers: a clear madstream error, no secrets, nothing published lost."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from madstream import (
    DataArtifact,
    PermanentStorageError,
    StorageError,
    TransientStorageError,
    asset,
    get_fs,
)

from .servers import S3Server, SFTPServer

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


@pytest.fixture
def own_sftp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SFTPServer]:
    """An SFTP server this test may stop and restart, configured as the storage."""
    server = SFTPServer(tmp_path / "sftp-root")
    server.root.mkdir()
    (server.root / "data").mkdir()
    server.start()
    monkeypatch.setenv("FILESYSTEM_URL", server.url("data").replace("mad@", f"mad:{server.password}@"))
    monkeypatch.setenv("FILESYSTEM_STORAGE_OPTIONS", '{"known_hosts": null}')
    monkeypatch.setenv("MADSTREAM_STORAGE_BACKOFF", "0.05")
    yield server
    server.close()


async def test_sftp_server_stopped_mid_run(own_sftp: SFTPServer) -> None:
    stop = {"now": False}

    @asset("orders/result.parquet", name="orders")
    async def orders():
        yield [{"id": i, "run": 2 if stop["now"] else 1} for i in range(500)]
        if stop["now"]:
            own_sftp.stop()
        yield [{"id": 500, "run": 2 if stop["now"] else 1}]

    await orders()
    stop["now"] = True
    with pytest.raises(TransientStorageError) as caught:
        await orders()
    message = str(caught.value)
    assert f"sftp://mad@127.0.0.1:{own_sftp.port}/data" in message
    assert own_sftp.password not in message
    assert "server is up and reachable" in message

    own_sftp.start()  # the server comes back: the first run's result is intact
    result = await DataArtifact("orders/result.parquet").query("SELECT count(*), max(run)")
    assert result.fetchone() == (501, 1)
    published = sorted(p.name for p in (own_sftp.root / "data" / "orders").iterdir() if not p.name.startswith("."))
    assert published == ["_artifacts", "result.parquet"]


async def test_transient_fault_is_retried_after_reconnect(own_sftp: SFTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MADSTREAM_STORAGE_BACKOFF", "0.2")  # 0.2 + 0.4 + 0.8 s: ample time to come back
    fs = await get_fs()
    await fs.write_path("a.txt", b"before")
    own_sftp.stop()
    threading.Timer(0.15, own_sftp.start).start()
    await fs.write_path("b.txt", b"after")  # first attempts fail; a later one reconnects
    assert await fs.read_path("b.txt") == b"after"
    assert (own_sftp.root / "data" / "b.txt").read_bytes() == b"after"


async def test_sftp_wrong_password(sftp_server: SFTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    (sftp_server.root / "denied").mkdir(exist_ok=True)
    monkeypatch.setenv("FILESYSTEM_URL", sftp_server.url("denied"))
    monkeypatch.setenv("FILESYSTEM_STORAGE_OPTIONS", '{"password": "not-the-password", "known_hosts": null}')

    @asset("x/result.json", name="denied")
    def rows():
        return [{"id": 1}]

    started = time.perf_counter()
    with pytest.raises(PermanentStorageError, match="authentication failed") as caught:
        await rows()
    assert time.perf_counter() - started < 5  # permanent: no retries, no backoff
    message = str(caught.value)
    assert f"sftp://mad@127.0.0.1:{sftp_server.port}/denied" in message
    assert "not-the-password" not in message
    assert "check the user name, password" in message


async def test_s3_missing_bucket(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    options = s3_server.options()
    monkeypatch.setenv("FILESYSTEM_URL", "s3://no-such-bucket/prefix")
    monkeypatch.setenv("FILESYSTEM_STORAGE_OPTIONS", json.dumps(options))

    @asset("x/result.parquet", name="nobucket")
    def rows():
        return [{"id": 1}]

    with pytest.raises(PermanentStorageError, match="bucket") as caught:
        await rows()
    message = str(caught.value)
    assert "s3://no-such-bucket/prefix" in message
    assert options["secret"] not in message
    assert "create the bucket" in message


async def test_no_secret_reaches_files_reprs_or_records(sftp_server: SFTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    (sftp_server.root / "secrets").mkdir(exist_ok=True)
    monkeypatch.setenv("FILESYSTEM_URL", sftp_server.url("secrets").replace("mad@", f"mad:{sftp_server.password}@"))
    monkeypatch.setenv("FILESYSTEM_STORAGE_OPTIONS", '{"known_hosts": null}')

    @asset("x/result.json", name="secretive")
    def rows():
        return [{"id": 1}]

    await rows()
    fs = await get_fs()
    assert sftp_server.password not in repr(fs) and sftp_server.password not in fs.url
    written = [p for p in (sftp_server.root / "secrets").rglob("*") if p.is_file()]
    assert written and all(sftp_server.password.encode() not in p.read_bytes() for p in written)


async def test_bad_storage_options_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILESYSTEM_STORAGE_OPTIONS", "{not json")
    with pytest.raises(StorageError, match="FILESYSTEM_STORAGE_OPTIONS is not valid JSON"):
        await get_fs()


async def test_sftp_key_auth_with_known_hosts(
    sftp_server: SFTPServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (sftp_server.root / "keyed").mkdir(exist_ok=True)
    monkeypatch.setenv("FILESYSTEM_URL", sftp_server.url("keyed"))
    monkeypatch.setenv("FILESYSTEM_STORAGE_OPTIONS", json.dumps(sftp_server.key_options(tmp_path)))

    @asset("x/result.parquet", name="keyed")
    def rows():
        return [{"id": 1}, {"id": 2}]

    await rows()
    assert (await rows.query("SELECT sum(id)")).fetchone() == (3,)
    assert (sftp_server.root / "keyed" / "x" / "result.parquet").is_file()


async def test_sftp_untrusted_host_key(sftp_server: SFTPServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FILESYSTEM_URL", sftp_server.url("keyed"))
    monkeypatch.setenv("FILESYSTEM_STORAGE_OPTIONS", json.dumps(sftp_server.key_options(tmp_path, trust_host=False)))
    with pytest.raises(PermanentStorageError, match="host key .* is not trusted") as caught:
        (await get_fs()).exists("anything")
    assert "known_hosts" in str(caught.value)
