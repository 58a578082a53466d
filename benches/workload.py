"""The standard bench workload: deterministic pages of plain Python dicts.

A pool of ~5,000 template records is built once from ``random.Random(0)``; each page is
shallow copies of templates with a fresh integer ``id``, so generation stays far below the
cost of what is being measured.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

PAGE_ROWS = 5_000
POOL_SIZE = 5_000
_CITIES = ["Perth", "Sydney", "Melbourne", "Brisbane", "Adelaide", "Hobart", "Darwin", "Canberra"]
_TAGS = ["new", "vip", "churn", "promo", "b2b", "trial"]


def _pool() -> list[dict[str, Any]]:
    rng = random.Random(0)
    base = dt.datetime(2024, 1, 1)
    pool = []
    for i in range(POOL_SIZE):
        pool.append(
            {
                "id": i,
                "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "name": f"customer {rng.randrange(1_000_000)}",
                "email": f"user{rng.randrange(1_000_000)}@example.com",
                "amount": round(rng.uniform(0, 1000), 2),
                "active": rng.random() < 0.7,
                "created_at": base + dt.timedelta(seconds=rng.randrange(31_536_000), microseconds=rng.randrange(1, 1_000_000)),
                "score": None if rng.random() < 0.1 else rng.randrange(100),
                "tags": rng.sample(_TAGS, rng.randrange(4)),
                "address": {
                    "city": rng.choice(_CITIES),
                    "zip": f"{rng.randrange(10000):04d}",
                    "geo": {"lat": rng.uniform(-44, -10), "lon": rng.uniform(113, 154)},
                },
            }
        )
    return pool


_POOL: list[dict[str, Any]] | None = None


def pages(rows: int, page_rows: int = PAGE_ROWS) -> Iterator[list[dict[str, Any]]]:
    """Yield ``rows`` records in pages of ``page_rows`` dicts."""
    global _POOL
    if _POOL is None:
        _POOL = _pool()
    pool = _POOL
    n = len(pool)
    for start in range(0, rows, page_rows):
        stop = min(start + page_rows, rows)
        page = []
        for i in range(start, stop):
            rec = pool[i % n].copy()
            rec["id"] = i
            page.append(rec)
        yield page


async def apages(rows: int, page_rows: int = PAGE_ROWS) -> AsyncIterator[list[dict[str, Any]]]:
    """Async twin of :func:`pages`."""
    for page in pages(rows, page_rows):
        yield page
