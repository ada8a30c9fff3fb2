"""Load test on loopback (`make bench-load`): LOAD_CLIENTS (64) concurrent partner API
clients for LOAD_SECONDS (60) against the production web server (gunicorn with
gunicorn.conf.py) and PostgreSQL. Reports requests per second, status counts (no 5xx
allowed: the run fails on any), latency percentiles, the most database connections the
bench database held, and the machine's load average (the machine may be shared).

Data: the bench database (bench/harness.py, re-created each run) gets the bench's four
tenants and LOAD_EVENTS (6000) events of bench/workload.py through the real intake,
projected by a Celery worker; each tenant gets a partner token with every scope. Each
client then loops over a mix of the partner reads: shipment list (first page and the
next), shipment detail, order list and detail, invoice list, exceptions. The token rate
limit is lifted for the web server (API_TOKEN_RATE), since the bench measures the
server, not the throttle. Traffic goes only to 127.0.0.1.

    BENCH_DATABASE=portal_bench_h8 LOAD_CLIENTS=64 LOAD_SECONDS=60 make bench-load
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil

from bench import harness, workload
from bench.client import percentile

CLIENTS = int(os.environ.get("LOAD_CLIENTS", "64"))
SECONDS = float(os.environ.get("LOAD_SECONDS", "60"))
EVENTS = int(os.environ.get("LOAD_EVENTS", "6000"))
WEB_CONCURRENCY = os.environ.get("WEB_CONCURRENCY", "2")
WEB_THREADS = os.environ.get("WEB_THREADS", "8")


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def start_gunicorn(
    servers: harness.Servers, port: int, log_path: Path, **environment: str
) -> subprocess.Popen:
    """gunicorn with gunicorn.conf.py on loopback; `environment` overrides the bench's."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            str(harness.ROOT / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            "portal.wsgi:application",
        ],
        cwd=harness.ROOT,
        env=servers.environment(
            **{
                "WEB_CONCURRENCY": WEB_CONCURRENCY,
                "WEB_THREADS": WEB_THREADS,
                "WEB_ACCESS_LOG": "0",
                "API_TOKEN_RATE": "100000000/min",
                "EVENTS_MAX_CLOCK_SKEW_HOURS": str(24 * 365 * 20),
                "STATIC_MANIFEST": "0",
                **environment,
            }
        ),
        stdout=subprocess.DEVNULL,
        stderr=log_path.open("w"),
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            harness.stop(process)
            raise RuntimeError(f"gunicorn did not start; see {log_path}")
        time.sleep(0.3)


def load_data(servers: harness.Servers, port: int, directory: Path) -> dict[str, str]:
    """Tenants, sources, the events (projected) and one partner token per tenant."""
    for slug, name, accounts in workload.TENANTS:
        harness.manage(
            servers, "create_tenant", slug, "--name", name, "--accounts", ",".join(accounts)
        )
    source_tokens = {
        source: harness.manage(servers, "create_source", source, "--role", source).split()[-1]
        for source in workload.SOURCES
    }
    partner_tokens = {
        slug: harness.manage(
            servers,
            "create_api_token",
            "--tenant",
            slug,
            "--name",
            "load",
            "--scopes",
            "shipments,documents,invoices",
        ).split()[-1]
        for slug, _, _ in workload.TENANTS
    }
    events = workload.generate_events(EVENTS, prefix="LD")
    worker = harness.start_celery(
        servers,
        "portal",
        "worker",
        "--concurrency=1",
        "--without-gossip",
        "--without-mingle",
        log=directory / "worker.log",
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            window = workload.window_for_batches_of(events, 500)
            for source, batch in workload.intake_requests(events, window=window):
                response = client.post(
                    "/api/v1/events",
                    content=json.dumps({"events": batch}),
                    headers={
                        "Authorization": f"Bearer {source_tokens[source]}",
                        "Content-Type": "application/json",
                    },
                )
                response.raise_for_status()
        wait_for_projection(servers)
    finally:
        harness.stop(worker)
    return partner_tokens


def wait_for_projection(servers: harness.Servers, timeout: float = 600) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    with psycopg.connect(servers.database_url, autocommit=True) as connection:
        while time.monotonic() < deadline:
            row = connection.execute(
                "SELECT count(*) FILTER (WHERE state = 'pending'), count(*) "
                "FROM integration_inboxevent"
            ).fetchone()
            assert row is not None
            pending, total = row
            if total and not pending:
                log(f"{total} events projected")
                return
            time.sleep(1)
    raise RuntimeError("the worker did not project the events in time")


class ConnectionSampler(threading.Thread):
    """The most connections the bench database held, sampled every 0.5 s."""

    def __init__(self, servers: harness.Servers) -> None:
        super().__init__(daemon=True)
        self.servers = servers
        self.peak = 0
        self.halt = threading.Event()

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.servers.admin_url, autocommit=True) as connection:
            while not self.halt.is_set():
                row = connection.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s",
                    [harness.BENCH_DATABASE],
                ).fetchone()
                self.peak = max(self.peak, row[0] if row else 0)
                self.halt.wait(0.5)


