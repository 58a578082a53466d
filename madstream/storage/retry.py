"""Bounded retry with exponential backoff for idempotent storage operations.

Only whole operations that can safely run twice (stat, list, read a file, write a whole small
file, rename, delete) are retried, and only on a *transient* fault; between attempts the caller
reconnects (a dropped SFTP session stays dead in its fsspec instance). A streamed file that
breaks mid-write is not retried here: its run fails with a transient error and is re-run whole,
which is safe because nothing of it was published.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ..base.errors import StorageError

__all__ = ["RetryPolicy", "retrying"]

T = TypeVar("T")
log = logging.getLogger("madstream.storage")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a transient fault is retried.

    ``MADSTREAM_STORAGE_ATTEMPTS`` (default 4) and ``MADSTREAM_STORAGE_BACKOFF`` (first delay in
    seconds, default 0.2, doubling, capped at ``max_delay``) override the defaults.
    """

    attempts: int = 4
    backoff: float = 0.2
    max_delay: float = 5.0

    @classmethod
    def from_env(cls) -> RetryPolicy:
        return cls(
            attempts=max(1, int(os.environ.get("MADSTREAM_STORAGE_ATTEMPTS") or cls.attempts)),
            backoff=float(os.environ.get("MADSTREAM_STORAGE_BACKOFF") or cls.backoff),
        )

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based), with 20% jitter."""
        base = min(self.backoff * 2 ** (attempt - 1), self.max_delay)
        return base * random.uniform(0.8, 1.2)


def retrying(
    op: Callable[[], T],
    translate: Callable[[BaseException], StorageError],
    *,
    policy: RetryPolicy,
    reconnect: Callable[[], None],
    what: str,
) -> T:
    """Run ``op``; on a transient fault reconnect, back off and try again, up to ``policy.attempts``."""
    attempt = 1
    while True:
        try:
            return op()
        except Exception as exc:
            error = translate(exc)
            if not error.transient:
                if error is exc:
                    raise
                raise error from exc
            if attempt >= policy.attempts:
                raise type(error)(
                    f"{error.detail}; gave up after {attempt} attempts", path=error.path, hint=error.hint
                ) from exc
            wait = policy.delay(attempt)
            log.warning("storage %s failed (attempt %d/%d), retrying in %.2fs: %s", what, attempt, policy.attempts, wait, error)
            time.sleep(wait)
            attempt += 1
            with contextlib.suppress(Exception):  # the next attempt reports the fault
                reconnect()
