"""`python -m bench.expand`: the partner's mirror page, `GET /api/v1/shipments?page_size=100
&expand=milestones,charges` (issue #17: p95 ≤ 60 ms at 1,000,000 shipments).

Against the bench database of bench/read_data.py (BENCH_READS_DATABASE, filled first
when empty), through a real server process on loopback, for the two token personas of
bench/reads.py (a token seeing every account of the largest tenant, one granted one
account): page 1 and the page after nine `next`s (page 10), with and without `expand`
(the difference is what expanding costs), plus the queries per page (in-process, Django's
test client). Prints the figures and saves them under .local/bench/expand.json.
"""

from __future__ import annotations

import json
import os
import random
import time

from bench import read_data, reads

REPEATS = int(os.environ.get("BENCH_EXPAND_REPEATS", "20"))
CASES = {
    "plain": {},
    "expand=milestones,charges": {"expand": "milestones,charges"},
    "expand=everything": {"expand": "milestones,eta_history,stops,charges,documents"},
}
RESULTS = reads.ROOT / ".local" / "bench" / "expand.json"


def query_counts(auth: dict) -> dict[str, int]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    counts = {}
    for persona, headers in auth.items():
        extra = {f"HTTP_{key.upper()}": value for key, value in headers["token"].items()}
        Client().get(reads.list_path({}, 25), **extra)  # the token's first use is recorded
        for label, filters in CASES.items():
            with CaptureQueriesContext(connection) as captured:
                response = Client().get(reads.list_path(filters, 100), **extra)
            assert response.status_code == 200, response.content[:300]
            counts[f"{persona} {label}"] = len(captured.captured_queries)
    return counts


def main() -> None:
    os.environ["API_TOKEN_RATE"] = "1000000/min"
    if read_data.generated_shipments() == 0:
        raise SystemExit("no bench data: run `python -m bench.read_data` first")
    read_data.setup_django()
    people = {name: user for name, user in reads.personas().items() if name != "staff"}
    auth = reads.credentials(people)
    counts = query_counts(auth)
    port = reads.free_port()
    server = reads.start_server(port)
    results: dict[str, dict[str, float]] = {}
    rng = random.Random(7)
    try:
        for persona in people:
            headers = auth[persona]["token"]
            for label, filters in CASES.items():
                for page in (1, 10):
                    reads.http_list(port, headers, filters, page, 100)  # warm up
                    samples = []
                    for _ in range(REPEATS):
                        samples.append(reads.http_list(port, headers, filters, page, 100))
                        time.sleep(rng.random() / 100)
                    results[f"{persona} {label} page {page}"] = reads.stats(samples)
    finally:
        server.terminate()
        server.wait(timeout=10)
    output = {
        "shipments": read_data.generated_shipments(),
        "queries_per_page_of_100": counts,
        "ms": results,
        "environment": reads.environment(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(output, indent=2))
    print(json.dumps(output, indent=2))


if __name__ == "__main__":
    main()
