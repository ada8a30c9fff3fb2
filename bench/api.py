"""`make bench-api` (`python -m bench.api`): the partner API at 1,000,000 shipments, the
three figures of issue #17 and nothing else:

1. **REST mirror page**: `GET /api/v1/shipments?page_size=100&expand=milestones,charges`,
   p95 over HTTP (target ≤ 60 ms), page 1 and page 10 (nine `next`s followed), for the
   two token personas of bench/reads.py (every account of the largest tenant; one
   account of it), and its SQL queries (in-process, Django's test client).
2. **GraphQL page**: `shipments(first: 100)` with `milestones`, `orders`, `stops` and
   `freightCharges` per node, POSTed to /graphql: SQL queries per request (target ≤ 8)
   and p95 over HTTP (target ≤ 60 ms), pages 1 and 10 (`after` = the previous
   `endCursor`), same personas.
3. **Change-feed mirror**: the largest tenant (a token seeing all its accounts) follows
   `GET /api/v1/changes?after=0&limit=1000` over HTTP until a page comes back empty:
   shipments per second (goal ≥ 5,000/s), with every object mirrored counted too.

Against BENCH_READS_DATABASE (bench/read_data.py; a copy is best: the mirror stamps the
generator's change rows with positions first and vacuums, as bench/time_and_change.py
does, and tokens are created). The server is one WSGI process on loopback
(bench/read_server.py) on BENCH_PORT (any free port when unset). Results: printed and
saved under .local/bench/api.json; docs/BENCHMARKS.md holds the figures by hand.
"""

from __future__ import annotations

import gc
import http.client
import json
import os
import random
import time
from functools import partial
from typing import Any
from urllib.parse import urlencode

from bench import read_data, reads

REPEATS = int(os.environ.get("BENCH_API_REPEATS", "20"))
PARTS = os.environ.get("BENCH_API_PARTS", "rest,graphql,mirror").split(",")
RESULTS = reads.ROOT / ".local" / "bench" / "api.json"
PAGE_SIZE = 100
REST_FILTERS = {"expand": "milestones,charges"}
GRAPHQL_PAGE = """
query ($after: String) {
  shipments(first: 100, after: $after) {
    edges { node {
      shipmentId status eta customerAccount
      milestones { milestone occurredAt }
      orders { orderNumber customerPo lineNumbers }
      stops { sequence stopType plannedArrival }
      freightCharges { chargeId amount currency }
    } }
    pageInfo { endCursor hasNextPage }
  }
}"""
MIRROR_LIMIT = 1000
# Stop the mirror after this many pages (0: to the end), for a quicker A/B.
MIRROR_PAGES = int(os.environ.get("BENCH_API_MIRROR_PAGES", "0"))
# Enough for page 10 of 100 of any account's list (see prepare_charges).
CHARGED_PER_ACCOUNT = int(os.environ.get("BENCH_API_CHARGED_PER_ACCOUNT", "1500"))


def log(message: str) -> None:
    print(f"[api {time.strftime('%H:%M:%S')}] {message}", flush=True)


