"""A shipment's states in words: the one wording pages, APIs, CSV and emails share."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any


def slip_in_words(hours: int | None) -> str:
    """How late, in calendar days past the promised date: "+1 day", "+3 days"."""
    if hours is None:
        return ""
    days = max(math.ceil(hours / 24), 1)
    return f"+{days} day" if days == 1 else f"+{days} days"


# The shipment fields `shipment_flags` reads: what a query loading only the flags selects.
FLAG_FIELDS = (
    "overdue",
    "late_by_hours",
    "delayed",
    "at_risk",
    "tracking_stale",
    "pod_missing",
    "not_invoiced",
)


def shipment_flags(shipment: Any) -> list[str]:
    """Every flag a shipment carries, in words, most urgent first."""
    flags = []
    if shipment.overdue:
        flags.append("Overdue")
    if shipment.late_by_hours is not None:
        flags.append(f"Late {slip_in_words(shipment.late_by_hours)}")
    if shipment.delayed:
        flags.append("Delayed")
    if shipment.at_risk and shipment.late_by_hours is None:
        flags.append("At risk")
    if shipment.tracking_stale:
        flags.append("Tracking stale")
    if shipment.pod_missing:
        flags.append("Delivered, no proof of delivery")
    if shipment.not_invoiced:
        flags.append("Delivered, not invoiced")
    return flags


# The same wording as SQL, for objects PostgreSQL writes as JSON (visibility/feed_objects.py);
# tests/visibility/test_flags_sql.py holds both to the same answers.


def slip_in_words_sql(hours: str) -> str:
    """`slip_in_words` of the integer column `hours`."""
    days = f"greatest(ceil({hours} / 24.0), 1)::int"
    return (
        f"CASE WHEN {hours} IS NULL THEN '' WHEN {days} = 1 THEN '+1 day'"
        f" ELSE '+' || {days} || ' days' END"
    )


def shipment_flags_sql(shipment: str) -> str:
    """`shipment_flags` of the shipment row `shipment`, as a JSON array."""
    late = f"{shipment}.late_by_hours"
    flags = [
        f"CASE WHEN {shipment}.overdue THEN 'Overdue' END",
        f"CASE WHEN {late} IS NOT NULL THEN 'Late ' || {slip_in_words_sql(late)} END",
        f"CASE WHEN {shipment}.delayed THEN 'Delayed' END",
        f"CASE WHEN {shipment}.at_risk AND {late} IS NULL THEN 'At risk' END",
        f"CASE WHEN {shipment}.tracking_stale THEN 'Tracking stale' END",
        f"CASE WHEN {shipment}.pod_missing THEN 'Delivered, no proof of delivery' END",
        f"CASE WHEN {shipment}.not_invoiced THEN 'Delivered, not invoiced' END",
    ]
    return f"to_json(array_remove(ARRAY[{', '.join(flags)}]::text[], NULL))"


def age_in_words(moment: datetime | None, now: datetime) -> str:
    """ "3 h ago", "2 days ago", "just now"."""
    if moment is None:
        return ""
    seconds = max((now - moment).total_seconds(), 0)
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 48 * 3600:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"
