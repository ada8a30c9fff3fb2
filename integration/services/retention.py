"""Retention of closed shipments, with what integration keeps per shipment: visibility
deletes the shipments (visibility/services/retention.py, which may not import
integration), and their lane routes go in the same transaction."""

from __future__ import annotations

from datetime import datetime

from integration.services.lane_routes import lane_routes_forget
from visibility.services.retention import Progress, RetentionOutcome, shipment_retention_apply


def shipment_retention_apply_with_routes(
    now: datetime, *, dry_run: bool = False, progress: Progress | None = None
) -> RetentionOutcome:
    """`shipment_retention_apply`, deleting the lane routes of the shipments it deletes."""
    return shipment_retention_apply(
        now,
        dry_run=dry_run,
        progress=progress,
        on_deleted=lambda shipment_ids: lane_routes_forget(shipment_ids=shipment_ids),
    )
