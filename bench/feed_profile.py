"""`python -m bench.feed_profile`: where a 1,000-entry change-feed page and a REST page of
100 with `expand=milestones,charges` spend their time at production size.

Against BENCH_READS_DATABASE (a copy of `make bench-data`'s database; the change rows are
stamped and freight charges posted first, as bench/api.py does). For a partner token of
the largest tenant (every account) and random cursors, prints: wall time of the feed
page split into its rows and objects (`read_page`: PostgreSQL writes each object's JSON)
and the page's bytes (`page_bytes`), each
query of one page with its time and EXPLAIN (ANALYZE, BUFFERS), and a cProfile of a few
pages (top functions by own time and by cumulative time). Then the same for the REST
list page, through Django's test client, and for bench/api.py's GraphQL page of 100
(BENCH_PROFILE_PARTS=graphql). BENCH_PROFILE_GC_FREEZE=1 tunes the garbage
collector as portal/wsgi.py does for the served process.
"""

from __future__ import annotations

import cProfile
import json
import os
import pstats
import random
import time
from typing import Any

from bench import read_data
from bench.reads import stats

RUNS = int(os.environ.get("BENCH_PROFILE_RUNS", "10"))
LIMIT = int(os.environ.get("BENCH_PROFILE_LIMIT", "1000"))
PARTS = os.environ.get("BENCH_PROFILE_PARTS", "feed,rest").split(",")
LINES = int(os.environ.get("BENCH_PROFILE_LINES", "28"))


def explain(sql: str, params: Any) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def queries_of(function: Any) -> list[dict[str, Any]]:
    """Each query `function` runs, with its time, as Django's cursor wrapper saw it."""
    from django.db import connection

    captured: list[dict[str, Any]] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            captured.append(
                {"sql": sql, "params": params, "ms": (time.perf_counter() - started) * 1000}
            )

    with connection.execute_wrapper(record):
        function()
    return captured


def profile(function: Any, runs: int, label: str) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for index in range(runs):
        function(index)
    profiler.disable()
    for order in ("tottime", "cumulative"):
        print(f"--- cProfile {label}: {runs} runs, by {order}")
        pstats.Stats(profiler).sort_stats(order).print_stats(LINES)


def main() -> None:
    read_data.setup_django()
    from django.contrib.auth import get_user_model
    from django.db import connection

    from accounts.services import api_token_create
    from bench.api import prepare_charges, prepare_feed
    from visibility.api.changes import page_bytes, read_page

    feed = prepare_feed() if "feed" in PARTS else {}
    print(json.dumps({"charges": prepare_charges(), "feed": feed}), flush=True)
    member = get_user_model().objects.get(username="bench-t01-all")
    token, _ = api_token_create(tenant=member.membership.tenant, name="profile", account_numbers=[])
    afters: list[int] = []
    if "feed" in PARTS:
        with connection.cursor() as cursor:
            cursor.execute("SELECT min(position), max(position) FROM visibility_change")
            low, high = cursor.fetchone()
        rng = random.Random(11)
        afters = [rng.randrange(low, max(high - 200_000, low + 1)) for _ in range(RUNS + 3)]

    def change_page(token: Any, *, after: int, limit: int) -> Any:
        return read_page(token, after=after, limit=limit)

    if os.environ.get("BENCH_PROFILE_GC_FREEZE"):
        # As portal/wsgi.py tunes the served process: start-up objects frozen out of
        # the collections, a young generation of 7,000 objects.
        import gc

        gc.freeze()
        gc.set_threshold(7_000, 10, 10)

    if "feed" in PARTS:
        rows_ms, text_ms, total_ms, sizes = [], [], [], []
        for index, after in enumerate(afters):
            started = time.perf_counter()
            page = change_page(token, after=after, limit=LIMIT)
            middle = time.perf_counter()
            text = page_bytes(page)
            done = time.perf_counter()
            if index >= 3:
                rows_ms.append((middle - started) * 1000)
                text_ms.append((done - middle) * 1000)
                total_ms.append((done - started) * 1000)
                sizes.append(len(text))
        print("feed rows and objects (read_page)", stats(rows_ms))
        print("feed JSON text (page_bytes)", stats(text_ms), "bytes", sum(sizes) // len(sizes))
        print("feed page total", stats(total_ms), "load", os.getloadavg())
        captured = queries_of(lambda: change_page(token, after=afters[0], limit=LIMIT))
        print(f"--- feed queries: {len(captured)}, {sum(q['ms'] for q in captured):.1f} ms")
        for query in captured:
            print(f"{query['ms']:8.1f} ms  {query['sql'][:160]}")
        if os.environ.get("BENCH_PROFILE_EXPLAIN"):
            for query in captured:
                print("=" * 80)
                print(query["sql"][:400])
                print(explain(query["sql"], query["params"]))
        profile(
            lambda index: page_bytes(change_page(token, after=afters[index], limit=LIMIT)),
            3,
            "feed page",
        )

    if "rest" in PARTS:
        from django.test import Client

        from bench import reads

        people = {"tenant-all": member}
        headers = reads.credentials(people)["tenant-all"]["token"]
        extra = {f"HTTP_{key.upper()}": value for key, value in headers.items()}
        client = Client()
        path = reads.list_path({"expand": "milestones,charges"}, 100)
        client.get(path, **extra)
        samples = []
        for _ in range(RUNS):
            started = time.perf_counter()
            response = client.get(path, **extra)
            samples.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        print(
            "REST page wall (test client)",
            stats(samples),
            "bytes",
            len(response.content),
            "load",
            os.getloadavg(),
        )
        captured = queries_of(lambda: client.get(path, **extra))
        print(f"--- REST queries: {len(captured)}, {sum(q['ms'] for q in captured):.1f} ms")
        for query in captured:
            print(f"{query['ms']:8.1f} ms  {query['sql'][:160]}")
        profile(lambda index: client.get(path, **extra), 10, "REST page")

    if "graphql" in PARTS:
        from django.test import Client

        from bench import reads
        from bench.api import GRAPHQL_PAGE

        people = {"tenant-all": member}
        headers = reads.credentials(people)["tenant-all"]["token"]
        extra = {f"HTTP_{key.upper()}": value for key, value in headers.items()}
        client = Client()
        body = {"query": GRAPHQL_PAGE, "variables": {"after": None}}

        def graphql_page(index: int = 0) -> Any:
            return client.post("/graphql", body, content_type="application/json", **extra)

        graphql_page()
        samples, cpu = [], []
        for _ in range(RUNS):
            started, started_cpu = time.perf_counter(), time.process_time()
            response = graphql_page()
            samples.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
            assert response.status_code == 200 and "errors" not in response.json()
        print("GraphQL page wall (test client)", stats(samples), "bytes", len(response.content))
        print("GraphQL page CPU", stats(cpu), "load", os.getloadavg())
        captured = queries_of(graphql_page)
        print(f"--- GraphQL queries: {len(captured)}, {sum(q['ms'] for q in captured):.1f} ms")
        for query in captured:
            print(f"{query['ms']:8.1f} ms  {query['sql'][:160]}")
        profile(graphql_page, 10, "GraphQL page")


if __name__ == "__main__":
    main()
