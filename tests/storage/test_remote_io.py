"""Remote file handles on the real servers: big streamed writes, URL-borne options."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from pathlib import Path

import pytest

from madstream import Storage, StorageError, asset, get_fs
from madstream.storage.atomic import Placement, place_many
from madstream.storage.remote import WRITE_CHUNK
from madstream.storage.store import WRITE_PART
from madstream.storage.together import Job, run_together
from madstream.storage.uploads import Uploads

from .conftest import BUCKET, make_backend
from .servers import S3Server, SFTPServer

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

BIG = 20 * 2**20
assert BIG > WRITE_PART and BIG > WRITE_CHUNK  # several multipart parts, several gathered SFTP writes


def _write_big(storage: Storage, path: str) -> str:
    chunk = os.urandom(2**16)
    digest = hashlib.sha256()
    with storage.open_sync(path, "wb") as fh:
        for i in range(BIG // len(chunk)):
            piece = bytes([i % 256]) + chunk[1:]
            fh.write(piece)
            digest.update(piece)
        assert fh.tell() == BIG
    return digest.hexdigest()


def test_s3_streams_big_files_as_multipart_uploads(s3_server: S3Server) -> None:
    import boto3

    storage = Storage(f"s3://{BUCKET}/big", s3_server.options())
    expected = _write_big(storage, "blob.bin")
    assert storage.io.bytes_written == BIG
    client = boto3.client(
        "s3", endpoint_url=s3_server.endpoint, region_name="us-east-1",
        aws_access_key_id="testing-key", aws_secret_access_key="testing-secret-value",
    )
    head = client.head_object(Bucket=BUCKET, Key="big/blob.bin")
    assert head["ContentLength"] == BIG
    parts = -(-BIG // WRITE_PART)  # parts of WRITE_PART bytes, the last one shorter
    assert parts > 1 and head["ETag"].strip('"').endswith(f"-{parts}")
    assert hashlib.sha256(storage.read_bytes_sync("blob.bin")).hexdigest() == expected


def test_sftp_streams_big_files_in_large_writes(sftp_server: SFTPServer) -> None:
    (sftp_server.root / "bigfiles").mkdir(exist_ok=True)
    storage = Storage(sftp_server.url("bigfiles"), sftp_server.options())
    expected = _write_big(storage, "nested/blob.bin")
    on_server = (sftp_server.root / "bigfiles" / "nested" / "blob.bin").read_bytes()
    assert len(on_server) == BIG
    assert hashlib.sha256(on_server).hexdigest() == expected


def _sftp_cipher(storage: Storage) -> str:
    """The cipher the storage's SFTP connection sends with."""
    storage.exists_sync("")  # connects
    return storage.fs.fs.client.get_extra_info("send_cipher")


def test_sftp_prefers_aes_gcm_unless_the_options_choose(sftp_server: SFTPServer) -> None:
    (sftp_server.root / "ciphers").mkdir(exist_ok=True)
    url = sftp_server.url("ciphers")
    # A fresh connection each: fsspec would otherwise hand back the cached one.
    assert _sftp_cipher(Storage(url, {**sftp_server.options(), "skip_instance_cache": True})) == "aes128-gcm@openssh.com"
    chosen = {**sftp_server.options(), "encryption_algs": ["chacha20-poly1305@openssh.com"], "skip_instance_cache": True}
    assert _sftp_cipher(Storage(url, chosen)) == "chacha20-poly1305@openssh.com"
    storage = Storage(url, {**sftp_server.options(), "skip_instance_cache": True})
    storage.write_bytes_sync("a.bin", b"payload")
    assert (sftp_server.root / "ciphers" / "a.bin").read_bytes() == b"payload"


