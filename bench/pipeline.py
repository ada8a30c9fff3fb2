"""`make bench` (`python -m bench.pipeline`): the event pipeline measured end to end.

Stages, all against the bench's own database (bench/harness.py):

1. setup: re-create `portal_bench`, migrate, create tenants with accounts and sources;
   start the web server (one process) and one Celery worker with two processes, plus beat.
2. warm-up: a few thousand events through the whole path (not measured).
3. throughput: BENCH_EVENTS events (100,000) posted over HTTP from BENCH_CLIENTS threads;
   events/s from the first POST to the last event projected, intake latency per request,
   the inbox backlog, CPU by process group and peak worker memory.
3b. worker processes: BENCH_SCALING_EVENTS events (20,000) the same way with a worker of
   1 and then 2 processes (projection lanes): events/s, CPU ms per event by process group,
   deadlocks counted in each worker's log (any is a failure).
4. steady: BENCH_STEADY_RATE events/s (500) for BENCH_STEADY_SECONDS (25), a request
   per source every 100 ms; event-to-visible latency measured two ways.
5. profile: BENCH_PROFILE_EVENTS more events (20,000) with py-spy sampling the web server
   and the workers (cProfile of an in-process drain when py-spy cannot attach).
6. naive: BENCH_NAIVE_EVENTS events (5,000) through one Celery task per event (bench/naive.py).
7. COPY: the throughput stage's rows into a copy of the inbox table by PostgreSQL COPY.

Results are printed, saved as JSON under .local/bench/ and written into docs/BENCHMARKS.md.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import harness, profiling, report, workload
from bench.client import Inbox, encode_requests, percentile, post, post_all

ROOT = harness.ROOT


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


CONFIG = {
    "events": _int("BENCH_EVENTS", 100_000),
    "clients": _int("BENCH_CLIENTS", 3),
    "warmup_events": _int("BENCH_WARMUP_EVENTS", 3_000),
    "steady_rate": _int("BENCH_STEADY_RATE", 500),
    "steady_seconds": _int("BENCH_STEADY_SECONDS", 25),
    "profile_events": _int("BENCH_PROFILE_EVENTS", 20_000),
    "naive_events": _int("BENCH_NAIVE_EVENTS", 5_000),
    "worker_concurrency": _int("BENCH_WORKER_CONCURRENCY", 2),
    # Events of each run with 1 and with 2 worker processes (projection lanes).
    "scaling_events": _int("BENCH_SCALING_EVENTS", 20_000),
    "drain_timeout": _int("BENCH_DRAIN_TIMEOUT", 900),
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


class BacklogMonitor(threading.Thread):
    """Polls the inbox's pending/held counts every half second while a stage runs."""

    def __init__(self, database_url: str) -> None:
        super().__init__(daemon=True)
        self.inbox = Inbox(database_url)
        self.samples: list[tuple[float, int, int]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(0.5):
            pending, held = self.inbox.unfinished()
            self.samples.append((time.time(), pending, held))

    def finish(self) -> dict:
        self._halt.set()
        self.join()
        self.inbox.close()
        return {
            "max_pending": max((s[1] for s in self.samples), default=0),
            "max_held": max((s[2] for s in self.samples), default=0),
        }


def stage_throughput(context: dict, events: list[dict], *, label: str) -> dict:
    window = workload.window_for_batches_of(events, 1000)
    requests = encode_requests(workload.intake_requests(events, window=window))
    inbox = context["inbox"]
    base_id = inbox.max_id()
    sampler = harness.Sampler(context["groups"])
    monitor = BacklogMonitor(context["servers"].database_url)
    log(
        f"{label}: posting {len(events):,} events in {len(requests)} requests "
        f"from {CONFIG['clients']} clients"
    )
    sampler.start()
    monitor.start()
    posting = post_all(context["port"], context["tokens"], requests, clients=CONFIG["clients"])
    log(
        f"{label}: all answered after {posting.last_answered - posting.first_started:.1f} s; "
        "waiting for the workers"
    )
    drained = inbox.wait_until_drained(timeout=CONFIG["drain_timeout"])
    # When the last batch's commit was seen (polled every 50 ms near the end): processed_at
    # is when a row's batch claimed it, before it was projected.
    last = time.time()
    sampler.finish()
    backlog = monitor.finish()
    states = inbox.states_since(base_id)
    seconds = last - posting.first_started
    intake_seconds = posting.last_answered - posting.first_started
    latencies = posting.latencies()
    sizes = [answer.request.count for answer in posting.answers]
    result = {
        "events": len(events),
        "requests": len(requests),
        "mean_batch": sum(sizes) / len(sizes),
        "max_batch": max(sizes),
        "accepted": posting.accepted,
        "non_202": posting.failed,
        "retried": posting.retried,
        "drained": drained,
        "states": states,
        "seconds": seconds,
        "events_per_second": states.get("processed", 0) / seconds,
        "intake_seconds": intake_seconds,
        "intake_events_per_second": posting.accepted / intake_seconds,
        "intake_p50_ms": 1000 * percentile(latencies, 0.5),
        "intake_p95_ms": 1000 * percentile(latencies, 0.95),
        "intake_max_ms": 1000 * max(latencies),
        "intake_p95_ms_per_1000": 1000
        * percentile(
            [
                latency * 1000 / answer.request.count
                for latency, answer in zip(latencies, posting.answers, strict=True)
            ],
            0.95,
        ),
        "cpu_seconds": sampler.cpu_seconds(),
        "wall": sampler.wall,
        "machine": sampler.machine,
        "peak_rss": sampler.peak_rss,
        "peak_single_rss": sampler.peak_single_rss,
        **backlog,
    }
    log(
        f"{label}: {result['events_per_second']:,.0f} events/s end to end "
        f"({seconds:.1f} s), intake {result['intake_events_per_second']:,.0f} events/s, "
        f"states {states}"
    )
    return result


def stage_steady(context: dict, events: list[dict]) -> dict:
    """A request per source every 100 ms carrying rate/10 events in all; latency from the
    POST's answer until the event's projection is committed (polled every 20 ms), and from
    received_at to processed_at as the database records them."""
    rate, seconds = CONFIG["steady_rate"], CONFIG["steady_seconds"]
    per_tick = max(1, rate // 10)
    ticks = [events[i : i + per_tick] for i in range(0, rate * seconds, per_tick)]
    inbox = context["inbox"]
    base_id = inbox.max_id()
    poll = Inbox(context["servers"].database_url)
    outstanding: dict[tuple[str, str], float] = {}
    visible: list[float] = []
    answers = []
    lock = threading.Lock()
    sending_done = threading.Event()

    def send(tick_events: list[dict]) -> None:
        for source, batch in workload.intake_requests(tick_events, window=len(tick_events)):
            (request,) = encode_requests([(source, batch)])
            answer = post(context["port"], context["tokens"][source], request)
            with lock:
                answers.append(answer)
                for event_id in request.event_ids:
                    outstanding[(source, event_id)] = answer.answered

    stop_polling = threading.Event()

    def poller() -> None:
        while not stop_polling.is_set():
            if sending_done.is_set() and not outstanding:
                return
            with lock:
                keys = list(outstanding)
            polled_at = time.time()
            for key in poll.processed_among(keys):
                with lock:
                    answered = outstanding.pop(tuple(key))
                visible.append(max(0.0, polled_at - answered))
            time.sleep(0.02)

    sampler = harness.Sampler(context["groups"])
    sampler.start()
    watcher = threading.Thread(target=poller, daemon=True)
    watcher.start()
    senders: list[threading.Thread] = []
    started = time.monotonic()
    log(f"steady: {rate} events/s for {seconds} s ({per_tick} events every 100 ms)")
    for index, tick_events in enumerate(ticks):
        delay = started + index * 0.1 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        sender = threading.Thread(target=send, args=(tick_events,))
        sender.start()
        senders.append(sender)
    for sender in senders:
        sender.join()
    send_seconds = time.monotonic() - started
    sending_done.set()
    watcher.join(timeout=120)
    stop_polling.set()
    watcher.join()
    inbox.wait_until_drained(timeout=120)
    sampler.finish()
    poll.close()
    database = inbox.visible_latencies_since(base_id)
    latencies = [answer.answered - answer.started for answer in answers]
    sent = sum(answer.request.count for answer in answers)
    result = {
        "rate": rate,
        "seconds": seconds,
        "sent": sent,
        "achieved_rate": sent / send_seconds,
        "requests": len(answers),
        "non_202": sum(a.status != 202 for a in answers),
        "retried": sum(a.retries > 0 for a in answers),
        "visible_p50_ms": 1000 * percentile(visible, 0.5),
        "visible_p95_ms": 1000 * percentile(visible, 0.95),
        "visible_p99_ms": 1000 * percentile(visible, 0.99),
        "visible_max_ms": 1000 * max(visible, default=float("nan")),
        "visible_measured": len(visible),
        "db_p50_ms": 1000 * percentile(database, 0.5),
        "db_p95_ms": 1000 * percentile(database, 0.95),
        "db_p99_ms": 1000 * percentile(database, 0.99),
        "intake_p50_ms": 1000 * percentile(latencies, 0.5),
        "intake_p95_ms": 1000 * percentile(latencies, 0.95),
        "cpu_seconds": sampler.cpu_seconds(),
        "wall": sampler.wall,
        "machine": sampler.machine,
        "peak_rss": sampler.peak_rss,
        "peak_single_rss": sampler.peak_single_rss,
    }
    log(
        f"steady: {result['achieved_rate']:.0f} events/s sent; answer -> visible "
        f"p50 {result['visible_p50_ms']:.0f} ms, p95 {result['visible_p95_ms']:.0f} ms"
    )
    return result


def start_worker(context: dict, processes: int, log_name: str):
    """(Re)start the portal's Celery worker with `processes` pool processes."""
    from portal.celery import app as portal_app

    if context.get("worker") is not None:
        harness.stop(context["worker"])
        context["processes"].remove(context["worker"])
    worker = harness.start_celery(
        context["servers"],
        "portal",
        "worker",
        f"--concurrency={processes}",
        "--without-gossip",
        "--without-mingle",
        log=context["directory"] / log_name,
    )
    context["worker"] = worker
    context["processes"].insert(1, worker)
    if "groups" in context:
        context["groups"]["workers"] = lambda: [p.pid for p in harness.process_tree(worker.pid)]
    harness.wait_for_workers(portal_app, 1)
    return worker


def stage_worker_processes(context: dict, streams: dict[int, list[dict]]) -> dict:
    """The same kind of run with 1 and with 2 worker processes: what projection lanes
    gain, CPU milliseconds per event by process group, and deadlocks (any is a failure)."""
    runs = {}
    for processes, events in streams.items():
        log_name = f"worker-{processes}-processes.log"
        start_worker(context, processes, log_name)
        measured = stage_throughput(context, events, label=f"{processes} worker process(es)")
        errors = report.log_errors(context["directory"] / log_name)
        machine = measured["machine"]
        busy = sum(machine.get(name, 0.0) for name in ("user", "system", "softirq", "steal"))
        runs[processes] = {
            "events": measured["events"],
            "events_per_second": measured["events_per_second"],
            "seconds": measured["seconds"],
            "states": measured["states"],
            "cpu_ms_per_event": {
                group: 1000 * seconds / measured["events"]
                for group, seconds in measured["cpu_seconds"].items()
            },
            "machine_ms_per_event": 1000 * busy / measured["events"],
            "deadlocks": errors["deadlocks"],
            "errors": errors["errors"],
            "max_held": measured["max_held"],
        }
    start_worker(context, CONFIG["worker_concurrency"], "worker-after-scaling.log")
    return runs


def stage_profile_py_spy(context: dict, events: list[dict], py_spy: str) -> dict:
    directory: Path = context["directory"]
    spies = {
        "workers": profiling.py_spy_start(
            py_spy, context["worker"].pid, directory / "py-spy-workers.txt", subprocesses=True
        ),
        "web": profiling.py_spy_start(
            py_spy, context["web"].pid, directory / "py-spy-web.txt", subprocesses=False
        ),
    }
    time.sleep(1.0)
    try:
        measured = stage_throughput(context, events, label="profile")
    finally:
        for spy in spies.values():
            profiling.py_spy_stop(spy)
    return {
        "tool": "py-spy (100 Hz, --nonblocking) on the running web server and workers",
        "events_per_second_while_sampled": measured["events_per_second"],
        "workers": profiling.summarize_collapsed(directory / "py-spy-workers.txt"),
        "web": profiling.summarize_collapsed(directory / "py-spy-web.txt"),
        "cpu_seconds": measured["cpu_seconds"],
        "wall": measured["wall"],
    }


def stage_profile_cprofile(context: dict, events: list[dict]) -> dict:
    """With the workers stopped: intake over HTTP, then cProfile of one in-process drain."""
    requests = encode_requests(
        workload.intake_requests(events, window=workload.window_for_batches_of(events, 1000))
    )
    post_all(context["port"], context["tokens"], requests, clients=CONFIG["clients"])
    started = time.monotonic()
    projected, text = profiling.cprofile_drain()
    seconds = time.monotonic() - started
    (context["directory"] / "cprofile.txt").write_text(text)
    return {
        "tool": "cProfile of process_inbox_until_empty in one process (workers stopped)",
        "projected": projected,
        "events_per_second_while_profiled": projected / seconds,
        "cprofile_top": text,
    }


def stage_naive(context: dict, events: list[dict]) -> dict:
    from bench import naive

    servers = context["servers"]
    worker = harness.start_celery(
        servers,
        "bench.naive",
        "worker",
        "-Q",
        naive.QUEUE,
        f"--concurrency={CONFIG['worker_concurrency']}",
        "--without-gossip",
        "--without-mingle",
        log=context["directory"] / "naive-worker.log",
    )
    context["processes"].append(worker)
    harness.wait_for_workers(naive.app, 1)
    inbox = context["inbox"]
    base_id = inbox.max_id()
    groups = {
        "workers": lambda: [p.pid for p in harness.process_tree(worker.pid)],
        "postgres": context["groups"]["postgres"],
        "redis": context["groups"]["redis"],
        "client": context["groups"]["client"],
    }
    sampler = harness.Sampler(groups)
    sampler.start()
    log(f"naive: publishing {len(events):,} tasks, one per event")
    started = time.time()
    for event in events:
        naive.project_one_event.delay(event["source"], event)
    published = time.time() - started
    drained = False
    deadline = time.monotonic() + CONFIG["drain_timeout"]
    previous, unchanged_since = None, time.monotonic()
    while time.monotonic() < deadline:
        states = inbox.states_since(base_id)
        if states.get("processed", 0) >= len(events) or (
            sum(states.values()) >= len(events)
            and not states.get("pending")
            and not states.get("held")
        ):
            drained = True
            break
        if states != previous:
            previous, unchanged_since = states, time.monotonic()
        elif sum(states.values()) >= len(events) and time.monotonic() - unchanged_since > 10:
            # The naive design has no sweep and no retry: a hold that crossed its release
            # stays held, and a task that failed (two tasks inserting the same new order)
            # leaves its row pending.
            break
        time.sleep(0.25)
    sampler.finish()
    states = inbox.states_since(base_id)
    last = inbox.last_processed_since(base_id) or time.time()
    harness.stop(worker)
    seconds = last - started
    result = {
        "events": len(events),
        "seconds": seconds,
        "publish_seconds": published,
        "events_per_second": states.get("processed", 0) / seconds,
        "states": states,
        "drained": drained,
        "cpu_seconds": sampler.cpu_seconds(),
        "wall": sampler.wall,
        "peak_rss": sampler.peak_rss,
    }
    log(f"naive: {result['events_per_second']:,.0f} events/s ({seconds:.1f} s), {states}")
    return result


def stage_copy(context: dict, events: list[dict]) -> dict:
    import psycopg

    received = datetime.now(UTC).isoformat()
    rows = [
        (
            event["source"],
            event["event_id"],
            event["event_type"],
            event["spec_version"],
            event["occurred_at"],
            event.get("sequence"),
            json.dumps(event["data"]),
            received,
            "pending",
            "",
            0,
            "",
        )
        for event in events
    ]
    with psycopg.connect(context["servers"].database_url) as connection:
        connection.execute("DROP TABLE IF EXISTS bench_copy_inbox")
        connection.execute(
            "CREATE TABLE bench_copy_inbox (LIKE integration_inboxevent INCLUDING ALL)"
        )
        connection.commit()
        started = time.monotonic()
        with (
            connection.cursor() as cursor,
            cursor.copy(
                "COPY bench_copy_inbox (source, event_id, event_type, spec_version, "
                "occurred_at, sequence, data, received_at, state, waiting_for, attempts, "
                "last_error) FROM STDIN"
            ) as copy,
        ):
            for row in rows:
                copy.write_row(row)
        connection.commit()
        seconds = time.monotonic() - started
        connection.execute("DROP TABLE bench_copy_inbox")
        connection.commit()
    result = {"rows": len(rows), "seconds": seconds, "rows_per_second": len(rows) / seconds}
    log(f"COPY: {result['rows_per_second']:,.0f} rows/s ({seconds:.2f} s)")
    return result


def setup(context: dict) -> None:
    servers = context["servers"]
    log(f"servers: {servers.described}")
    harness.database_recreate(servers)
    log(f"migrating {harness.BENCH_DATABASE}")
    harness.manage(servers, "migrate", "--noinput")
    for slug, name, accounts in workload.TENANTS:
        harness.manage(
            servers, "create_tenant", slug, "--name", name, "--accounts", ",".join(accounts)
        )
    context["tokens"] = {
        source: harness.manage(servers, "create_source", source, "--role", source).split()[-1]
        for source in workload.SOURCES
    }
    os.environ.update(
        {
            "DATABASE_URL": servers.database_url,
            "REDIS_URL": servers.redis_url,
            "MEDIA_ROOT": servers.media_root,
            "DJANGO_SETTINGS_MODULE": "portal.settings",
        }
    )
    import django

    django.setup()


def start_portal(context: dict) -> None:
    servers, directory = context["servers"], context["directory"]
    context["port"] = port = harness.free_port()
    context["web"] = web = harness.start_web_server(servers, port, log=directory / "web.log")
    context["processes"].append(web)
    worker = start_worker(context, CONFIG["worker_concurrency"], "worker.log")
    beat = harness.start_celery(
        servers,
        "portal",
        "beat",
        "--schedule",
        str(directory / "beat-schedule"),
        log=directory / "beat.log",
    )
    context["processes"].append(beat)
    context["groups"] = {
        "web": lambda: [web.pid],
        "workers": lambda: [p.pid for p in harness.process_tree(worker.pid)],
        "beat": lambda: [beat.pid],
        "postgres": harness.postgres_pids_for(harness.BENCH_DATABASE),
        "redis": harness.redis_pids(servers),
        "client": lambda: [os.getpid()],
    }
    log(f"web server on port {port}, worker with {CONFIG['worker_concurrency']} processes, beat")


def main() -> int:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    directory = ROOT / ".local" / "bench" / stamp
    directory.mkdir(parents=True, exist_ok=True)
    context: dict = {"directory": directory, "processes": [], "started": datetime.now(UTC)}
    results: dict = {"config": CONFIG}
    context["servers"] = harness.servers_start()
    try:
        setup(context)
        context["inbox"] = Inbox(context["servers"].database_url)
        total = CONFIG["events"]
        log(f"generating {total:,} events")
        streams = {
            "warmup": workload.generate_events(CONFIG["warmup_events"], prefix="w"),
            "throughput": workload.generate_events(total, prefix="e"),
            "steady": workload.generate_events(
                CONFIG["steady_rate"] * CONFIG["steady_seconds"], prefix="s"
            ),
            "profile": workload.generate_events(CONFIG["profile_events"], prefix="p"),
            "naive": workload.generate_events(CONFIG["naive_events"], prefix="n"),
            **{
                f"processes-{count}": workload.generate_events(
                    CONFIG["scaling_events"], prefix=f"l{count}"
                )
                for count in (1, 2)
            },
        }
        results["mix"] = workload.mix(streams["throughput"])
        start_portal(context)
        stage_throughput(context, streams["warmup"], label="warm-up")
        results["throughput"] = stage_throughput(context, streams["throughput"], label="throughput")
        results["worker_processes"] = stage_worker_processes(
            context, {count: streams[f"processes-{count}"] for count in (1, 2)}
        )
        results["steady"] = stage_steady(context, streams["steady"])
        py_spy = profiling.py_spy_path()
        if py_spy and profiling.py_spy_works(py_spy, context["web"].pid):
            results["profile"] = stage_profile_py_spy(context, streams["profile"], py_spy)
        for process in context["processes"][1:]:  # the worker and beat, not the web server
            harness.stop(process)
        if "profile" not in results:
            results["profile"] = stage_profile_cprofile(context, streams["profile"])
        results["naive"] = stage_naive(context, streams["naive"])
        results["copy"] = stage_copy(context, streams["throughput"])
        results["worker_errors"] = report.log_errors(
            directory / "worker.log", directory / "worker-after-scaling.log"
        )
    finally:
        for process in reversed(context["processes"]):
            harness.stop(process)
        if "inbox" in context:
            context["inbox"].close()
        context["servers"].close()
    results["environment"] = report.environment(context)
    (directory / "results.json").write_text(json.dumps(results, indent=2, default=str))
    print(report.summary_table(results))
    if os.environ.get("BENCH_WRITE_DOC", "1") == "1":
        report.write_doc(ROOT / "docs" / "BENCHMARKS.md", results)
        log("results written to docs/BENCHMARKS.md and " + str(directory / "results.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
