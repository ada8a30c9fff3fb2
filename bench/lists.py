"""Shipment list pages through the selectors, per persona, on the bench database
(`make bench-data`, or BENCH_SHIPMENTS=200000 python -m bench.read_data for a quicker one).

    BENCH_READS_DATABASE=portal_bench_reads python -m bench.lists

Personas: `tenant-all` sees every account of the largest tenant, `staff` all tenants,
`small` every account of the smallest tenant, `one-account` one account of the largest.
BENCH_LISTS_VIA_SHIPMENTS=1 reads every persona's list by walking the shipments' own
newest-first index (what `shipment_list` did for everyone before it read one account's
list through `ShipmentAccount`): the figures before the change, on the same data.
"""

from __future__ import annotations

import gc
import os
import statistics
from typing import Any

from bench.read_data import setup_django

REPEATS = int(os.environ.get("BENCH_LISTS_REPEATS", "20"))
CASES = {
    "page 1 size 25": ({}, 1, 25),
    "page 1 size 100": ({}, 1, 100),
    "status=delivered page 1 size 100": ({"status": "delivered"}, 1, 100),
    "updated_since=30d page 10 size 25": ({"updated_since": "2026-10-21T00:00:00Z"}, 10, 25),
}


def main() -> None:
    setup_django()
    from django.contrib.auth import get_user_model
    from django.db.models import F

    from bench.reads import list_page, timed
    from visibility import selectors

    if os.environ.get("BENCH_LISTS_VIA_SHIPMENTS"):
        via_shipments = selectors._shipments_of

        def walk_shipments(accounts: list[int]) -> Any:
            return via_shipments(accounts).annotate(**{selectors.LISTED_AT: F("last_event_at")})

        selectors._listed_shipments_of = walk_shipments  # type: ignore[assignment]
    users = get_user_model().objects
    people = {
        "tenant-all": users.get(username="bench-t01-all"),
        "staff": users.get(username="bench-staff"),
        "small": users.get(username="bench-t50-all"),
        "one-account": users.get(username="bench-t01-one"),
    }
    print("| persona | case | p50 ms | p95 ms | queries |")
    print("|---|---|---:|---:|---:|")
    for persona, actor in people.items():
        for label, (filters, page, size) in CASES.items():
            list_page(actor, filters, page, size)  # warm up
            samples, counts = [], set()
            for _ in range(REPEATS):
                gc.collect()
                elapsed, count, _ = timed(list_page, actor, filters, page, size)
                samples.append(elapsed)
                counts.add(count)
            samples.sort()
            p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
            print(
                f"| {persona} | {label} | {statistics.median(samples):.1f} | {p95:.1f} |"
                f" {', '.join(map(str, sorted(counts)))} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
