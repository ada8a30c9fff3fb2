"""Create demo tenants, users and sources, and send twelve weeks of demo events through
the real intake (contract validation, source policy, inbox) and projection."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from accounts.models import Tenant
from accounts.services import source_create, tenant_create_or_update, user_create
from integration.services.intake import receive_events
from integration.services.processing import process_inbox_until_empty
from portal.demo.scenario import TENANTS, demo_anchor, demo_events, story_events_now

DEMO_PASSWORD = "demo-portal-2026"
DEMO_LOGINS = [
    ("customer", "customer user (Brenner Tools, all accounts, finance)"),
    ("brenner-buyer", "customer user (Brenner Tools, account C-1002 only, no finance)"),
    ("brenner-admin", "tenant admin (Brenner Tools)"),
    ("nordwind", "customer user (Nordwind Retail)"),
    ("alpenmed", "customer user (Alpenmed Supplies, finance)"),
    ("cs-agent", "customer-service staff (all tenants)"),
    ("cs-nordic", "customer-service staff (Nordwind Retail only)"),
    ("platform-admin", "platform admin (operations pages; Django admin at /admin/)"),
]
# Intake takes at most 1,000 events per request; the demo sends them the same way.
INTAKE_BATCH = 1000
SOURCES = (("erp", "erp"), ("tms", "tms"), ("carrier", "carrier"))


def _batches(events: list[dict[str, Any]], size: int) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(events), size):
        yield events[start : start + size]


def demo_users_create() -> None:
    tenants = {
        tenant.slug: tenant_create_or_update(
            slug=tenant.slug, name=tenant.name, account_numbers=tenant.accounts
        )
        for tenant in TENANTS
    }
    user_create(
        username="customer",
        password=DEMO_PASSWORD,
        email="customer@example.com",
        tenant=tenants["brenner"],
        finance=True,
    )
    user_create(
        username="brenner-buyer",
        password=DEMO_PASSWORD,
        email="buyer@brenner.example",
        tenant=tenants["brenner"],
        account_numbers=["C-1002"],
    )
    user_create(
        username="brenner-admin",
        password=DEMO_PASSWORD,
        email="admin@brenner.example",
        tenant=tenants["brenner"],
        role="tenant_admin",
    )
    user_create(
        username="nordwind",
        password=DEMO_PASSWORD,
        email="ops@nordwind.example",
        tenant=tenants["nordwind"],
    )
    user_create(
        username="alpenmed",
        password=DEMO_PASSWORD,
        email="logistics@alpenmed.example",
        tenant=tenants["alpenmed"],
        finance=True,
    )
    user_create(
        username="cs-agent",
        password=DEMO_PASSWORD,
        email="cs@example.com",
        staff_tenants=list(Tenant.objects.all()),
        staff_all_tenants=True,
    )
    user_create(
        username="cs-nordic",
        password=DEMO_PASSWORD,
        email="cs-nordic@example.com",
        staff_tenants=[tenants["nordwind"]],
    )
    user_create(
        username="platform-admin",
        password=DEMO_PASSWORD,
        email="root@example.com",
        platform_admin=True,
    )


def demo_events_send(events: list[dict[str, Any]]) -> Counter[str]:
    """Send the events through intake, source by source, 1,000 at a time; count answers."""
    outcome: Counter[str] = Counter()
    for source, _ in SOURCES:
        mine = [event for event in events if event["source"] == source]
        for batch in _batches(mine, INTAKE_BATCH):
            outcome.update(result.status for result in receive_events(source=source, events=batch))
    return outcome


class Command(BaseCommand):
    help = "Load demo data (idempotent): tenants, users, sources and twelve weeks of events."

    def handle(self, *args, **options):
        started = time.monotonic()
        demo_users_create()
        for key, role in SOURCES:
            source_create(key=key, role=role)
        anchor = demo_anchor(timezone.now())
        events = story_events_now(anchor) + demo_events(anchor)
        outcome = demo_events_send(events)
        projected = process_inbox_until_empty()
        self.stdout.write(
            f"demo events: {len(events)} sent, {outcome['accepted']} newly accepted, "
            f"{outcome['duplicate']} already there, {outcome['rejected']} rejected; "
            f"{projected} projected in {time.monotonic() - started:.1f} s"
        )
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, what in DEMO_LOGINS:
            self.stdout.write(f"  {username:<16} {what}")