def post(port: int, path: str, body: dict, headers: dict[str, str]) -> tuple[int, bytes, float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    payload = json.dumps(body).encode()
    gc.disable()  # the server's time is measured, not this process's collections
    try:
        started = time.perf_counter()
        connection.request(
            "POST", path, body=payload, headers={**headers, "Content-Type": "application/json"}
        )
        response = connection.getresponse()
        answer = response.read()
        elapsed = (time.perf_counter() - started) * 1000
    finally:
        gc.enable()
    connection.close()
    return response.status, answer, elapsed


def graphql_page(port: int, headers: dict[str, str], page: int) -> float:
    """The time of the `page`th page (each earlier one fetched for its cursor)."""
    after, elapsed = None, 0.0
    for _ in range(page):
        status, body, elapsed = post(
            port, "/graphql", {"query": GRAPHQL_PAGE, "variables": {"after": after}}, headers
        )
        answer = json.loads(body)
        assert status == 200 and "errors" not in answer, (status, body[:300])
        connection = answer["data"]["shipments"]
        assert len(connection["edges"]) == PAGE_SIZE or not connection["pageInfo"]["hasNextPage"]
        after = connection["pageInfo"]["endCursor"]
    return elapsed


def in_process(auth: dict) -> tuple[dict[str, int], dict[str, dict[str, float]]]:
    """Per persona, in-process (Django's test client: the same middleware and views):
    the SQL queries of one REST page and one GraphQL page, and the CPU time this process
    spends on each (`time.process_time`: the application's own work, not waiting for
    PostgreSQL nor for a core on a busy machine, where wall-clock times stretch)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    counts, cpu = {}, {}
    for persona, headers in auth.items():
        extra = {f"HTTP_{key.upper()}": value for key, value in headers.items()}
        client = Client()
        client.get(reads.list_path({}, 25), **extra)  # the token's first use is recorded

        rest = partial(client.get, reads.list_path(REST_FILTERS, PAGE_SIZE), **extra)
        graphql = partial(
            client.post,
            "/graphql",
            {"query": GRAPHQL_PAGE, "variables": {"after": None}},
            content_type="application/json",
            **extra,
        )
        for label, call in (("REST", rest), ("GraphQL", graphql)):
            with CaptureQueriesContext(connection) as captured:
                response = call()
            assert response.status_code == 200, response.content[:300]
            assert "errors" not in response.json(), response.content[:300]
            counts[f"{persona} {label}"] = len(captured.captured_queries)
            samples = []
            for _ in range(REPEATS):
                started = time.process_time()
                call()
                samples.append((time.process_time() - started) * 1000)
            cpu[f"{persona} {label}"] = reads.stats(samples)
    return counts, cpu


def timed(function: Any, *args: Any) -> dict[str, float]:
    rng = random.Random(7)
    function(*args)  # warm up
    samples = []
    for _ in range(REPEATS):
        samples.append(function(*args))
        time.sleep(rng.random() / 100)
    return reads.stats(samples)


def prepare_charges() -> dict[str, Any]:
    """Freight charges for the pages measured: bench/read_data.py generates none, and an
    empty `charges` expansion (or `freightCharges`) would measure nothing. Two charges
    (linehaul, fuel) on each of the newest CHARGED_PER_ACCOUNT shipments of every account
    of the largest tenant, tagged with the account; skipped when charges exist. (The
    table's triggers touch those shipments: they enter the change feed, as a posted
    charge would.)"""
    from django.db import connection, transaction

    from visibility.models import FreightCharge

    if FreightCharge.objects.exists():
        return {"charges_added": 0}
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            WITH chosen AS (
                SELECT link.shipment_id, link.customer_account_id
                FROM accounts_customeraccount account
                CROSS JOIN LATERAL (
                    SELECT shipment_id, customer_account_id FROM visibility_shipmentaccount
                    WHERE customer_account_id = account.id
                    ORDER BY shipment_id DESC LIMIT %(per_account)s
                ) link
                WHERE account.tenant_id = (
                    SELECT tenant_id FROM accounts_customeraccount account
                    JOIN visibility_shipmentaccount link ON link.customer_account_id = account.id
                    GROUP BY tenant_id ORDER BY count(*) DESC LIMIT 1
                )
            )
            INSERT INTO visibility_freightcharge
                (charge_id, shipment_id, charge_type, amount, currency, occurred_at,
                 event_key, customer_account_id)
            SELECT 'BENCH-' || kind || '-' || shipment_id, shipment_id, kind,
                   CASE kind WHEN 'linehaul' THEN 412.50 ELSE 38.20 END, 'EUR', %(now)s,
                   'bench:charge:' || kind || ':' || shipment_id, customer_account_id
            FROM chosen CROSS JOIN (VALUES ('linehaul'), ('fuel')) AS kinds(kind)
            """,
            {"per_account": CHARGED_PER_ACCOUNT, "now": read_data.NOW},
        )
        added = cursor.rowcount
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE visibility_freightcharge")
    return {"charges_added": added, "charges_seconds": round(time.monotonic() - started, 1)}


