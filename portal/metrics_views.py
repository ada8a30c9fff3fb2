"""`GET /metrics`: Prometheus exposition for the operator's scraper.

Protected by a bearer token (`METRICS_TOKEN`): unset, the endpoint does not exist (404);
without the header 401, with another token 403, as problems (core/problems.py). The
counters and histograms come from this process, or from every process sharing
`PROMETHEUS_MULTIPROC_DIR` (gunicorn workers, Celery children: docs/OPERATIONS.md,
"Metrics"); the inbox gauges and business SLAs are read from the database now, by
indexed queries (docs/BENCHMARKS.md, "Operations figures").
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
from visibility.service_levels import service_levels

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


OTHER_TENANTS = "other"


def _bounded(rows: list[dict], limit: int) -> list[dict]:
    """The first `limit` rows (worst first), the rest added up as tenant "other"."""
    if len(rows) <= limit:
        return rows
    rest = rows[limit:]
    ages = [row["oldest_age_seconds"] for row in rest if row["oldest_age_seconds"] is not None]
    other = {
        "name": OTHER_TENANTS,
        "open": sum(row["open"] for row in rest),
        "breaching": sum(row["breaching"] for row in rest),
        "oldest_age_seconds": max(ages, default=None),
        "alert": any(row["alert"] for row in rest),
    }
    return [*rows[:limit], other]


class ServiceLevelCollector(Collector):
    """Business SLAs (visibility/service_levels.py) per tenant and per source. Labels stay
    bounded: SLA keys are fixed, sources are registered source systems, tenants beyond
    `SLA_METRICS_MAX_TENANTS` (the fewest breaches) are added up as tenant="other". A
    tenant or source with nothing open has no series."""

    def collect(self) -> Iterator[Metric]:
        levels = service_levels()
        prefix = f"{NAMESPACE}_sla"
        threshold = GaugeMetricFamily(
            f"{prefix}_threshold_seconds",
            "Age past which an item breaches the SLA.",
            labels=["sla"],
        )
        by_tenant = {
            "open": GaugeMetricFamily(
                f"{prefix}_open", "Open items of the SLA, per tenant.", labels=["sla", "tenant"]
            ),
            "breaching": GaugeMetricFamily(
                f"{prefix}_breaching",
                "Open items older than the SLA's threshold, per tenant.",
                labels=["sla", "tenant"],
            ),
            "oldest_age_seconds": GaugeMetricFamily(
                f"{prefix}_oldest_age_seconds",
                "Age of the oldest open item, per tenant.",
                labels=["sla", "tenant"],
            ),
            "alert": GaugeMetricFamily(
                f"{prefix}_alert",
                "1 when the tenant has an item breaching the SLA (the operations page's alert).",
                labels=["sla", "tenant"],
            ),
        }
        by_source = {
            "breaching": GaugeMetricFamily(
                f"{prefix}_source_breaching",
                "Open items older than the SLA's threshold, per source.",
                labels=["sla", "source"],
            ),
            "alert": GaugeMetricFamily(
                f"{prefix}_source_alert",
                "1 when the source has an item breaching the SLA.",
                labels=["sla", "source"],
            ),
        }
        for level in levels:
            threshold.add_metric([level["key"]], level["threshold_seconds"])
            for row in _bounded(level["by_tenant"], settings.SLA_METRICS_MAX_TENANTS):
                for field, family in by_tenant.items():
                    value = row[field]
                    if value is not None:
                        family.add_metric([level["key"], row["name"]], float(value))
            for row in level["by_source"]:
                for field, family in by_source.items():
                    family.add_metric([level["key"], row["name"]], float(row[field]))
        yield threshold
        yield from by_tenant.values()
        yield from by_source.values()


def _exposition() -> bytes:
    """The inbox and the business SLAs first, then the portal's counters and histograms
    (this process's, or all processes' in multiprocess mode), then this process's runtime
    figures."""
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROCESS_DIR_VARIABLE):
        MultiProcessCollector(registry)
        process_metrics = b""
    else:
        process_metrics = generate_latest(REGISTRY)
    inbox = CollectorRegistry()
    inbox.register(InboxCollector())
    inbox.register(ServiceLevelCollector())
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
