"""Platform admin in the portal: integration health in words and charts, held events,
dead letters replayed or discarded (one or many, audited), tenants and their accounts,
sources and their roles. Platform admins only; staff see health; everyone else 404."""

from __future__ import annotations

import re

import pytest

from accounts.models import AuditEntry, CustomerAccount, SourceSystem, Tenant
from integration.models import InboxEvent, InboxState
from integration.services.intake import receive_events
from integration.services.processing import process_inbox_until_empty
from tests.factories import SourceFactory, StaffFactory
from tests.helpers import sign_in_verified
from visibility.models import Order

pytestmark = pytest.mark.django_db

PLATFORM_PAGES = [
    "/platform/dead-letters/",
    "/platform/held/",
    "/platform/tenants/",
    "/platform/sources/",
]


@pytest.fixture
def dead_letters(delivered_story) -> list[InboxEvent]:
    """Three stored events made dead letters, as a failing projection leaves them."""
    keys = ["tms-demo-0003", "tms-demo-0004", "tms-demo-0006"]
    InboxEvent.objects.filter(event_id__in=keys).update(
        state=InboxState.DEAD, attempts=5, last_error="ValueError: eta out of range"
    )
    return list(InboxEvent.objects.filter(event_id__in=keys).order_by("id"))


@pytest.mark.parametrize("path", PLATFORM_PAGES)
def test_only_platform_admins_reach_the_platform_pages(
    client, path, customer_user, tenant_admin, cs_staff, platform_admin
):
    for outsider in (customer_user, tenant_admin, cs_staff):
        sign_in_verified(client, outsider)
        assert client.get(path).status_code == 404, (outsider.username, path)
        assert client.post(path, {"ids": ["1"], "action": "discard"}).status_code == 404
    sign_in_verified(client, platform_admin)
    assert client.get(path).status_code == 200


def test_health_reads_in_words_with_charts(client, delivered_story, cs_staff):
    sign_in_verified(client, cs_staff)

    page = client.get("/operations/integration/").content.decode()

    assert "ago" in page or "just now" in page
    # No raw ISO timestamps with microseconds, no bare seconds.
    assert not re.search(r"\d{2}:\d{2}:\d{2}\.\d+", page)
    assert page.count("<svg") == 2 and "Events received per minute" in page
    # No inline script or style (the strict CSP); the portal's own script file is fine.
    assert not re.search(r"<script(?![^>]*\bsrc=)", page) and "style=" not in page


def test_dead_letters_list_the_event_and_its_error(client, dead_letters, platform_admin):
    sign_in_verified(client, platform_admin)

    page = client.get("/platform/dead-letters/").content.decode()
    detail = client.get(f"/platform/dead-letters/{dead_letters[0].id}/").content.decode()

    assert "tms:tms-demo-0003" in page and "ValueError: eta out of range" in page
    assert "SHP-778120" in detail and "ValueError: eta out of range" in detail
    assert 'name="csrfmiddlewaretoken"' in page


def test_replay_requeues_the_chosen_dead_letters_and_audits_each(
    client, dead_letters, platform_admin
):
    sign_in_verified(client, platform_admin)
    chosen = [dead_letters[0].id, dead_letters[1].id]

    response = client.post("/platform/dead-letters/", {"ids": chosen, "action": "replay"})

    assert response.status_code == 302
    replayed = InboxEvent.objects.filter(id__in=chosen)
    assert {(event.state, event.attempts, event.last_error) for event in replayed} == {
        (InboxState.PENDING, 0, "")
    }
    assert InboxEvent.objects.get(id=dead_letters[2].id).state == InboxState.DEAD
    entries = AuditEntry.objects.filter(action="dead_letter_replayed").order_by("target")
    assert [entry.target for entry in entries] == ["tms:tms-demo-0003", "tms:tms-demo-0004"]
    assert {entry.actor for entry in entries} == {"user:root"}
    # Projection takes them again: they are processed, nothing is dead but the third.
    process_inbox_until_empty()
    assert InboxEvent.objects.filter(state=InboxState.DEAD).count() == 1
    history = client.get(f"/platform/dead-letters/{dead_letters[2].id}/").content.decode()
    assert "Failed 5 time(s)" in history


def test_discard_removes_the_dead_letter_and_keeps_it_in_the_audit_log(
    client, dead_letters, platform_admin
):
    sign_in_verified(client, platform_admin)
    target = dead_letters[2]

    client.post(f"/platform/dead-letters/{target.id}/", {"ids": [target.id], "action": "discard"})

    assert not InboxEvent.objects.filter(id=target.id).exists()
    entry = AuditEntry.objects.get(action="dead_letter_discarded")
    assert entry.target == "tms:tms-demo-0006"
    assert "SHP-778120" in entry.details["stored_event"]
    assert entry.details["error"] == "ValueError: eta out of range"
    assert InboxEvent.objects.filter(state=InboxState.DEAD).count() == 2


