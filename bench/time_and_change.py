"""`make bench-time` (`python -m bench.time_and_change`): time and change at production size.

Against the read bench's database (env BENCH_READS_DATABASE, filled by bench/read_data.py),
measures p50/p95 over BENCH_TIME_RUNS (30) runs of:

- (a) one clock sweep (`clock.clock_sweep(now)`, one batch of at most CLOCK_SWEEP_BATCH
  rows) with due sets of BENCH_TIME_DUE (default `0,minute,100,500,2000,1%`: `minute` is
  a minute's due set when every open shipment is checked once in 48 hours, `1%` of the
  shipments): the due rows are set in a transaction rolled back after each run; the
  selection alone (`clock.due_shipments`) is timed too; and the sweep of a window's real
  due set (BENCH_TIME_WINDOWS, minutes, default `1,10`: the rows whose own next check,
  as the clock set it, falls in the window; best with BENCH_TIME_EVALUATE_ALL=1);
- (b) the exception queue's first page as the page reads it (`selectors.exception_queue(staff)`,
  a page of 100 and one row more, in a request's remembered standing), the count the page
  no longer makes, and a customer's `open_exceptions(member)[:50]`, each evaluated; then
  the whole page `/exceptions/` (rows, template, middleware: Django's test client in this
  process, a staff session past the second factor), unfiltered and with each of the
  queue's filters (a reason, the largest tenant, its carrier, older than 48 hours);
  BENCH_TIME_GC_FREEZE=1 tunes the garbage collector as portal/wsgi.py does the served
  process;
- (c) a change-feed page of 1,000 rows (`api.changes.read_page(token, after=…, limit=1000)`
  and its bytes, `api.changes.page_bytes`: what the API answers short of HTTP) and of the
  default size, for a partner token of the largest tenant, at random positions;
- (d) EXPLAIN (ANALYZE, BUFFERS) of the due-set query at several due-set sizes: it reads
  the partial index `shipment_next_check` and only the due rows.

Set-up, once and committed (skipped when done): every open shipment gets a next check
in the 48 hours after the bench's "now" (read_data.NOW); the clock is run for real over
the open shipments in exception or delayed (which opens their exception records); the
change rows the generator's COPY left (triggers) are given positions.
Results: printed and saved under .local/bench/time_and_change-<database>.json.
BENCH_TIME_PARTS (sweep,queue,feed) picks the measurements; BENCH_TIME_EVALUATE_ALL=1 first
evaluates every open shipment with the clock (steady state: a due row's states were
evaluated before, as in production).
"""

from __future__ import annotations

import json
import os
import random
import time
from datetime import timedelta
from typing import Any

from bench import read_data
from bench.reads import stats

ROOT = read_data.ROOT
RESULTS = ROOT / ".local" / "bench" / f"time_and_change-{read_data.DATABASE}.json"
RUNS = int(os.environ.get("BENCH_TIME_RUNS", "30"))
NOW = read_data.NOW
# The runs sweep an hour before the set-up's "now": a check the set-up's clock run put at
# exactly NOW (a lateness re-read, see clock_evaluate: promised_end + ceil(days) equals
# now when now - promised_end is a whole number of days) is then not due.
SWEEP_NOW = NOW - timedelta(hours=1)
TARGET_MS = 50.0
EXCEPTION_SEED_LIMIT = int(os.environ.get("BENCH_TIME_EXCEPTION_SHIPMENTS", "20000"))


def log(message: str) -> None:
    print(f"[time {time.strftime('%H:%M:%S')}] {message}", flush=True)


