"""`GET /metrics`: Prometheus exposition for the operator's scraper.

Protected by a bearer token (`METRICS_TOKEN`): unset, the endpoint does not exist (404);
without the header 401, with another token 403, as problems (core/problems.py). The
counters and histograms come from this process, or from every process sharing
`PROMETHEUS_MULTIPROC_DIR` (gunicorn workers, Celery children: docs/OPERATIONS.md,
"Metrics"); the inbox gauges are read from the database now, by indexed queries.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from core.metrics import NAMESPACE
from core.problems import problem_response
from integration.selectors import inbox_gauges

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


class InboxCollector(Collector):
    """The inbox as a scrape finds it (integration/selectors.py, `inbox_gauges`)."""

    def collect(self) -> Iterator[Metric]:
        gauges = inbox_gauges()
        yield GaugeMetricFamily(
            f"{NAMESPACE}_inbox_pending", "Inbox rows waiting to be projected.", gauges["pending"]
        )
        yield GaugeMetricFamily(
            f"{NAMESPACE}_inbox_lag_seconds",
            "Age of the oldest pending inbox row (0 when none is pending).",
            gauges["lag_seconds"],
        )
        yield GaugeMetricFamily(
            f"{NAMESPACE}_inbox_held",
            "Inbox rows held until what they refer to arrives.",
            gauges["held"],
        )
        yield GaugeMetricFamily(
            f"{NAMESPACE}_inbox_dead", "Inbox rows that became dead letters.", gauges["dead"]
        )


def _exposition() -> bytes:
    """The inbox first, then the portal's counters and histograms (this process's, or
    all processes' in multiprocess mode), then this process's runtime figures."""
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROCESS_DIR_VARIABLE):
        MultiProcessCollector(registry)
        process_metrics = b""
    else:
        process_metrics = generate_latest(REGISTRY)
    inbox = CollectorRegistry()
    inbox.register(InboxCollector())
    return generate_latest(inbox) + generate_latest(registry) + process_metrics


def _refused(request: HttpRequest) -> HttpResponse | None:
    expected = settings.METRICS_TOKEN
    if not expected:
        return problem_response(404, slug="not-found")
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return problem_response(
            401,
            slug="not-authenticated",
            detail="Send the metrics token: Authorization: Bearer <METRICS_TOKEN>.",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    if not hmac.compare_digest(token.strip().encode(), expected.encode()):
        return problem_response(403, slug="permission-denied", detail="Wrong metrics token.")
    return None


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    refused = _refused(request)
    if refused is not None:
        return refused
    return HttpResponse(_exposition(), content_type=CONTENT_TYPE_LATEST)
