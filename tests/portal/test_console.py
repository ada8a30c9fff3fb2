"""The customer-service console: search across served tenants with the tenant and account
on every row, the read-only view of a tenant's portal, the exception queue's account
column and filter. Operators only; everyone else gets 404; every look is audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AuditEntry, CustomerAccount
from portal import exception_views
from portal.templatetags.portal_forms import select_options
from tests.factories import ShipmentFactory, StaffFactory
from tests.helpers import sign_in_verified
from visibility.models import ShipmentException
from visibility.selectors import search_references

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_tenants_shipments(brenner, nordwind):
    brenner_account = CustomerAccount.objects.get(number="C-1002")
    nordwind_account = CustomerAccount.objects.get(number="C-2001")
    brenner_shipments = [
        ShipmentFactory(
            shipment_id=f"SHP-10020{n:02d}",
            customer_account=brenner_account,
            tracking_numbers=[f"JJD7700{n:02d}"],
        )
        for n in range(10)
    ]
    nordwind_shipment = ShipmentFactory(
        shipment_id="SHP-2001001",
        customer_account=nordwind_account,
        tracking_numbers=["JJD770099"],
    )
    return brenner_shipments, nordwind_shipment


def test_a_typo_ranks_the_intended_shipment_first(two_tenants_shipments, cs_staff):
    hits = search_references(cs_staff, "SHP-1002OO3")

    assert hits[0].object_key == "SHP-1002003"


def test_staff_search_shows_tenant_account_reference_type_and_status(
    client, two_tenants_shipments, cs_staff
):
    sign_in_verified(client, cs_staff)

    page = client.get("/search/", {"q": "JJD7700"}).content.decode()

    # Both tenants' shipments, each with its customer and account, "By" in words.
    assert "Shipment SHP-1002003" in page and "Shipment SHP-2001001" in page
    assert '<th scope="col">Customer</th>' in page
    assert "Brenner Tools" in page and "Nordwind Retail" in page
    assert "C-1002" in page and "C-2001" in page
    assert "Tracking number" in page and "Trackingnumber" not in page
    assert "Booked" in page or "Carrier assigned" in page or "In transit" in page


def test_one_exact_match_opens_the_object(client, two_tenants_shipments, cs_staff):
    sign_in_verified(client, cs_staff)

    response = client.get("/search/", {"q": "jjd770003"})

    assert response.status_code == 302
    assert response["Location"] == "/shipments/SHP-1002003/"


def test_a_customer_sees_no_customer_column_and_no_other_tenant(
    client, two_tenants_shipments, customer_user
):
    sign_in_verified(client, customer_user)

    page = client.get("/search/", {"q": "JJD7700"}).content.decode()

    assert "SHP-1002003" in page and "SHP-2001001" not in page
    assert '<th scope="col">Customer</th>' not in page


@pytest.mark.parametrize("path", ["/console/", "/console/tenants/{brenner}/"])
def test_customers_cannot_reach_the_console(client, brenner, customer_user, tenant_admin, path):
    for user in (customer_user, tenant_admin):
        sign_in_verified(client, user)
        assert client.get(path.format(brenner=brenner.id)).status_code == 404


def test_staff_see_only_the_tenants_they_serve(client, two_tenants_shipments, brenner, nordwind):
    nordic = StaffFactory(username="cs-nordic", staff_tenants=[nordwind])
    sign_in_verified(client, nordic)

    home = client.get("/console/").content.decode()
    assert "Nordwind Retail" in home and "Brenner Tools" not in home
    assert client.get(f"/console/tenants/{brenner.id}/").status_code == 404
    assert client.get("/console/tenants/999999/").status_code == 404
    search = client.get("/search/", {"q": "JJD7700"}).content.decode()
    assert "SHP-2001001" in search and "SHP-1002003" not in search


def test_read_only_tenant_view_lists_that_tenant_and_is_audited(
    client, two_tenants_shipments, brenner, cs_staff
):
    sign_in_verified(client, cs_staff)

    page = client.get(f"/console/tenants/{brenner.id}/").content.decode()

    assert "read-only" in page
    assert "SHP-1002003" in page and "SHP-2001001" not in page
    entry = AuditEntry.objects.get(action="staff_viewed")
    assert entry.actor == "user:cs"
    assert entry.details["entry_point"] == f"/console/tenants/{brenner.id}/"


def test_tenant_view_filters_do_not_fail_on_odd_input(
    client, two_tenants_shipments, brenner, cs_staff
):
    sign_in_verified(client, cs_staff)
    for query in ({"view": "nonsense"}, {"page": "x"}, {"q": "a" * 500}, {"view": "late"}):
        assert client.get(f"/console/tenants/{brenner.id}/", query).status_code == 200


def test_exception_queue_names_and_filters_by_account(client, two_tenants_shipments, cs_staff):
    brenner_shipments, nordwind_shipment = two_tenants_shipments
    now = timezone.now()
    for shipment in (brenner_shipments[3], nordwind_shipment):
        ShipmentException.objects.create(
            shipment=shipment,
            reason="damaged",
            opened_by="milestone",
            opened_at=now - timedelta(hours=2),
        )
    sign_in_verified(client, cs_staff)

    everything = client.get("/exceptions/").content.decode()
    only_nordwind = client.get("/exceptions/", {"account": "C-2001"}).content.decode()

    assert "SHP-1002003" in everything and "SHP-2001001" in everything
    assert '<th scope="col">Account</th>' in everything
    assert "SHP-2001001" in only_nordwind and "SHP-1002003" not in only_nordwind
    assert client.get("/exceptions/", {"account": "x" * 500}).status_code == 200


def test_exception_queue_pages_oldest_first_without_counting_the_queue(
    client, two_tenants_shipments, cs_staff, monkeypatch
):
    """The queue is read a page and one row at a time: no count of every unresolved
    exception (tens of thousands at production size) for a page that shows no total."""
    monkeypatch.setattr(exception_views, "QUEUE_PAGE_SIZE", 2)
    brenner_shipments, _ = two_tenants_shipments
    now = timezone.now()
    for hours, shipment in zip((3, 2, 1), brenner_shipments, strict=False):
        ShipmentException.objects.create(
            shipment=shipment,
            reason="damaged",
            opened_by="milestone",
            opened_at=now - timedelta(hours=hours),
        )
    sign_in_verified(client, cs_staff)

    with CaptureQueriesContext(connection) as queries:
        first = client.get("/exceptions/", {"reason": "damaged"}).content.decode()
    second = client.get("/exceptions/", {"reason": "damaged", "page": "2"}).content.decode()

    assert not any("COUNT(" in query["sql"].upper() for query in queries)
    assert "SHP-1002000" in first and "SHP-1002001" in first and "SHP-1002002" not in first
    assert "page=2" in first and "Previous" not in first
    assert "SHP-1002002" in second and "SHP-1002000" not in second
    assert "page=1" in second and "Next" not in second
    assert client.get("/exceptions/", {"page": "x"}).status_code == 200


def test_exception_queue_row_names_the_work_and_the_filters_keep_what_was_chosen(
    client, two_tenants_shipments, brenner, cs_staff
):
    brenner_shipments, nordwind_shipment = two_tenants_shipments
    now = timezone.now()
    owned = ShipmentException.objects.create(
        shipment=brenner_shipments[0],
        reason="damaged",
        opened_by="milestone",
        status=ShipmentException.Status.ACKNOWLEDGED,
        owner=cs_staff,
        opened_at=now - timedelta(days=3, hours=1),
    )
    ShipmentException.objects.create(
        shipment=nordwind_shipment, reason="weather", opened_by="delay", opened_at=now
    )
    sign_in_verified(client, cs_staff)

    page = client.get("/exceptions/").content.decode()
    chosen = client.get(
        "/exceptions/", {"tenant": brenner.id, "account": "C-1002", "reason": "damaged"}
    ).content.decode()

    assert (
        f'<td><a href="/exceptions/{owned.id}/">SHP-1002000</a></td>\n'
        "      <td>Brenner Tools</td>\n"
        '      <td class="nowrap">C-1002</td>\n'
        "      <td>Damaged</td>\n"
        f"      <td>{owned.opened_at:%Y-%m-%d %H:%M}</td>\n"
        "      <td>3 days ago</td>\n"
        "      <td>Acknowledged</td>\n"
        "      <td>cs</td>"
    ) in page
    assert "<td>Weather</td>" in page and "<td>Open</td>\n      <td>—</td>" in page
    assert '<option value="C-2001">C-2001 (Nordwind Retail)</option>' in page
    assert f'<option value="{brenner.id}" selected>Brenner Tools</option>' in chosen
    assert '<option value="C-1002" selected>C-1002 (Brenner Tools)</option>' in chosen
    assert '<option value="damaged" selected>Damaged</option>' in chosen
    assert "SHP-2001001" not in chosen


def test_exception_queue_page_reads_the_same_queries_for_any_number_of_rows(
    client, two_tenants_shipments, cs_staff, django_assert_num_queries
):
    """The rows, their shipment, account, tenant and owner in one query, the filters'
    tenants and accounts in one more: no query per row, no notes (the queue shows none)."""
    brenner_shipments, _ = two_tenants_shipments
    sign_in_verified(client, cs_staff)
    client.get("/exceptions/")
    with CaptureQueriesContext(connection) as one_row:
        ShipmentException.objects.create(
            shipment=brenner_shipments[0],
            reason="damaged",
            opened_by="milestone",
            owner=cs_staff,
            opened_at=timezone.now(),
        )
        client.get("/exceptions/")
    for shipment in brenner_shipments[1:]:
        ShipmentException.objects.create(
            shipment=shipment,
            reason="damaged",
            opened_by="milestone",
            owner=StaffFactory(),
            opened_at=timezone.now(),
        )

    with CaptureQueriesContext(connection) as ten_rows:
        page = client.get("/exceptions/").content.decode()

    assert page.count("<td>Damaged</td>") == 10
    assert len(ten_rows.captured_queries) == len(one_row.captured_queries) - 1
    assert not any("exceptionnote" in query["sql"] for query in ten_rows.captured_queries)


def test_operations_pages_show_times_in_the_agents_zone_and_name_it(
    client, two_tenants_shipments, cs_staff
):
    brenner_shipments, _ = two_tenants_shipments
    record = ShipmentException.objects.create(
        shipment=brenner_shipments[0],
        reason="damaged",
        opened_by="milestone",
        opened_at=timezone.now().replace(hour=0, minute=0, second=0, microsecond=0),
    )
    sign_in_verified(client, cs_staff)
    client.post("/profile/", {"time_zone": "Asia/Tokyo"})

    queue = client.get("/exceptions/").content.decode()
    detail = client.get(f"/exceptions/{record.id}/").content.decode()

    assert "Opened (Asia/Tokyo)" in queue and "(UTC)" not in queue
    assert " 09:00" in queue  # midnight UTC is 9 in the morning in Tokyo
    assert " 09:00 JST" in detail


def test_filter_options_escape_what_the_data_holds():
    """A tenant or account named with markup shows as text in the queue's filters."""
    written = select_options([('C-"1', "<b>A & B</b>"), (7, "Seven")], 7)

    assert written == (
        '<option value="C-&quot;1">&lt;b&gt;A &amp; B&lt;/b&gt;</option>'
        '<option value="7" selected>Seven</option>'
    )
