"""Storage faults: every filesystem exception becomes one of madstream's storage errors, once.

fsspec backends raise whatever their transport raises: builtins (``PermissionError``,
``FileNotFoundError``, ``ConnectionRefusedError``), asyncssh disconnects, botocore and aiohttp
errors. This module decides, in one place, whether a fault is *transient* (a retry after a
reconnect may fix it) or *permanent* (auth, missing bucket, permissions: retrying only wastes
time), and builds a message that names the storage URL without secrets and says what to check.
Third-party types are matched by class name so none of those libraries has to be imported.
"""

from __future__ import annotations

import errno
import urllib.parse
from collections.abc import Iterable, Iterator

from ..base.errors import PermanentStorageError, StorageError, TransientStorageError

__all__ = ["classify", "redact", "scrub", "secrets_of", "url_password"]

#: Exception class names (anywhere in the MRO) that mean "the connection or server hiccupped".
_TRANSIENT_NAMES = frozenset({
    "ConnectionLost", "ChannelOpenError", "FSTimeoutError", "SFTPNoConnection", "SFTPConnectionLost",
    "EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError",
    "ClientConnectionError", "ServerDisconnectedError", "ClientOSError", "ClientPayloadError",
    "IncompleteReadError", "ResponseStreamingError",
})
#: ... and names that mean "this will never work as configured".
_AUTH_NAMES = frozenset({"PermissionDenied", "NoCredentialsError", "KeyImportError"})
_TRANSIENT_ERRNOS = frozenset({
    errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE, errno.ETIMEDOUT,
    errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN,
})
_S3_TRANSIENT_CODES = ("SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "503", "500")


def redact(url: str) -> str:
    """``url`` without a password in its user-info part or secret-looking query values."""
    scheme, sep, _ = url.partition("://")
    if not sep:
        return url
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:  # not a URL urllib can split (a bad IPv6 host, say): show none of it
        return f"{scheme}://***"
    user, at, host = parts.netloc.rpartition("@")
    out = f"{scheme}://{user.split(':', 1)[0]}@{host}" if at else f"{scheme}://{host}"
    out += parts.path
    if parts.query:
        pairs = (pair.partition("=") for pair in parts.query.split("&"))
        out += "?" + "&".join(f"{k}=***" if _secret_key(k) else f"{k}{eq}{v}" for k, eq, v in pairs)
    return out


def url_password(url: str) -> list[str]:
    """The password in ``url``'s user-info part, as a list of secrets (empty without one)."""
    try:
        password = urllib.parse.urlsplit(url).password
    except ValueError:
        return []
    return [urllib.parse.unquote(password), password] if password else []


def _secret_key(key: str) -> bool:
    key = key.lower()
    return any(word in key for word in ("pass", "secret", "token", "key", "credential"))


def secrets_of(options: object) -> list[str]:
    """Every string value under a secret-looking key of ``options`` (nested dicts included)."""
    found: list[str] = []
    if isinstance(options, dict):
        for key, value in options.items():
            if isinstance(value, str) and _secret_key(str(key)) and len(value) >= 3:
                found.append(value)
            elif isinstance(value, dict):
                found.extend(secrets_of(value))
    return found


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value replaced by ``***`` (errors may echo them back)."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def _kind(exc: BaseException) -> str:
    """``"auth"``, ``"hostkey"``, ``"bucket"``, ``"denied"``, ``"missing"``, ``"transient"`` or ``"other"``."""
    for link in _chain(exc):
        names = _names(link)
        text = str(link)
        if "HostKeyNotVerifiable" in names:
            return "hostkey"
        if names & _AUTH_NAMES or "InvalidAccessKeyId" in text or "SignatureDoesNotMatch" in text:
            return "auth"
        if "NoSuchBucket" in text or "bucket does not exist" in text.lower():
            return "bucket"
        if names & _TRANSIENT_NAMES or isinstance(link, (TimeoutError, ConnectionError)):
            return "transient"
        if isinstance(link, OSError) and link.errno in _TRANSIENT_ERRNOS:
            return "transient"
        if any(code in text for code in _S3_TRANSIENT_CODES) and "ClientError" in names:
            return "transient"
    if isinstance(exc, PermissionError):
        return "denied"
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        return "missing"
    return "other"


def classify(exc: BaseException, url: str, path: str, secrets: Iterable[str] = ()) -> StorageError:
    """The madstream error for a filesystem exception raised while ``path`` was used on ``url``.

    ``url`` must already be redacted; ``secrets`` are scrubbed from the underlying message.
    """
    if isinstance(exc, StorageError):
        return exc
    kind = _kind(exc)
    detail = scrub(f"{type(exc).__name__}: {exc}".rstrip(": "), secrets)
    cls, what, hint = _REPORTS[kind]
    return cls(f"{what.format(where=f'storage `{url}`')} ({detail})", path=path or None, hint=hint)


#: kind → (error class, what happened, what to check).
_REPORTS: dict[str, tuple[type[StorageError], str, str]] = {
    "auth": (
        PermanentStorageError, "authentication failed on {where}",
        "check the user name, password, key or access key in FILESYSTEM_STORAGE_OPTIONS or the block",
    ),
    "hostkey": (
        PermanentStorageError, "the host key of {where} is not trusted",
        "check the `known_hosts` option: the server's key must be listed for this host and port",
    ),
    "bucket": (
        PermanentStorageError, "the bucket of {where} does not exist",
        "create the bucket or fix the bucket name in FILESYSTEM_URL",
    ),
    "denied": (
        PermanentStorageError, "permission denied on {where}",
        "check that the configured user may read and write under the root of FILESYSTEM_URL",
    ),
    "missing": (
        PermanentStorageError, "not found on {where}",
        "check that the path exists under the root of FILESYSTEM_URL",
    ),
    "transient": (
        TransientStorageError, "{where} did not answer or dropped the connection",
        "check that the server is up and reachable; the operation is safe to run again",
    ),
    "other": (StorageError, "{where} failed", "check FILESYSTEM_URL and FILESYSTEM_STORAGE_OPTIONS"),
}
