"""Does monthly declarative partitioning of the shipment history pay at 10M rows?

`make bench-partitioning` (BENCH_HISTORY_ROWS, default 10,000,000). In a scratch database
(BENCH_PARTITION_DATABASE, default `portal_bench_partitions`, dropped at the end unless
BENCH_KEEP=1) on the server of DATABASE_URL it builds the history table
(`visibility_shipmentevent`'s columns and indexes) twice with the same rows:

- `history_flat`: one table, as today: unique (shipment, event key, kind), index
  (shipment, occurred_at);
- `history_monthly`: PARTITION BY RANGE (occurred_at), one partition a month; the unique
  key must then include occurred_at (PostgreSQL requires the partition key in every
  unique index), so the fact set is unique per (shipment, event key, kind, occurred_at).

Rows: BENCH_HISTORY_ROWS / 10 shipments over 24 months, ids rising with time (as
sequences do), ten facts each eight hours apart (milestones with a location, the last an
ETA). Then it times, interleaving the two shapes sample by sample so load on the shared
machine hits both alike:

- a shipment's history (the detail page): 1,000 random shipments, one query each;
- the derivation read: 100 reads of 1,000 recently active shipments (the last 5 % of ids);
- projection writes: 50,000 new facts for active shipments, `INSERT … ON CONFLICT DO
  NOTHING` in batches of 4,000 (a projection batch);
- the retention delete: the oldest 5 % of shipments, `DELETE … WHERE shipment_id =
  ANY(…)` 500 shipments at a time (what visibility/services/retention.py does), and, for
  the monthly shape only, detaching and dropping the oldest month (which retention could
  use only if every tenant kept the same history: it does not).

Prints a Markdown table and writes `.local/bench/partitioning-<time>.json`.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
ROWS = int(os.environ.get("BENCH_HISTORY_ROWS", "10000000"))
DATABASE = os.environ.get("BENCH_PARTITION_DATABASE", "portal_bench_partitions")
START = datetime(2024, 12, 1, tzinfo=UTC)
MONTHS = 24
FACTS_PER_SHIPMENT = 10
SEED = int(os.environ.get("BENCH_SEED", "20"))

COLUMNS = """
    id bigint NOT NULL DEFAULT nextval('history_id'),
    shipment_id bigint NOT NULL,
    event_key varchar(200) NOT NULL,
    kind varchar(16) NOT NULL,
    occurred_at timestamptz NOT NULL,
    milestone varchar(32) NOT NULL DEFAULT '',
    carrier_status_code varchar(8) NOT NULL DEFAULT '',
    location jsonb,
    stop_sequence integer,
    remarks varchar(1000) NOT NULL DEFAULT '',
    received_by varchar(1000) NOT NULL DEFAULT '',
    eta timestamptz,
    eta_window_start timestamptz,
    eta_window_end timestamptz,
    eta_basis varchar(16) NOT NULL DEFAULT '',
    reason_code varchar(8) NOT NULL DEFAULT '',
    reason_text varchar(1000) NOT NULL DEFAULT ''
"""
FILL = """
INSERT INTO history_flat (shipment_id, event_key, kind, occurred_at, milestone, location,
                          stop_sequence, eta, eta_basis)
SELECT s, 'tms:SHP-' || s || '-' || k,
       CASE WHEN k = 9 THEN 'eta' ELSE 'milestone' END,
       %(start)s::timestamptz + (s::float8 / %(shipments)s) * interval '{days} days'
           + k * interval '8 hours' + (g %% 37) * interval '1 minute',
       CASE WHEN k = 9 THEN ''
            ELSE (ARRAY['tendered','picked_up','departed','in_transit','arrived',
                        'in_transit','departed','arrived','out_for_delivery'])[k + 1] END,
       CASE WHEN k = 9 THEN NULL
            ELSE '{{"city": "Munich", "country": "DE", "unlocode": "DEMUC"}}'::jsonb END,
       CASE WHEN k < 9 THEN k %% 2 + 1 END,
       CASE WHEN k = 9 THEN %(start)s::timestamptz
           + (s::float8 / %(shipments)s) * interval '{days} days' + interval '4 days' END,
       CASE WHEN k = 9 THEN 'carrier' ELSE '' END
