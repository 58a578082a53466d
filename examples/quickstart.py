"""madstream quickstart: one million synthetic orders, paged from an async "API", materialized
as a parquet asset on the default local storage (./.tmp/storage), then queried with DuckDB.

Run it with `make demo` from a fresh checkout; no configuration and no server needed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
from collections.abc import AsyncIterator
from typing import Any

from madstream import asset

ORDERS = 1_000_000
PAGE = 10_000
CITIES = ["Perth", "Sydney", "Melbourne", "Brisbane", "Adelaide", "Hobart", "Darwin", "Canberra"]
STATUSES = ["new", "paid", "shipped", "returned"]


def _templates(n: int = 4_096) -> list[dict[str, Any]]:
    """A pool of varied orders, built once so the 'API' costs little next to madstream."""
    rng = random.Random(42)
    start = dt.datetime(2025, 1, 1)
    pool = []
    for _ in range(n):
        pool.append(
            {
                "status": rng.choice(STATUSES),
                "amount": round(rng.uniform(5, 500), 2),
                "discount_pct": None if rng.random() < 0.3 else rng.randrange(5, 40),
                "ordered_at": start + dt.timedelta(seconds=rng.randrange(31_536_000), microseconds=rng.randrange(1_000_000)),
                "items": rng.sample(["widget", "gadget", "doohickey", "gizmo", "sprocket"], rng.randrange(1, 4)),
                "address": {"city": rng.choice(CITIES), "postcode": f"{rng.randrange(800, 7999):04d}"},
            }
        )
    return pool


async def fetch_orders_page(page: int, pool: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stand-in for an HTTP call returning one page of orders."""
    await asyncio.sleep(0)
    first = page * PAGE
    rows = []
    for i in range(first, min(first + PAGE, ORDERS)):
        order = pool[i % len(pool)].copy()
        order["order_id"] = i
        order["customer_id"] = (i * 7_919) % 50_000
        rows.append(order)
    return rows


@asset("sales/orders.parquet", name="orders", artifact_filetype="parquet")
async def orders() -> AsyncIterator[list[dict[str, Any]]]:
    """Every order, page by page: madstream streams each page to disk as it arrives."""
    pool = _templates()
    for page in range((ORDERS + PAGE - 1) // PAGE):
        yield await fetch_orders_page(page, pool)


async def main() -> None:
    started = time.perf_counter()
    artifact = await orders()
    seconds = time.perf_counter() - started
    print(f"materialized {ORDERS:,} orders to {artifact.path} in {seconds:.2f} s ({ORDERS / seconds:,.0f} rows/s)")

    by_city = await orders.query(
        """
        SELECT address.city AS city, count(*) AS orders, CAST(sum(amount) AS DECIMAL(14, 2)) AS revenue,
               round(avg(discount_pct), 1) AS avg_discount, count(*) FILTER (WHERE status = 'returned') AS returned
        GROUP BY ALL ORDER BY revenue DESC
        """
    )
    print(by_city.pl())


if __name__ == "__main__":
    asyncio.run(main())
