"""CPU per event of the projection alone, in process (`python -m bench.projection_cpu`).

Against DATABASE_URL (flushed first: use a database of your own). BENCH_EVENTS events
(20,000) are received through the intake service a window at a time, and after each
window this process drains the inbox; only the drains are measured: this process's CPU
(the worker's share) and its PostgreSQL backend's (read from /proc), so the figure is
the projection's machine CPU per event without the web server and the HTTP client.
BENCH_WINDOW (4,000) events per window; smaller windows give the small batches of a
steady load, whose per-batch fixed costs then weigh more. BENCH_PROFILE=cumulative (or
tottime) prints a cProfile of the drains.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path


def _backend_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from bench import workload
    from integration.services.intake import receive_events
    from integration.services.processing import process_inbox_until_empty

    count = int(os.environ.get("BENCH_EVENTS", "20000"))
    window = int(os.environ.get("BENCH_WINDOW", "4000"))
    call_command("flush", "--noinput", verbosity=0)
    for slug, name, accounts in workload.TENANTS:
        call_command(
            "create_tenant", slug, "--name", name, "--accounts", ",".join(accounts), verbosity=0
        )
    for source in workload.SOURCES:
        call_command("create_source", source, "--role", source, stdout=io.StringIO())
    events = workload.generate_events(count, prefix="c")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    profiler = cProfile.Profile(time.process_time) if os.environ.get("BENCH_PROFILE") else None
    worker_cpu = backend_cpu = wall = 0.0
    projected = 0
    for begin in range(0, len(events), window):
        for source, batch in workload.intake_requests(
            events[begin : begin + window], window=window
        ):
            receive_events(source=source, events=batch)
        cpu_before, backend_before, started = (
            time.process_time(),
            _backend_cpu_seconds(backend),
            time.perf_counter(),
        )
        if profiler:
            profiler.enable()
        projected += process_inbox_until_empty()
        if profiler:
            profiler.disable()
        worker_cpu += time.process_time() - cpu_before
        backend_cpu += _backend_cpu_seconds(backend) - backend_before
        wall += time.perf_counter() - started
    print(
        f"events {len(events):,} window {window:,} projected {projected:,} "
        f"load {os.getloadavg()[0]:.2f}\n"
        f"worker {1000 * worker_cpu / projected:.3f} ms/event, "
        f"postgres {1000 * backend_cpu / projected:.3f} ms/event, "
        f"together {1000 * (worker_cpu + backend_cpu) / projected:.3f} ms/event; "
        f"{projected / wall:,.0f} events/s in the drains ({wall:.1f} s)"
    )
    if profiler:
        stats = pstats.Stats(profiler).sort_stats(os.environ["BENCH_PROFILE"])
        stats.print_stats(int(os.environ.get("BENCH_PROFILE_LINES", "40")))
        if os.environ.get("BENCH_PROFILE_CALLERS"):
            stats.print_callees(os.environ["BENCH_PROFILE_CALLERS"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
