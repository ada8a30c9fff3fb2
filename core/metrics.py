"""The portal's Prometheus metrics: one definition each, incremented where the work happens.

prometheus-client keeps values per process. With `PROMETHEUS_MULTIPROC_DIR` set (gunicorn
workers, Celery's prefork children) it writes them to memory-mapped files in that directory
instead, and `/metrics` (portal/metrics_views.py) adds them up with `MultiProcessCollector`;
docs/OPERATIONS.md ("Metrics") says how to run it. The figures read from the database
(inbox depth, lag, held, dead) are computed at scrape time, not here.

Labels stay bounded: a route is the URL pattern's name (never the raw path), an event type
outside the contract is `other`, a source is an authenticated source's key.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram, disable_created_metrics

NAMESPACE = "portal"

# No `*_created` series beside each counter and histogram: they double the scrape and
# Prometheus does not use them.
disable_created_metrics()

# Seconds: from a fast JSON read to a slow export.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Rows per projection batch (INBOX_BATCH_SIZE defaults to 4,000).
BATCH_SIZE_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2000, 4000, 8000)

http_requests = Counter(
    "http_requests",
    "HTTP requests answered, by route name, method and status.",
    ["route", "method", "status"],
    namespace=NAMESPACE,
)
http_request_duration = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request, by route name and method.",
    ["route", "method"],
    namespace=NAMESPACE,
    buckets=LATENCY_BUCKETS,
)
events_received = Counter(
    "events_received",
    "Events sent to the intake endpoint, by source, event type and outcome "
    "(accepted, duplicate, rejected).",
    ["source", "event_type", "outcome"],
    namespace=NAMESPACE,
)
projection_batch_size = Histogram(
    "projection_batch_size",
    "Inbox rows claimed per projection batch.",
    namespace=NAMESPACE,
    buckets=BATCH_SIZE_BUCKETS,
)
projection_batch_duration = Histogram(
    "projection_batch_duration_seconds",
    "Time to claim, project and commit one batch.",
    namespace=NAMESPACE,
    buckets=LATENCY_BUCKETS,
)
projection_events = Counter(
    "projection_events",
    "Inbox rows leaving a batch, by the state it left them in (processed, held, failed).",
    ["outcome"],
    namespace=NAMESPACE,
)
notifications = Counter(
    "notifications",
    "Notification delivery attempts, by channel (email, webhook) and outcome (sent, failed).",
    ["channel", "outcome"],
    namespace=NAMESPACE,
)
clock_sweep_duration = Histogram(
    "clock_sweep_duration_seconds",
    "Time of one clock sweep (re-evaluating shipments whose clock-driven state is due).",
    namespace=NAMESPACE,
    buckets=LATENCY_BUCKETS,
)
webhook_request_duration = Histogram(
    "webhook_request_duration_seconds",
    "Time of one webhook delivery attempt's HTTP request (connect, send, answer), by "
    "outcome (delivered: a 2xx; failed: anything else, a refused connection included).",
    ["outcome"],
    namespace=NAMESPACE,
    buckets=LATENCY_BUCKETS,
)
# From seconds (a worker that was idle) to hours (retries with backoff).
DELIVERY_LAG_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 21600.0)
webhook_delivery_lag = Histogram(
    "webhook_delivery_lag_seconds",
    "From a webhook notification being recorded (by the projection batch of the events "
    "that caused it) to its delivery (a 2xx answer), retries included. Event accepted to "
    "webhook delivered is this plus the projection lag (the inbox lag and the health "
    "page's lag chart).",
    namespace=NAMESPACE,
    buckets=DELIVERY_LAG_BUCKETS,
)
replica_reads = Counter(
    "replica_reads",
    "Requests that read the read models, by the database that served them (a replica "
    "alias, or primary) and why (replica; pinned: after the actor's own write; lagging: "
    "no replica within REPLICA_MAX_LAG_SECONDS or answering).",
    ["database", "reason"],
    namespace=NAMESPACE,
)