def prepare_feed() -> dict[str, Any]:
    """Positions for the change rows the generator's COPY left unstamped, then a vacuum
    (bench/time_and_change.py's set-up, the part the feed needs)."""
    from django.db import connection

    from visibility.services.changes import stamp_positions

    started, stamped = time.monotonic(), 0
    while count := stamp_positions(wait=True):
        stamped += count
    if stamped:
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE visibility_change")
    return {"stamped": stamped, "stamp_seconds": round(time.monotonic() - started, 1)}


def mirror(port: int, headers: dict[str, str]) -> dict[str, Any]:
    """Follow the change feed from the start to its end: what a new mirror does."""
    after, pages, kinds = "0", 0, {}
    shipments: set[str] = set()
    slowest = 0.0
    started = time.perf_counter()
    while True:
        path = "/api/v1/changes?" + urlencode({"after": after, "limit": MIRROR_LIMIT})
        status, body, elapsed = reads.get(port, path, headers)
        assert status == 200, (status, body[:300])
        page = json.loads(body)
        pages += 1
        slowest = max(slowest, elapsed)
        for change in page["changes"]:
            kinds[change["kind"]] = kinds.get(change["kind"], 0) + 1
            if change["kind"] == "shipment":
                shipments.add(change["id"])
        if not page["changes"] or pages == MIRROR_PAGES:
            break
        after = str(page["next"])
        if pages % 50 == 0:
            rate = len(shipments) / (time.perf_counter() - started)
            log(f"mirror: {pages} pages, {len(shipments):,} shipments, {rate:,.0f}/s")
    seconds = time.perf_counter() - started
    objects = sum(kinds.values())
    return {
        "seconds": round(seconds, 1),
        "pages": pages,
        "changes_by_kind": kinds,
        "shipments": len(shipments),
        "shipments_per_second": round(len(shipments) / seconds),
        "objects_per_second": round(objects / seconds),
        "slowest_page_ms": round(slowest, 1),
    }


def main() -> None:
    os.environ["API_TOKEN_RATE"] = "1000000/min"
    if read_data.generated_shipments() == 0:
        raise SystemExit("no bench data: run `python -m bench.read_data` first")
    read_data.setup_django()
    people = {name: user for name, user in reads.personas().items() if name != "staff"}
    auth = {persona: headers["token"] for persona, headers in reads.credentials(people).items()}
    output: dict[str, Any] = {"shipments": read_data.generated_shipments(), "parts": PARTS}
    log("freight charges for the measured pages")
    output["charges_setup"] = prepare_charges()
    if "mirror" in PARTS:
        log("stamping change positions")
        output["feed_setup"] = prepare_feed()
    log("counting queries, CPU time in-process")
    output["queries"], output["cpu_ms_in_process"] = in_process(auth)
    port = int(os.environ.get("BENCH_PORT") or reads.free_port())
    server = reads.start_server(port)
    try:
        for persona, headers in auth.items():
            for page in (1, 10):
                if "rest" in PARTS:
                    log(f"REST {persona} page {page}")
                    output.setdefault("rest_ms", {})[f"{persona} page {page}"] = timed(
                        reads.http_list, port, headers, REST_FILTERS, page, PAGE_SIZE
                    )
                if "graphql" in PARTS:
                    log(f"GraphQL {persona} page {page}")
                    output.setdefault("graphql_ms", {})[f"{persona} page {page}"] = timed(
                        graphql_page, port, headers, page
                    )
        if "mirror" in PARTS:
            log("mirroring the largest tenant through the change feed")
            output["mirror"] = mirror(port, auth["tenant-all"])
    finally:
        server.terminate()
        server.wait(timeout=10)
    output["environment"] = reads.environment()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(output, indent=2))
    print(json.dumps(output, indent=2))


if __name__ == "__main__":
    main()
