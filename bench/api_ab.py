"""`python -m bench.api_ab`: bench/api.py's GraphQL page over HTTP, this tree against
another (BENCH_AB_BASE: a checkout, e.g. `git archive main | tar -x -C DIR`), on the same
database, the two servers' requests alternated so that a busy machine's load falls on
both alike (on a shared machine consecutive runs differ by more than the change).

Two WSGI servers (bench/read_server.py), one per tree, on BENCH_AB_PORTS (two ports, any
free ones when unset), against BENCH_READS_DATABASE (set up by `python -m bench.api`
first: tokens and freight charges); BENCH_AB_REPEATS pages 1 and 10 per persona and
server. Prints p50/p95 per case and the load average.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench import read_data, reads
from bench.api import graphql_page

REPEATS = int(os.environ.get("BENCH_AB_REPEATS", "30"))


def start(tree: Path, port: int) -> subprocess.Popen:
    environment = {
        **os.environ,
        "DATABASE_URL": read_data.database_url(),
        "API_TOKEN_RATE": "1000000/min",
        "DEBUG": "0",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.read_server", str(port)],
        cwd=tree,
        env=environment,
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            reads.get(port, "/healthz", {})
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"the web server of {tree} did not start")


def main() -> None:
    base = Path(os.environ["BENCH_AB_BASE"]).resolve()
    read_data.setup_django()
    people = {name: user for name, user in reads.personas().items() if name != "staff"}
    auth = {persona: headers["token"] for persona, headers in reads.credentials(people).items()}
    ports = [int(port) for port in os.environ.get("BENCH_AB_PORTS", "").split(",") if port]
    ports = ports or [reads.free_port(), reads.free_port()]
    servers = {"base": (base, ports[0]), "this": (reads.ROOT, ports[1])}
    processes = [start(tree, port) for tree, port in servers.values()]
    results: dict[str, dict[str, float]] = {}
    try:
        for persona, headers in auth.items():
            for page in (1, 10):
                samples: dict[str, list[float]] = {label: [] for label in servers}
                for _, port in servers.values():
                    graphql_page(port, headers, page)  # warm up
                for index in range(REPEATS):
                    labels = list(servers) if index % 2 == 0 else list(reversed(servers))
                    for label in labels:
                        samples[label].append(graphql_page(servers[label][1], headers, page))
                for label, values in samples.items():
                    results[f"{label} {persona} page {page}"] = reads.stats(values)
                    print(label, persona, page, reads.stats(values), flush=True)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
    print(json.dumps({"graphql_ms": results, "environment": reads.environment()}, indent=2))


if __name__ == "__main__":
    main()
