"""The customer's first screen: tiles that open the filtered list, on-time charts, volumes
and the exceptions that need attention (figures from visibility/dashboard.py)."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from portal.charts import bar_chart
from visibility.dashboard import MOVING_STATUSES, OPEN_STATUSES, dashboard_for
from visibility.models import ShipmentStatus


def _week_label(iso_day: str) -> str:
    return date.fromisoformat(iso_day).strftime("%-d %b")


def _list_url(*pairs: tuple[str, str]) -> str:
    return f"{reverse('shipment-list')}?{urlencode(pairs)}"


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("login")
    figures = dashboard_for(request.user)
    tiles = figures.tiles
    since = figures.since.isoformat()
    open_statuses = [("status", str(status)) for status in OPEN_STATUSES]
    tile_links = [
        (
            "In transit",
            tiles.in_transit,
            _list_url(*[("status", str(s)) for s in MOVING_STATUSES]),
            False,
        ),
        ("Late", tiles.late, _list_url(("flag", "late"), *open_statuses), True),
        ("Overdue", tiles.overdue, _list_url(("flag", "overdue")), True),
        ("Exceptions open", tiles.exceptions_open, _list_url(("flag", "exception")), True),
        (
            "Delivered, last 7 days",
            tiles.delivered_recently,
            _list_url(("status", ShipmentStatus.DELIVERED), ("delivered_from", since)),
            False,
        ),
        (
            "New documents, last 7 days",
            tiles.documents_new,
            _list_url(("documents_from", since)),
            False,
        ),
    ]
    on_time_chart = bar_chart(
        "On-time delivery by week, last 12 weeks (percent of deliveries with a promised date)",
        [(_week_label(week.label), week.percent, 0) for week in figures.weeks],
        maximum=100,
        suffix="%",
    )
    volume_chart = bar_chart(
        "Shipments by planned pick-up week; the hatched part is late",
        [(_week_label(v.label), v.shipments, v.late) for v in figures.volumes],
    )
    return render(
        request,
        "dashboard/home.html",
        {
            "figures": figures,
            "tile_links": tile_links,
            "on_time_chart": on_time_chart,
            "volume_chart": volume_chart,
        },
    )