def setup() -> dict[str, Any]:
    from django.db import connection, transaction

    from visibility.models import Shipment, ShipmentException
    from visibility.services import clock
    from visibility.services.changes import stamp_positions

    info: dict[str, Any] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM visibility_shipmentclock WHERE next_check_at IS NOT NULL"
        )
        scheduled = cursor.fetchone()[0]
    if not scheduled:
        log("scheduling next checks of the open shipments")
        started = time.monotonic()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO visibility_shipmentclock (shipment_id, next_check_at)
                SELECT id, %s + interval '1 minute' + random() * interval '48 hours'
                FROM visibility_shipment WHERE NOT (status = ANY(%s))
                ON CONFLICT (shipment_id) DO UPDATE SET next_check_at = EXCLUDED.next_check_at
                """,
                [NOW, [str(status) for status in clock.CLOSED]],
            )
        info["schedule_seconds"] = round(time.monotonic() - started, 1)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE visibility_shipmentclock")
    if not ShipmentException.objects.exists():
        log("running the clock over open shipments in exception or delayed")
        started = time.monotonic()
        ids = list(
            Shipment.objects.exclude(status__in=clock.CLOSED)
            .filter(status="exception")
            .values_list("id", flat=True)[:EXCEPTION_SEED_LIMIT]
        )
        ids += list(
            Shipment.objects.exclude(status__in=clock.CLOSED)
            .filter(delayed=True)
            .exclude(status="exception")
            .values_list("id", flat=True)[: max(0, EXCEPTION_SEED_LIMIT - len(ids))]
        )
        for start in range(0, len(ids), 2000):
            with transaction.atomic():
                shipments = list(
                    Shipment.objects.filter(id__in=ids[start : start + 2000]).only(
                        *clock.CLOCK_INPUTS, *clock.CLOCK_FIELDS
                    )
                )
                clock.shipments_clock_refresh(shipments, NOW)
        info["exception_seed_shipments"] = len(ids)
        info["exception_seed_seconds"] = round(time.monotonic() - started, 1)
    if os.environ.get("BENCH_TIME_EVALUATE_ALL"):
        # Steady state: every open shipment's states evaluated once by the real clock (an
        # hour before the sweeps' now), so a due row flips only when a rule's instant passed.
        log("evaluating every open shipment with the clock")
        started = time.monotonic()
        ids = list(Shipment.objects.exclude(status__in=clock.CLOSED).values_list("id", flat=True))
        for start in range(0, len(ids), 2000):
            with transaction.atomic():
                shipments = list(
                    Shipment.objects.filter(id__in=ids[start : start + 2000]).only(
                        *clock.CLOCK_INPUTS, *clock.CLOCK_FIELDS
                    )
                )
                clock.shipments_clock_refresh(shipments, SWEEP_NOW - timedelta(hours=1))
        info["evaluate_all_seconds"] = round(time.monotonic() - started, 1)
    log("stamping change positions")
    started = time.monotonic()
    stamped = 0
    while True:
        count = stamp_positions(wait=True)
        stamped += count
        if not count:
            break
    info["stamped"] = stamped
    info["stamp_seconds"] = round(time.monotonic() - started, 1)
    # As autovacuum would after that many updates: stamping leaves every row's entry in
    # the partial index `change_unstamped` (position IS NULL) dead, and each reader's
    # stamper walks them until a vacuum (measured: 0.6-1 s a page at 3.5 M rows).
    log("vacuuming the change and shipment tables")
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE visibility_change")
        cursor.execute("VACUUM ANALYZE visibility_shipment")
        cursor.execute("VACUUM ANALYZE visibility_shipmentclock")
        # The exception records the clock just opened: with the statistics from before
        # them the planner took a reason's 20,000 open records for one and read them all
        # for a filtered queue page (~1 s; autoanalyze would have caught up in production).
        cursor.execute("VACUUM ANALYZE visibility_shipmentexception")
    info["vacuum_seconds"] = round(time.monotonic() - started, 1)
    with connection.cursor() as cursor:
        for name, sql in {
            "shipments": "SELECT count(*) FROM visibility_shipment",
            "scheduled": "SELECT count(*) FROM visibility_shipmentclock"
            " WHERE next_check_at IS NOT NULL",
            "exceptions_open": "SELECT count(*) FROM visibility_shipmentexception"
            " WHERE status <> 'resolved'",
            "changes": "SELECT count(*) FROM visibility_change",
            "due_before_runs": "SELECT count(*) FROM visibility_shipmentclock"
            f" WHERE next_check_at <= '{SWEEP_NOW.isoformat()}'",
            "due_at_setup_now": "SELECT count(*) FROM visibility_shipmentclock"
            f" WHERE next_check_at <= '{NOW.isoformat()}'",
        }.items():
            cursor.execute(sql)
            info[name] = cursor.fetchone()[0]
    return info


def _make_due(cursor: Any, ids: list[int]) -> None:
    cursor.execute(
        """
        UPDATE visibility_shipmentclock
        SET next_check_at = %s - random() * interval '6 hours'
        WHERE shipment_id = ANY(%s)
        """,
        [SWEEP_NOW, ids],
    )


class _Rollback(Exception):
    pass


def measure_sweep(open_ids: list[int], due: int, rng: random.Random) -> dict[str, Any]:
    from django.conf import settings
    from django.db import connection, transaction

    from visibility.services import clock

    sweep: list[float] = []
    select: list[float] = []
    swept: list[int] = []
    # Each run's rolled-back "make due" leaves dead entries in the partial index's due
    # range, which a bitmap scan cannot skip; vacuum them before each due-set size, as
    # autovacuum does in production (migration 0017 sets its thresholds for this table).
    with connection.cursor() as cursor:
        cursor.execute("VACUUM visibility_shipmentclock")
    for _ in range(RUNS):
        ids = rng.sample(open_ids, min(due, len(open_ids)))
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    _make_due(cursor, ids)
                started = time.perf_counter()
                rows = list(clock.due_shipments(SWEEP_NOW, settings.CLOCK_SWEEP_BATCH))
                select.append((time.perf_counter() - started) * 1000)
                del rows
                started = time.perf_counter()
                swept.append(clock.clock_sweep(SWEEP_NOW))
                sweep.append((time.perf_counter() - started) * 1000)
                raise _Rollback
        except _Rollback:
            pass
    sweep_stats = stats(sweep)
    batch = round(sum(swept) / len(swept))
    return {
        "due": due,
        "batch": batch,
        "select": stats(select),
        "sweep": sweep_stats,
        "rows_per_second_p50": round(batch / (sweep_stats["p50"] / 1000)),
    }


def measure_minutes(minutes: int) -> dict[str, Any]:
    """The sweep of one window's real due set: the rows whose own next check (as the clock
    put it when it evaluated them, not made due by the bench) falls in `minutes` minutes.
    Each run takes the next window after SWEEP_NOW; what came before the window is swept
    first, untimed (as the previous beat runs did); rolled back after each run."""
    from django.db import transaction

    from visibility.services import clock

    sweep: list[float] = []
    swept: list[int] = []
    for index in range(RUNS):
        start = SWEEP_NOW + timedelta(minutes=minutes * index)
        try:
            with transaction.atomic():
                while clock.clock_sweep(start):
                    pass
                started = time.perf_counter()
                swept.append(clock.clock_sweep(start + timedelta(minutes=minutes)))
                sweep.append((time.perf_counter() - started) * 1000)
                raise _Rollback
        except _Rollback:
            pass
    return {
        "minutes": minutes,
        "due": {"min": min(swept), "mean": round(sum(swept) / len(swept), 1), "max": max(swept)},
        "sweep": stats(sweep),
    }


def explain_due(open_ids: list[int], due: int, rng: random.Random) -> str:
    from django.conf import settings
    from django.db import connection, transaction

    from visibility.services import clock

    plan = ""
    try:
        with transaction.atomic():
            query = clock.due_shipments(SWEEP_NOW, settings.CLOCK_SWEEP_BATCH)
            sql, params = query.query.sql_with_params()
            with connection.cursor() as cursor:
                if due:
                    _make_due(cursor, rng.sample(open_ids, min(due, len(open_ids))))
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                plan = "\n".join(row[0] for row in cursor.fetchall())
            raise _Rollback
    except _Rollback:
        pass
    return plan


def timed_runs(function: Any, runs: int = RUNS) -> tuple[dict[str, float], Any]:
    samples = []
    result = None
    for index in range(runs + 3):
        started = time.perf_counter()
        result = function(index)
        elapsed = (time.perf_counter() - started) * 1000
        if index >= 3:  # warm-up
            samples.append(elapsed)
    return stats(samples), result


def measure_queue_pages(staff: Any, tenant: Any) -> dict[str, Any]:
    """The queue page `/exceptions/` as a request renders it, in this process (Django's
    test client: the same middleware, view and template), first page unfiltered and with
    each filter of the queue."""
    from django.db import connection
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_static.models import StaticDevice

    from visibility.models import ShipmentException

    if os.environ.get("BENCH_TIME_GC_FREEZE"):
        # As portal/wsgi.py tunes the served process.
        import gc

        gc.freeze()
        gc.set_threshold(7_000, 10, 10)
    client = Client()
    client.force_login(staff)
    device, _ = StaticDevice.objects.get_or_create(
        user=staff, name="bench", defaults={"confirmed": True}
    )
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    oldest = (
        ShipmentException.objects.exclude(status="resolved")
        .filter(shipment__customer_account__tenant=tenant)
        .select_related("shipment")
        .order_by("opened_at", "id")
        .first()
    )
    assert oldest is not None
    queries = {
        "first page": {},
        "reason": {"reason": oldest.reason},
        "tenant": {"tenant": str(tenant.id)},
        "carrier": {"carrier": oldest.shipment.carrier_scac},
        "older than 48 h": {"older_than_hours": "48"},
    }
    pages: dict[str, Any] = {}
    for label, query in queries.items():
        statements: list[str] = []

        def count(
            execute: Any, sql: str, *args: Any, statements: list[str] = statements, **kwargs: Any
        ) -> Any:
            statements.append(sql)
            return execute(sql, *args, **kwargs)

        with connection.execute_wrapper(count):
            response = client.get("/exceptions/", query)
        assert response.status_code == 200, response.status_code
        body = response.content.decode()

        cpu: list[float] = []

        def page(_: int, query: dict[str, str] = query, cpu: list[float] = cpu) -> int:
            started = time.process_time()
            size = len(client.get("/exceptions/", query).content)
            cpu.append((time.process_time() - started) * 1000)
            return size

        timing, size = timed_runs(page)
        pages[label] = {
            "query": query,
            "rows": body.count("<tr>") - 1,
            "queries": len(statements),
            "bytes": size,
            **timing,
            "cpu": stats(cpu[3:]),
        }
        log(f"queue page {label}: {pages[label]}")
    return pages


def main() -> None:
    # The queue's page renders templates: plain static names, no collectstatic first.
    os.environ.setdefault("STATIC_MANIFEST", "0")
    read_data.setup_django()
    from django.contrib.auth import get_user_model
    from django.db import connection

    from accounts.models import CustomerAccount
    from accounts.scoping import standings_remembered_for_this_request
    from accounts.services import api_token_create
    from portal.exception_views import QUEUE_PAGE_SIZE
    from visibility import selectors
    from visibility.api.changes import page_bytes, read_page
    from visibility.changes import DEFAULT_PAGE
    from visibility.models import Shipment, VisibilityChange
    from visibility.services import clock

    info = setup()
    log(f"data: {json.dumps(info)}")
    rng = random.Random(11)
    results: dict[str, Any] = {"data": info, "runs": RUNS, "now": SWEEP_NOW.isoformat()}

    open_ids = list(Shipment.objects.exclude(status__in=clock.CLOSED).values_list("id", flat=True))
    results["open_shipments"] = len(open_ids)
    one_percent = max(1, info["shipments"] // 100)
    # A minute's due set in the bench's steady state: every open shipment checked once in
    # the 48 hours the set-up spreads them over (2,880 minutes).
    minute = max(1, round(len(open_ids) / 2880))
    results["due_per_minute"] = minute
    sizes = {"minute": minute, "1%": one_percent}
    due_sets = [
        sizes[name] if name in sizes else int(name)
        for name in os.environ.get("BENCH_TIME_DUE", "0,minute,100,500,2000,1%").split(",")
    ]
    log("sweeps")
    parts = os.environ.get("BENCH_TIME_PARTS", "sweep,queue,feed").split(",")
    if "sweep" in parts:
        results["sweep"] = [measure_sweep(open_ids, due, rng) for due in due_sets]
        results["windows"] = [
            measure_minutes(int(minutes))
            for minutes in os.environ.get("BENCH_TIME_WINDOWS", "1,10").split(",")
            if minutes
        ]
        log("EXPLAIN of the due set")
        results["explain_due"] = {
            str(due): explain_due(open_ids, due, rng) for due in (0, 2000, one_percent)
        }

    users = get_user_model().objects
    staff = users.get(username="bench-staff")
    member = users.get(username="bench-t01-all")

    # As a request reads them (the middleware remembers the user's standing for the
    # request): the queue page's rows, one more than a page (portal/exception_views.py).
    def queue(_: int) -> int:
        with standings_remembered_for_this_request():
            rows = list(selectors.exception_queue(staff)[: QUEUE_PAGE_SIZE + 1])
            for row in rows:
                _ = (row.shipment.shipment_id, row.shipment.customer_account.tenant_id, row.owner)
        return len(rows)

    # What the page also did before it stopped counting (Django's Paginator).
    def queue_count(_: int) -> int:
        with standings_remembered_for_this_request():
            return selectors.exception_queue(staff).count()

    def customer(_: int) -> int:
        with standings_remembered_for_this_request():
            rows = list(selectors.open_exceptions(member)[:50])
            for row in rows:
                _ = row.shipment.shipment_id
        return len(rows)

    if "queue" in parts:
        log("exception queue")
        results["exception_queue"], results["exception_queue_rows"] = timed_runs(queue)
        results["exception_queue_count"], results["exception_queue_total"] = timed_runs(queue_count)
        results["open_exceptions"], results["open_exceptions_rows"] = timed_runs(customer)
        results["queue_pages"] = measure_queue_pages(staff, member.membership.tenant)

    tenant = member.membership.tenant
    token, _secret = api_token_create(tenant=tenant, name="bench time", account_numbers=[])
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(position), max(position) FROM visibility_change")
        low, high = cursor.fetchone()
    afters = [
        rng.randrange(low or 0, max((high or 0) - 200_000, (low or 0) + 1)) for _ in range(RUNS + 3)
    ]

    # What the API answers, short of HTTP: the page's rows, objects and bytes.
    def feed(index: int) -> int:
        page = read_page(token, after=afters[index], limit=1000)
        page_bytes(page)
        return len(page.entries)

    def feed_default(index: int) -> int:
        page = read_page(token, after=afters[index], limit=DEFAULT_PAGE)
        page_bytes(page)
        return len(page.entries)

    if "feed" in parts:
        log("change feed")
        results["change_page"], results["change_page_entries"] = timed_runs(feed)
        results["change_page_default"], results["change_page_default_entries"] = timed_runs(
            feed_default
        )
    results["change_rows_of_tenant"] = VisibilityChange.objects.filter(
        customer_account_id__in=CustomerAccount.objects.filter(tenant=tenant).values("id")
    ).count()

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, default=str))
    print(json.dumps(results, indent=2, default=str))
    log(f"saved {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