FROM generate_series(0, %(rows)s - 1) AS g, LATERAL (SELECT g / 10 + 1 AS s, g %% 10 AS k) AS f
"""
HISTORY = "SELECT * FROM {table} WHERE shipment_id = %s ORDER BY occurred_at, id"
DERIVATION = (
    "SELECT shipment_id, kind, occurred_at, milestone, event_key, eta, eta_window_start,"
    " eta_window_end, eta_basis, received_by FROM {table} WHERE shipment_id = ANY(%s)"
)
SHAPES = ("history_flat", "history_monthly")


def server_url(database: str) -> str:
    base = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
    return urlunsplit(urlsplit(base)._replace(path=f"/{database}"))


def month(index: int) -> datetime:
    year, month0 = divmod(START.month - 1 + index, 12)
    return START.replace(year=START.year + year, month=month0 + 1)


def build(connection: psycopg.Connection, shipments: int) -> dict[str, float]:
    timings: dict[str, float] = {}
    days = MONTHS * 30
    connection.execute("CREATE SEQUENCE history_id")
    connection.execute(f"CREATE TABLE history_flat ({COLUMNS})")
    connection.execute(f"CREATE TABLE history_monthly ({COLUMNS}) PARTITION BY RANGE (occurred_at)")
    for index in range(MONTHS + 2):
        low, high = month(index), month(index + 1)
        connection.execute(
            f"CREATE TABLE history_m{low:%Y_%m} PARTITION OF history_monthly"
            f" FOR VALUES FROM ('{low.isoformat()}') TO ('{high.isoformat()}')"
        )
    connection.execute("CREATE TABLE history_m_default PARTITION OF history_monthly DEFAULT")
    started = time.monotonic()
    connection.execute(
        FILL.format(days=days), {"start": START, "shipments": shipments, "rows": ROWS}
    )
    timings["fill_flat_s"] = time.monotonic() - started
    started = time.monotonic()
    connection.execute("INSERT INTO history_monthly SELECT * FROM history_flat")
    timings["fill_monthly_s"] = time.monotonic() - started
    for table, unique in (
        ("history_flat", "shipment_id, event_key, kind"),
        ("history_monthly", "shipment_id, event_key, kind, occurred_at"),
    ):
        started = time.monotonic()
        key = "id" if table == "history_flat" else "id, occurred_at"
        connection.execute(f"ALTER TABLE {table} ADD PRIMARY KEY ({key})")
        connection.execute(f"CREATE UNIQUE INDEX {table}_unique ON {table} ({unique})")
        connection.execute(
            f"CREATE INDEX {table}_by_shipment ON {table} (shipment_id, occurred_at)"
        )
        timings[f"index_{table}_s"] = time.monotonic() - started
    connection.execute("VACUUM ANALYZE history_flat")
    connection.execute("VACUUM ANALYZE history_monthly")
    return {name: round(value, 1) for name, value in timings.items()}


def timed(connection: psycopg.Connection, sql: str, parameters: Any) -> float:
    started = time.perf_counter()
    connection.execute(sql, parameters).fetchall()
    return (time.perf_counter() - started) * 1000


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50": round(statistics.median(ordered), 2),
        "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
        "total": round(sum(ordered), 1),
    }


def reads(connection: psycopg.Connection, shipments: int) -> dict[str, Any]:
    rng = random.Random(SEED)
    results: dict[str, Any] = {}
    one = [rng.randint(1, shipments) for _ in range(1000)]
    active_from = int(shipments * 0.95)
    batches = [[rng.randint(active_from, shipments) for _ in range(1000)] for _ in range(100)]
    for name, sql, samples in (
        ("history", HISTORY, [(value,) for value in one]),
        ("derivation", DERIVATION, [(batch,) for batch in batches]),
    ):
        times: dict[str, list[float]] = {shape: [] for shape in SHAPES}
        for shape in SHAPES:  # warm-up: the same reads once
            for parameters in samples[:50]:
                connection.execute(sql.format(table=shape), parameters).fetchall()
        for parameters in samples:
            for shape in SHAPES:
                times[shape].append(timed(connection, sql.format(table=shape), parameters))
        results[name] = {shape: percentiles(times[shape]) for shape in SHAPES}
    plan = connection.execute(
        "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + HISTORY.format(table="history_monthly"),
        (one[0],),
    ).fetchall()
    results["history_monthly_plan"] = [row[0] for row in plan]
    return results


def writes(connection: psycopg.Connection, shipments: int) -> dict[str, Any]:
    """Interleaved chunk by chunk, like the reads: neither shape gets a warmer cache or a
    quieter machine."""
    rng = random.Random(SEED + 1)
    active_from = int(shipments * 0.95)
    results: dict[str, Any] = {
        shape: {"insert_50k_s": 0.0, "retention_delete_s": 0.0} for shape in SHAPES
    }
    new = [rng.randint(active_from, shipments) for _ in range(50_000)]
    for offset in range(0, len(new), 4000):
        chunk = new[offset : offset + 4000]
        for shape in SHAPES:
            started = time.perf_counter()
            with connection.transaction():
                connection.execute(
                    f"INSERT INTO {shape} (shipment_id, event_key, kind, occurred_at, milestone)"
                    " SELECT s, 'carrier:' || s || '-' || n, 'status_code',"
                    " %s::timestamptz - (n %% 7200) * interval '1 minute', ''"
                    " FROM unnest(%s::bigint[], %s::int[]) AS t(s, n)"
                    " ON CONFLICT DO NOTHING",
                    (month(MONTHS), chunk, list(range(offset, offset + len(chunk)))),
                )
            results[shape]["insert_50k_s"] += time.perf_counter() - started
    oldest = list(range(1, int(shipments * 0.05) + 1))
    for offset in range(0, len(oldest), 500):
        for shape in SHAPES:
            started = time.perf_counter()
            with connection.transaction():
                connection.execute(
                    f"DELETE FROM {shape} WHERE shipment_id = ANY(%s)",
                    (oldest[offset : offset + 500],),
                )
            results[shape]["retention_delete_s"] += time.perf_counter() - started
    for shape in SHAPES:
        for measure in ("insert_50k_s", "retention_delete_s"):
            results[shape][measure] = round(results[shape][measure], 2)
        results[shape]["retention_deleted_shipments"] = len(oldest)
    started = time.perf_counter()
    with connection.transaction():
        connection.execute(f"ALTER TABLE history_monthly DETACH PARTITION history_m{START:%Y_%m}")
        connection.execute(f"DROP TABLE history_m{START:%Y_%m}")
    results["history_monthly"]["drop_oldest_month_s"] = round(time.perf_counter() - started, 3)
    return results


def sizes(connection: psycopg.Connection) -> dict[str, dict[str, int]]:
    found = {}
    for shape in SHAPES:
        table, index = connection.execute(
            "SELECT sum(pg_table_size(relid)), sum(pg_indexes_size(relid)) FROM"
            " (SELECT relid FROM pg_partition_tree(%s) WHERE isleaf UNION SELECT %s::regclass)"
            " AS leaves(relid)",
            (shape, shape),
        ).fetchone()
        found[shape] = {"table_mb": int(table) >> 20, "indexes_mb": int(index) >> 20}
    return found


def report(result: dict[str, Any]) -> str:
    reads_, writes_ = result["reads"], result["writes"]
    flat, monthly = SHAPES
    rows = [
        ("a shipment's history, p50 / p95 ms (1,000 shipments)", "history", "{p50} / {p95}"),
        ("derivation read of 1,000 active shipments, p50 / p95 ms", "derivation", "{p50} / {p95}"),
    ]
    lines = [
        f"| measure ({ROWS:,} rows) | one table | monthly partitions |",
        "|---|---|---|",
    ]
    for label, key, form in rows:
        one, partitioned = (form.format(**reads_[key][shape]) for shape in SHAPES)
        lines.append(f"| {label} | {one} | {partitioned} |")
    lines.append(
        f"| insert 50,000 facts, batches of 4,000 (s) | {writes_[flat]['insert_50k_s']} |"
        f" {writes_[monthly]['insert_50k_s']} |"
    )
    lines.append(
        f"| retention delete of {writes_[flat]['retention_deleted_shipments']:,} shipments'"
        f" history, 500 per statement (s) | {writes_[flat]['retention_delete_s']} |"
        f" {writes_[monthly]['retention_delete_s']} |"
    )
    lines.append(f"| drop the oldest month (s) | — | {writes_[monthly]['drop_oldest_month_s']} |")
    lines.append(
        f"| size: table / indexes (MB) | {result['sizes'][flat]['table_mb']} /"
        f" {result['sizes'][flat]['indexes_mb']} | {result['sizes'][monthly]['table_mb']} /"
        f" {result['sizes'][monthly]['indexes_mb']} |"
    )
    return "\n".join(lines)


def main() -> None:
    shipments = ROWS // FACTS_PER_SHIPMENT
    with psycopg.connect(server_url("postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{DATABASE}"')
    result: dict[str, Any] = {
        "rows": ROWS,
        "shipments": shipments,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_before": os.getloadavg(),
    }
    try:
        with psycopg.connect(server_url(DATABASE), autocommit=True) as connection:
            result["server"] = connection.execute("SELECT version()").fetchone()[0]
            result["build"] = build(connection, shipments)
            print(f"built in {result['build']}", flush=True)
            result["reads"] = reads(connection, shipments)
            result["sizes"] = sizes(connection)
            result["writes"] = writes(connection, shipments)
    finally:
        if os.environ.get("BENCH_KEEP") != "1":
            with psycopg.connect(server_url("postgres"), autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    result["load_average_after"] = os.getloadavg()
    result["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    out = ROOT / ".local" / "bench" / f"partitioning-{result['started'].replace(':', '')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str))
    print(report(result))
    plan = result["reads"]["history_monthly_plan"]
    scanned = sum(" on history_m" in line for line in plan)
    print(f"\nmonthly shape, one shipment's history: {scanned} partitions scanned; {plan[-1]}")
    before, after = result["load_average_before"], result["load_average_after"]
    print(f"\nload average before {before}, after {after}")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