async def test_options_in_the_url_query(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILESYSTEM_URL", f"s3://{BUCKET}/via-url?endpoint_url={s3_server.endpoint}&secret=testing-secret-value")
    monkeypatch.setenv("FILESYSTEM_STORAGE_OPTIONS", json.dumps({"key": "testing-key"}))

    @asset("x/result.csv", name="via_url")
    def rows():
        return [{"id": 1, "name": "a"}]

    await rows()
    assert (await rows.query("SELECT name")).fetchall() == [("a",)]
    fs = await get_fs()
    assert fs.url == f"s3://{BUCKET}/via-url"  # the query became options
    assert "testing-secret-value" not in repr(fs)


async def test_relative_local_url_and_storage_active(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FILESYSTEM_URL", "file://./relative-root")
    other = Storage("memory://madstream-active")

    @asset("x/result.json", name="active_demo")
    def rows():
        return [{"id": 7}]

    with other.active():
        await rows()
        assert (await get_fs()) is other
    assert other.exists("x/result.json")
    assert not (tmp_path / "relative-root" / "x").exists()
    await rows()
    assert (tmp_path / "relative-root" / "x" / "result.json").is_file()


def _remote(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    made = make_backend(name, request, tmp_path)
    return Storage(made.url, made.options)


@pytest.mark.parametrize("name", ["sftp", "s3"])
def test_placing_many_files_at_once_shows_each_and_can_run_again(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    storage = _remote(name, request, tmp_path)
    files = [Placement(f"runs/r1/part-{i}.bin", f"view/sub{i % 2}/part-{i}.bin", 3) for i in range(6)]
    for i, file in enumerate(files):
        storage.write_bytes_sync(file.src, b"ab" + bytes([i]))
        storage.write_bytes_sync(file.dst, b"old")
    # Scratch files already there stand for an earlier attempt whose replies were lost.
    scratch = {file.dst: f"scratch/fixed-{i}" for i, file in enumerate(files)}
    for path in scratch.values():
        storage.write_bytes_sync(path, b"stale")
    for attempt in range(2):
        place_many(storage, files, scratch.__getitem__)
        assert [storage.read_bytes_sync(f.dst) for f in files] == [b"ab" + bytes([i]) for i in range(6)]
        assert [storage.read_bytes_sync(f.src) for f in files] == [b"ab" + bytes([i]) for i in range(6)]  # sources stay
        if name == "sftp" and attempt == 0:
            assert not any(storage.exists_sync(path) for path in scratch.values())  # renamed into place


@pytest.mark.parametrize("name", ["sftp", "s3"])
def test_a_failed_background_upload_fails_the_writer_naming_the_file(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    made = make_backend(name, request, tmp_path)
    storage = Storage(made.url, made.options)
    if name == "s3":  # a bucket that does not exist (the suite's own bucket is shared: never removed)
        storage = Storage("s3://no-such-bucket-here/x", made.options)
    uploads = Uploads(storage)
    if name == "sftp":
        uploads.put("ok/one.bin", b"1")
        storage.write_bytes_sync("blocked", b"a file, not a folder")
        bad = "blocked/two.bin"
    else:
        bad = "two.bin"
    uploads.put(bad, b"2")
    with pytest.raises(StorageError) as caught:
        uploads.wait()
    assert "two.bin" in str(caught.value)
    uploads.cancel()  # after a failure: nothing left running


def test_operations_sent_together_run_limit_at_a_time_and_raise_the_first_failure(s3_server: S3Server) -> None:
    storage = Storage(f"s3://{BUCKET}/together", s3_server.options())
    running, most, ran = 0, 0, []

    def job(i: int) -> Job:
        async def one(fs: object) -> None:
            nonlocal running, most
            running += 1
            most = max(most, running)
            await asyncio.sleep(0)  # let the other workers start theirs
            running -= 1
            ran.append(i)
            if i in (7, 3):
                raise ValueError(f"job {i} failed")

        return one

    with pytest.raises(StorageError, match="job 3 failed"):
        run_together(storage, "probe", "together/x", [job(i) for i in range(100)], limit=4)
    assert sorted(ran) == list(range(100)) and most == 4  # every job ran, never more than 4 at once
