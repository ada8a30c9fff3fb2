"""Create demo tenants, users and sources, and send demo events through the intake path."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from accounts.models import Tenant
from accounts.services import source_create, tenant_create_or_update, user_create
from integration.services.intake import receive_events
from integration.services.processing import process_inbox_until_empty
from portal.demo.events import generated_events, story_events

DEMO_PASSWORD = "demo-portal-2026"
DEMO_LOGINS = [
    ("customer", "customer user (Brenner Tools, all accounts)"),
    ("brenner-admin", "tenant admin (Brenner Tools)"),
    ("nordwind", "customer user (Nordwind Retail)"),
    ("cs-agent", "customer-service staff (all tenants)"),
    ("platform-admin", "platform admin (Django admin at /admin/)"),
]


class Command(BaseCommand):
    help = "Load demo data (idempotent): tenants, users, sources and events."

    def handle(self, *args, **options):
        brenner = tenant_create_or_update(
            slug="brenner", name="Brenner Tools GmbH", account_numbers=["C-1001", "C-1002"]
        )
        nordwind = tenant_create_or_update(
            slug="nordwind", name="Nordwind Retail AB", account_numbers=["C-2001"]
        )
        user_create(
            username="customer",
            password=DEMO_PASSWORD,
            email="customer@example.com",
            tenant=brenner,
        )
        user_create(
            username="brenner-admin",
            password=DEMO_PASSWORD,
            email="admin@brenner.example",
            tenant=brenner,
            role="tenant_admin",
        )
        user_create(
            username="nordwind",
            password=DEMO_PASSWORD,
            email="ops@nordwind.example",
            tenant=nordwind,
        )
        user_create(
            username="cs-agent",
            password=DEMO_PASSWORD,
            email="cs@example.com",
            staff_tenants=list(Tenant.objects.all()),
            staff_all_tenants=True,
        )
        user_create(
            username="platform-admin",
            password=DEMO_PASSWORD,
            email="root@example.com",
            platform_admin=True,
        )
        for key in ("erp", "tms"):
            source_create(key=key, role=key)

        events = story_events() + generated_events(["C-1001", "C-1002", "C-2001"])
        accepted = 0
        for source in ("erp", "tms"):
            results = receive_events(
                source=source, events=[event for event in events if event["source"] == source]
            )
            accepted += sum(result.status == "accepted" for result in results)
        projected = process_inbox_until_empty()
        self.stdout.write(f"demo events: {accepted} newly accepted, {projected} projected")
