"""Real storage servers on loopback for the storage tests: SFTP (asyncssh) and S3 (moto).

Each server runs in a background thread, so sshfs and s3fs connect to it over TCP exactly as
they would to a remote host. Nothing listens beyond 127.0.0.1, and every port is picked by the OS.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import asyncssh

__all__ = ["S3Server", "SFTPServer"]


class _Auth(asyncssh.SSHServer):
    """Password authentication against one user, remembering connections so a test can cut them."""

    def __init__(self, owner: SFTPServer) -> None:
        self.owner = owner

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.owner.connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner.connections = {c for c in self.owner.connections if not c.is_closed()}

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == self.owner.user and password == self.owner.password

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        trusted = self.owner.client_key.export_public_key()
        return username == self.owner.user and key.export_public_key() == trusted


class SFTPServer:
    """An asyncssh SFTP server chrooted at ``root``, on 127.0.0.1 with a random port."""

    def __init__(self, root: Path, *, user: str = "mad", password: str = "s3cret-pw") -> None:
        self.root = root
        self.user = user
        self.password = password
        self.port = 0
        self.connections: set[asyncssh.SSHServerConnection] = set()
        self._key = asyncssh.generate_private_key("ssh-ed25519")
        #: The one client key this server trusts (key auth, instead of the password).
        self.client_key = asyncssh.generate_private_key("ssh-ed25519")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="sftp-server")
        self._thread.start()
        self._listener: Any = None

    def _run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    def start(self) -> None:
        """Listen (again, on the same port once one was picked)."""

        async def listen() -> Any:
            return await asyncssh.listen(
                "127.0.0.1", self.port, server_host_keys=[self._key],
                server_factory=lambda: _Auth(self),
                sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(self.root).encode()),
                allow_scp=False,
            )

        self._listener = self._run(listen())
        self.port = self._listener.sockets[0].getsockname()[1]

    def stop(self) -> None:
        """Stop listening and drop every open connection, as a crashed server would."""

        async def down() -> None:
            if self._listener is not None:
                self._listener.close()
                await self._listener.wait_closed()
                self._listener = None
            for conn in list(self.connections):
                conn.abort()
            self.connections.clear()

        self._run(down())

    def close(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def url(self, folder: str) -> str:
        return f"sftp://{self.user}@127.0.0.1:{self.port}/{folder.strip('/')}"

    def options(self) -> dict[str, Any]:
        return {"password": self.password, "known_hosts": None}

    def key_options(self, folder: Path, *, trust_host: bool = True) -> dict[str, Any]:
        """Options for key auth with host-key checking: files for the client key and known_hosts."""
        key_file = folder / "id_ed25519"
        key_file.write_bytes(self.client_key.export_private_key())
        key_file.chmod(0o600)
        host_key = self._key if trust_host else asyncssh.generate_private_key("ssh-ed25519")
        known = folder / "known_hosts"
        known.write_bytes(f"[127.0.0.1]:{self.port} ".encode() + host_key.export_public_key())
        return {"client_keys": [str(key_file)], "known_hosts": str(known)}


class S3Server:
    """moto's S3 in server mode on 127.0.0.1 with a random port."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"

    def options(self) -> dict[str, Any]:
        return {
            "key": "testing-key", "secret": "testing-secret-value",
            "client_kwargs": {"endpoint_url": self.endpoint, "region_name": "us-east-1"},
        }

    def make_bucket(self, name: str) -> None:
        import boto3

        boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id="testing-key", aws_secret_access_key="testing-secret-value",
        ).create_bucket(Bucket=name)

    def close(self) -> None:
        self._server.stop()