async def discover(port: int, tokens: dict[str, str]) -> dict[str, dict[str, list[str]]]:
    """Per tenant: some shipment ids and order numbers to read in detail."""
    known: dict[str, dict[str, list[str]]] = {}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        for slug, token in tokens.items():
            headers = {"Authorization": f"Bearer {token}"}
            shipments = (
                await client.get("/api/v1/shipments?page_size=100", headers=headers)
            ).json()["results"]
            orders = (await client.get("/api/v1/orders?page_size=100", headers=headers)).json()[
                "results"
            ]
            known[slug] = {
                "shipments": [row["shipment_id"] for row in shipments],
                "orders": [row["order_number"] for row in orders],
            }
    return known


def request_mix(rng: random.Random, known: dict[str, list[str]]) -> tuple[str, str]:
    """(route name, path) of one partner read, weighted as a partner's sync would."""
    roll = rng.random()
    if roll < 0.30 and known["shipments"]:
        shipment = rng.choice(known["shipments"])
        return "shipment detail", f"/api/v1/shipments/{shipment}"
    if roll < 0.55:
        return "shipment list", "/api/v1/shipments?page_size=50"
    if roll < 0.65:
        return "shipment list (delayed)", "/api/v1/shipments?delayed=true&page_size=50"
    if roll < 0.80 and known["orders"]:
        order = rng.choice(known["orders"])
        return "order detail", f"/api/v1/orders/{order}"
    if roll < 0.90:
        return "order list", "/api/v1/orders?page_size=50"
    if roll < 0.95:
        return "invoice list", "/api/v1/invoices?page_size=50"
    return "exceptions", "/api/v1/exceptions"


async def run_clients(
    port: int, tokens: dict[str, str], known: dict[str, dict[str, list[str]]]
) -> tuple[list[tuple[str, int, float]], Counter[str]]:
    """Each client's answers as (route, status, seconds); a request with no answer has
    status 0 and its reason counted. A GET whose kept-alive connection the server closed
    as it was reused (gunicorn closes a connection idle for `keepalive` seconds; with
    this client starved of CPU its next request can come later than that, and the close
    then resets it: ReadError, or RemoteProtocolError when nothing was sent yet) is sent
    again once on a new connection, as browsers do for idempotent requests; those
    retries are counted too."""
    results: list[tuple[str, int, float]] = []
    incidents: Counter[str] = Counter()
    deadline = time.monotonic() + SECONDS
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    slugs = list(tokens)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", timeout=60, limits=limits
    ) as client:

        async def one_client(number: int) -> None:
            rng = random.Random(number)
            slug = slugs[number % len(slugs)]
            headers = {"Authorization": f"Bearer {tokens[slug]}"}
            while time.monotonic() < deadline:
                route, path = request_mix(rng, known[slug])
                started = time.perf_counter()
                status = 0
                for attempt in range(2):
                    try:
                        response = await client.get(path, headers=headers)
                        status = response.status_code
                        break
                    except (httpx.RemoteProtocolError, httpx.ReadError) as error:
                        incidents[f"retried: {type(error).__name__}"] += 1
                        if attempt:
                            incidents[f"no answer: {type(error).__name__}"] += 1
                    except httpx.HTTPError as error:  # refused, reset, timed out
                        incidents[f"no answer: {type(error).__name__}: {error}"] += 1
                        break
                results.append((route, status, time.perf_counter() - started))

        await asyncio.gather(*(one_client(number) for number in range(CLIENTS)))
    return results, incidents