def test_only_dead_letters_are_touched_and_bad_input_is_a_clear_answer(
    client, dead_letters, platform_admin
):
    sign_in_verified(client, platform_admin)
    processed = InboxEvent.objects.filter(state=InboxState.PROCESSED).first()

    client.post("/platform/dead-letters/", {"ids": [processed.id], "action": "discard"})
    for bad in ({"ids": ["abc"], "action": "replay"}, {"action": "nuke"}, {"ids": ["-1"]}):
        response = client.post("/platform/dead-letters/", bad)
        assert response.status_code == 200
        assert "Choose one or more dead letters" in response.content.decode()

    assert InboxEvent.objects.filter(id=processed.id, state=InboxState.PROCESSED).exists()
    assert InboxEvent.objects.filter(state=InboxState.DEAD).count() == 3
    assert client.get("/platform/dead-letters/999999/").status_code == 404


def test_assigning_an_account_releases_its_held_events(client, story, platform_admin):
    SourceFactory(key="erp", role="erp")
    receive_events(source="erp", events=[e for e in story if e["event_id"] == "erp-demo-0001"])
    process_inbox_until_empty()
    assert InboxEvent.objects.get(event_id="erp-demo-0001").state == InboxState.HELD
    sign_in_verified(client, platform_admin)
    held = client.get("/platform/held/").content.decode()
    assert "erp:erp-demo-0001" in held and "C-1001" in held

    client.post(
        "/platform/tenants/", {"slug": "brenner", "name": "Brenner Tools", "accounts": "C-1001"}
    )
    process_inbox_until_empty()

    assert Tenant.objects.get(slug="brenner").accounts.get().number == "C-1001"
    assert Order.objects.filter(order_number="SO-100045").exists()
    entry = AuditEntry.objects.get(action="tenant_saved")
    assert entry.details["accounts_assigned"] == ["C-1001"]


def test_tenants_page_lists_accounts_members_and_who_serves_them(
    client, brenner, nordwind, customer_user, cs_staff, platform_admin
):
    StaffFactory(username="cs-nordic", staff_tenants=[nordwind])
    sign_in_verified(client, platform_admin)

    page = client.get("/platform/tenants/").content.decode()

    assert "C-1001, C-1002" in page and "Nordwind Retail" in page
    assert "Every tenant" in page  # cs_staff
    nordic_row = page.split("cs-nordic</td>")[1].split("</tr>")[0]
    assert "Nordwind Retail" in nordic_row and "Brenner" not in nordic_row


def test_an_account_of_another_tenant_is_refused_in_words(
    client, brenner, nordwind, platform_admin
):
    sign_in_verified(client, platform_admin)

    response = client.post(
        "/platform/tenants/", {"slug": "nordwind", "name": "Nordwind", "accounts": "C-1001"}
    )

    assert response.status_code == 200
    assert "already belongs to brenner" in response.content.decode()
    assert CustomerAccount.objects.get(number="C-1001").tenant == brenner
    bad = client.post("/platform/tenants/", {"slug": "not a slug!", "name": ""})
    assert bad.status_code == 200 and 'aria-invalid="true"' in bad.content.decode()


def test_a_tenants_retention_of_closed_shipments_is_set_here_and_audited(
    client, brenner, platform_admin
):
    sign_in_verified(client, platform_admin)
    assert "730 days (default)" in client.get("/platform/tenants/").content.decode()

    client.post(
        "/platform/tenants/",
        {"slug": "brenner", "name": "Brenner Tools", "closed_shipment_retention_days": "3650"},
    )
    client.post("/platform/tenants/", {"slug": "brenner", "name": "Brenner Tools"})

    brenner.refresh_from_db()
    assert brenner.closed_shipment_retention_days == 3650, "left empty: unchanged"
    assert "3650 days" in client.get("/platform/tenants/").content.decode()
    changed = AuditEntry.objects.filter(tenant=brenner, action="tenant_saved").order_by("id")
    assert changed[0].details["closed_shipment_retention_days"] == {"from": None, "to": 3650}
    too_short = client.post(
        "/platform/tenants/",
        {"slug": "brenner", "name": "Brenner Tools", "closed_shipment_retention_days": "7"},
    )
    assert 'id="t-retention-error"' in too_short.content.decode()
    brenner.refresh_from_db()
    assert brenner.closed_shipment_retention_days == 3650


def test_registering_a_source_shows_its_token_once_and_is_audited(client, platform_admin):
    sign_in_verified(client, platform_admin)

    page = client.post(
        "/platform/sources/", {"key": "dhl-feed", "role": "carrier", "accounts": "C-1001"}
    ).content.decode()

    source = SourceSystem.objects.get(key="dhl-feed")
    assert (source.role, source.account_numbers) == ("carrier", ["C-1001"])
    assert 'data-testid="source-token"' in page
    assert "Carrier feed" in page
    assert 'data-testid="source-token"' not in client.get("/platform/sources/").content.decode()
    assert AuditEntry.objects.get(action="source_registered").target == "source:dhl-feed"