def report(results: list[tuple[str, int, float]], seconds: float) -> dict:
    latencies = [latency for _, _, latency in results]
    statuses = Counter(status for _, status, _ in results)
    by_route = {}
    for route in sorted({route for route, _, _ in results}):
        mine = [latency for name, _, latency in results if name == route]
        by_route[route] = {
            "requests": len(mine),
            "p50_ms": round(percentile(mine, 0.50) * 1000, 1),
            "p95_ms": round(percentile(mine, 0.95) * 1000, 1),
        }
    return {
        "requests": len(results),
        "requests_per_second": round(len(results) / seconds, 1),
        "statuses": {str(status): count for status, count in sorted(statuses.items())},
        "server_errors": sum(count for status, count in statuses.items() if status >= 500),
        "no_answer": statuses.get(0, 0),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
        "by_route": by_route,
    }


def main() -> int:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    directory = harness.ROOT / ".local" / "bench" / f"load-{stamp}"
    directory.mkdir(parents=True, exist_ok=True)
    servers = harness.servers_start()
    log(f"servers: {servers.described}; database {harness.BENCH_DATABASE}")
    port = harness.free_port()
    web = None
    try:
        harness.database_recreate(servers)
        harness.manage(servers, "migrate", "--noinput")
        web = start_gunicorn(servers, port, directory / "web.log")
        log(f"gunicorn on 127.0.0.1:{port}: {WEB_CONCURRENCY} workers x {WEB_THREADS} threads")
        tokens = load_data(servers, port, directory)
        known = asyncio.run(discover(port, tokens))
        sampler = ConnectionSampler(servers)
        sampler.start()
        load_before = os.getloadavg()
        cpu_before = psutil.cpu_times()
        log(f"{CLIENTS} clients for {SECONDS:.0f} s; load average {load_before[0]:.2f}")
        started = time.monotonic()
        results, incidents = asyncio.run(run_clients(port, tokens, known))
        elapsed = time.monotonic() - started
        sampler.halt.set()
        cpu_after = psutil.cpu_times()
        busy = sum(cpu_after) - sum(cpu_before)
        summary = {
            "when": stamp,
            "clients": CLIENTS,
            "seconds": round(elapsed, 1),
            "web": f"gunicorn gthread {WEB_CONCURRENCY} workers x {WEB_THREADS} threads",
            "events_loaded": EVENTS,
            **report(results, elapsed),
            "incidents": dict(incidents),
            "peak_database_connections": sampler.peak,
            "load_average_before": [round(value, 2) for value in load_before],
            "load_average_after": [round(value, 2) for value in os.getloadavg()],
            "machine_cpu_idle_percent": round(
                100 * (cpu_after.idle - cpu_before.idle) / busy if busy else 0, 1
            ),
            "cpus": os.cpu_count(),
        }
    finally:
        if web is not None:
            harness.stop(web)
        servers.close()
    (directory / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    log(f"written to {directory / 'summary.json'}")
    if summary["server_errors"] or summary["no_answer"]:
        log("FAILED: server errors or unanswered requests")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
