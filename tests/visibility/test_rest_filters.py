"""The REST lists' filters, as a partner uses them: each parameter narrows to what it says,
a bad value, an unknown parameter or a repeated single-valued one is a 400 naming the
parameter (never a silently unfiltered list), an account the caller does not see is a
400 (neither empty nor everything), and nothing of another tenant ever matches."""

from __future__ import annotations

import base64
import datetime as dt
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from tests.factories import (
    EPOCH,
    ApiTokenFactory,
    InvoiceFactory,
    OrderFactory,
    ShipmentFactory,
    ShipmentOrderFactory,
    account,
    derive,
)
from visibility.models import Shipment, ShipmentException

pytestmark = pytest.mark.django_db


def get(client, token: str, url: str, **params):
    return client.get(url, params, HTTP_AUTHORIZATION=f"Bearer {token}")


def names_parameter(response, name: str) -> bool:
    """The 400 names `name`: DRF's map keyed by parameter, or problem+json's
    `errors[].parameter` (core/problems.py)."""
    body = response.json()
    if name in body:
        return True
    return any(
        name in (error.get("parameter"), error.get("field")) for error in body.get("errors", [])
    )


def order(number: str, po: str, account_number: str):
    return OrderFactory(
        order_number=number, customer_po=po, customer_account=account(account_number)
    )


@pytest.fixture
def world(brenner, nordwind):
    """Two Brenner shipments that differ in every filtered field, and a Nordwind
    shipment that would match most filters (it must never be answered to Brenner).
    Derived states (status, delay, clock states) are set after derivation, as the
    projection and the clock would have left them."""
    rotterdam = ShipmentFactory(
        shipment_id="SHP-ROT",
        customer_account=account("C-1001"),
        carrier_scac="DHLF",
        carrier_name="DHL Freight",
        mode="ltl",
        load_id="LD-ROT",
        tracking_numbers=["JJD0001"],
        origin={"city": "Rotterdam", "country": "NL"},
        destination={"city": "Munich", "country": "DE"},
        orders=[order("SO-ROT", "PO-ROT-1", "C-1001")],
    )
    hamburg = ShipmentFactory(
        shipment_id="SHP-HAM",
        customer_account=account("C-1002"),
        carrier_scac="UPSN",
        carrier_name="UPS",
        mode="parcel",
        load_id="LD-HAM",
        tracking_numbers=["1Z0002"],
        origin={"city": "Hamburg", "country": "DE"},
        destination={"city": "Paris", "country": "FR"},
        orders=[order("SO-HAM", "PO-HAM-1", "C-1002")],
    )
    nordwind_shipment = ShipmentFactory(
        shipment_id="SHP-NW",
        customer_account=account("C-2001"),
        carrier_scac="DHLF",
        mode="ltl",
        tracking_numbers=["JJD0009"],
        origin={"city": "Rotterdam", "country": "NL"},
        destination={"city": "Munich", "country": "DE"},
        orders=[order("SO-NW", "PO-NW-1", "C-2001")],
    )
    # Nordwind's order also rides on Brenner's Rotterdam shipment (consolidation): its
    # number and PO must not find that shipment for Brenner.
    ShipmentOrderFactory(shipment=rotterdam, order=order("SO-NW-CONSOL", "PO-NW-CONSOL", "C-2001"))
    derive(shipments=[rotterdam])
    Shipment.objects.filter(shipment_id__in=["SHP-ROT", "SHP-NW"]).update(
        status="in_transit",
        delayed=True,
        at_risk=True,
        overdue=True,
        late_by_hours=30,
        eta=EPOCH + dt.timedelta(days=5),
        promised_date=(EPOCH + dt.timedelta(days=3)).date(),
    )
    Shipment.objects.filter(shipment_id="SHP-HAM").update(
        status="delivered",
        delayed=False,
        at_risk=False,
        overdue=False,
        late_by_hours=None,
        eta=EPOCH + dt.timedelta(days=2),
        promised_date=(EPOCH + dt.timedelta(days=4)).date(),
        delivered_at=EPOCH + dt.timedelta(days=2, hours=3),
    )
    for shipment, reason, status in [
        (rotterdam, "weather", ShipmentException.Status.OPEN),
        (hamburg, "damaged", ShipmentException.Status.RESOLVED),
        (nordwind_shipment, "damaged", ShipmentException.Status.OPEN),
    ]:
        ShipmentException.objects.create(
            shipment=shipment, reason=reason, opened_by="milestone", status=status, opened_at=EPOCH
        )


def shipment_ids(client, token: str, **params) -> set[str]:
    response = get(client, token, "/api/v1/shipments", **params)
    assert response.status_code == 200, response.content
    assert response.json()["next"] is None
    return {row["shipment_id"] for row in response.json()["results"]}


BOTH = {"SHP-ROT", "SHP-HAM"}
EACH_PARAMETER = [
    ({}, BOTH),
    ({"status": "delivered"}, {"SHP-HAM"}),
    ({"status": ["delivered", "in_transit"]}, BOTH),
    ({"delayed": "true"}, {"SHP-ROT"}),
    ({"delayed": "false"}, {"SHP-HAM"}),
    ({"late": "TRUE"}, {"SHP-ROT"}),
    ({"late": "0"}, {"SHP-HAM"}),
    ({"overdue": "true"}, {"SHP-ROT"}),
    ({"at_risk": "false"}, {"SHP-HAM"}),
    ({"exception_reason": "weather"}, {"SHP-ROT"}),
    ({"exception_reason": "damaged"}, set()),  # Hamburg's is resolved; Nordwind's not ours
    ({"account": "C-1002"}, {"SHP-HAM"}),
    ({"account": ["C-1001", "C-1002"]}, BOTH),
    ({"carrier": "dhlf"}, {"SHP-ROT"}),
    ({"carrier": "ups"}, {"SHP-HAM"}),
    ({"carrier_scac": "UPSN"}, {"SHP-HAM"}),
    ({"mode": "parcel"}, {"SHP-HAM"}),
    ({"load_id": "LD-ROT"}, {"SHP-ROT"}),
    ({"origin_country": "de"}, {"SHP-HAM"}),
    ({"origin_city": "rotterdam"}, {"SHP-ROT"}),
    ({"destination_country": "FR"}, {"SHP-HAM"}),
    ({"destination_city": "Munich"}, {"SHP-ROT"}),
    ({"origin_country": "NL", "destination_city": "Paris"}, set()),
    ({"reference": "jjd 0001"}, {"SHP-ROT"}),  # a tracking number, normalized
    ({"reference": "po-ham-1"}, {"SHP-HAM"}),  # the customer PO of its order
    ({"reference": "SO-ROT"}, {"SHP-ROT"}),
    ({"reference": "LD-HAM"}, {"SHP-HAM"}),
    ({"reference": "PO-NW-CONSOL"}, set()),  # Nordwind's order on our shipment
    ({"reference": "JJD0009"}, set()),  # Nordwind's shipment
    ({"tracking_number": "1Z0002"}, {"SHP-HAM"}),
    ({"order_number": "SO-ROT"}, {"SHP-ROT"}),
    ({"order_number": "SO-NW-CONSOL"}, set()),
    ({"eta_after": "2026-11-19T00:00:00Z"}, {"SHP-ROT"}),
    ({"eta_before": "2026-11-19T00:00:00Z"}, {"SHP-HAM"}),
    ({"promised_after": "2026-11-20"}, {"SHP-HAM"}),
    ({"promised_before": "2026-11-19"}, {"SHP-ROT"}),
    ({"delivered_after": "2026-11-01T00:00:00Z"}, {"SHP-HAM"}),
    ({"delivered_before": "2026-11-01T00:00:00Z"}, set()),
    ({"ordering": "shipment_id"}, BOTH),
]


@pytest.mark.parametrize(("params", "expected"), EACH_PARAMETER)
def test_each_shipment_filter_narrows_to_what_it_says(
    client, world, partner_token, params, expected
):
    assert EPOCH.date() == dt.date(2026, 11, 16)  # the dates above are relative to it
    assert shipment_ids(client, partner_token, **params) == expected


def test_updated_ranges_are_server_time(client, world, partner_token):
    past, future = timezone.now() - dt.timedelta(hours=1), timezone.now() + dt.timedelta(hours=1)

    assert shipment_ids(client, partner_token, updated_since=past.isoformat()) == BOTH
    assert shipment_ids(client, partner_token, updated_after=future.isoformat()) == set()
    assert shipment_ids(client, partner_token, updated_before=past.isoformat()) == set()
    assert shipment_ids(client, partner_token, updated_before=future.isoformat()) == BOTH


BAD_VALUES = [
    ("status", "flying"),
    ("delayed", "maybe"),
    ("late", "yes"),
    ("overdue", "2"),
    ("at_risk", "nope"),
    ("exception_reason", "gremlins"),
    ("mode", "boat"),
    ("carrier", "x" * 129),
    ("reference", "r" * 129),
    ("eta_after", "yesterday"),
    ("eta_before", "2026-02-30T00:00:00Z"),
    ("promised_after", "2026-13-01"),
    ("promised_before", "soon"),
    ("delivered_after", "1 Jan"),
    ("delivered_before", "x"),
    ("updated_since", "last week"),
    ("updated_after", "12"),
    ("updated_before", "2026-01-01T25:00:00Z"),
    ("ordering", "eta"),  # a changing column: not offered (the cursor could skip rows)
    ("expand", "everything"),
    ("expand", "milestones,orders"),
    ("page_size", "0"),
    ("page_size", "201"),
    ("page_size", "ten"),
    ("cursor", "not-a-cursor"),
    ("shipment", "SHP-ROT"),  # not a parameter of this list
    ("delay", "true"),  # a typo of one
]


@pytest.mark.parametrize(("name", "value"), BAD_VALUES)
def test_a_bad_value_or_an_unknown_parameter_is_a_400_naming_it(
    client, world, partner_token, name, value
):
    response = get(client, partner_token, "/api/v1/shipments", **{name: value})

    assert response.status_code == 400, (name, value)
    assert names_parameter(response, name), response.json()


def test_a_single_valued_parameter_given_twice_is_a_400(client, world, partner_token):
    response = get(client, partner_token, "/api/v1/shipments", delayed=["true", "false"])

    assert response.status_code == 400 and names_parameter(response, "delayed")


@pytest.mark.parametrize(
    ("who", "number"),
    [
        ("partner", "C-2001"),  # another tenant's account
        ("partner", "C-9999"),  # no such account
        ("limited", "C-1001"),  # the tenant's, but not granted to the token
    ],
)
def test_an_account_the_caller_does_not_see_is_a_400_not_empty_nor_everything(
    client, world, brenner, partner_token, who, number
):
    token = partner_token
    if who == "limited":
        token = ApiTokenFactory(tenant=brenner, account_numbers=["C-1002"]).secret

    for path in ("/api/v1/shipments", "/api/v1/orders", "/api/v1/invoices"):
        response = get(client, token, path, account=number)
        assert response.status_code == 400, path
        assert names_parameter(response, "account")
        assert number in response.content.decode()


def test_the_other_tenant_finds_none_of_brenners_shipments_by_any_filter(
    client, world, other_tenant_token
):
    for params, _ in EACH_PARAMETER:
        if "account" in params:
            continue
        found = shipment_ids(client, other_tenant_token, **params)
        assert found <= {"SHP-NW", "SHP-ROT"}, params
        # Nordwind sees Brenner's Rotterdam shipment only because its order rides on it.
    assert shipment_ids(client, other_tenant_token, reference="SO-ROT") == set()
    assert shipment_ids(client, other_tenant_token, order_number="SO-ROT") == set()
    assert shipment_ids(client, other_tenant_token, reference="PO-NW-CONSOL") == {"SHP-ROT"}


def test_ordering_pages_by_a_key_that_never_changes(client, world, partner_token):
    """`ordering=shipment_id`, one row a page: changing a row between pages (its last
    activity, its status) neither skips nor repeats it."""
    ShipmentFactory.create_batch(4, customer_account=account("C-1001"))
    expected = sorted(shipment_ids(client, partner_token, page_size=200))
    assert len(expected) == 6
    seen: list[str] = []
    response = get(client, partner_token, "/api/v1/shipments", ordering="shipment_id", page_size=1)
    while True:
        assert response.status_code == 200
        seen += [row["shipment_id"] for row in response.json()["results"]]
        Shipment.objects.filter(shipment_id=seen[-1]).update(
            last_event_at=timezone.now(), status="delivered"
        )
        if not response.json()["next"]:
            break
        response = client.get(response.json()["next"], HTTP_AUTHORIZATION=f"Bearer {partner_token}")

    assert seen == expected

    newest_first = get(client, partner_token, "/api/v1/shipments", ordering="-created").json()
    oldest_first = get(client, partner_token, "/api/v1/shipments", ordering="created").json()
    assert [r["shipment_id"] for r in newest_first["results"]] == [
        r["shipment_id"] for r in reversed(oldest_first["results"])
    ]


def test_order_and_invoice_filters(client, world, partner_token):
    InvoiceFactory(
        invoice_number="INV-ROT",
        customer_account=account("C-1001"),
        order_numbers=["SO-ROT"],
        shipment_ids=["SHP-ROT"],
        issue_date=dt.date(2026, 11, 20),
        due_date=dt.date(2026, 12, 20),
    )
    InvoiceFactory(
        invoice_number="INV-HAM",
        customer_account=account("C-1002"),
        order_numbers=["SO-HAM"],
        shipment_ids=["SHP-HAM"],
        issue_date=dt.date(2026, 11, 30),
        due_date=dt.date(2026, 12, 30),
    )

    def orders(**params) -> set[str]:
        response = get(client, partner_token, "/api/v1/orders", **params)
        assert response.status_code == 200, response.content
        return {row["order_number"] for row in response.json()["results"]}

    def invoices(**params) -> set[str]:
        response = get(client, partner_token, "/api/v1/invoices", **params)
        assert response.status_code == 200, response.content
        return {row["invoice_number"] for row in response.json()["results"]}

    assert orders() == {"SO-ROT", "SO-HAM"}  # not Nordwind's, even on our shipment
    assert orders(account="C-1002") == {"SO-HAM"}
    assert orders(shipment_id="SHP-ROT") == {"SO-ROT"}
    assert orders(reference="po rot 1") == {"SO-ROT"}
    assert orders(order_number="SO-HAM") == {"SO-HAM"}
    assert orders(q="HAM") == {"SO-HAM"}
    assert orders(ordering="order_number", page_size=1) == {"SO-HAM"}
    assert invoices(account="C-1001") == {"INV-ROT"}
    assert invoices(order_number="SO-HAM") == {"INV-HAM"}
    assert invoices(shipment_id="SHP-ROT") == {"INV-ROT"}
    assert invoices(issued_after="2026-11-25") == {"INV-HAM"}
    assert invoices(issued_before="2026-11-25", due_from="2026-12-01") == {"INV-ROT"}
    assert invoices(ordering="-invoice_number", page_size=1) == {"INV-ROT"}
    for path, name, value in [
        ("/api/v1/orders", "at_risk", "sometimes"),
        ("/api/v1/orders", "requested_after", "tomorrow"),
        ("/api/v1/orders", "status", "lost"),
        ("/api/v1/orders", "ordering", "last_event_at"),
        ("/api/v1/invoices", "status", "late"),
        ("/api/v1/invoices", "issued_before", "2026-01-32"),
        ("/api/v1/invoices", "delayed", "true"),
        ("/api/v1/exceptions", "reason", "gremlins"),
        ("/api/v1/exceptions", "status", "resolved"),
        ("/api/v1/documents", "kind", "selfie"),
        ("/api/v1/documents", "q", "x"),
    ]:
        response = get(client, partner_token, path, **{name: value})
        assert response.status_code == 400 and names_parameter(response, name), (path, name)


def crafted_cursor(position: str) -> str:
    """A cursor made by hand: DRF's are base64 of `p=<position>` (and `r`, `o`)."""
    return base64.b64encode(urlencode({"p": position}).encode()).decode()


HOSTILE = [
    ("/api/v1/shipments", {"cursor": crafted_cursor("abc")}, "cursor"),
    ("/api/v1/shipments", {"cursor": crafted_cursor("9" * 30)}, "cursor"),
    ("/api/v1/shipments", {"cursor": "%%%"}, "cursor"),
    ("/api/v1/shipments", {"ordering": "shipment_id", "cursor": crafted_cursor("a\x00")}, "cursor"),
    ("/api/v1/exceptions", {"cursor": crafted_cursor("not a time")}, "cursor"),
    ("/api/v1/shipments", {"account": "C-1001\x00"}, "account"),
    ("/api/v1/shipments", {"reference": "SO\x00"}, "reference"),
    ("/api/v1/shipments", {"carrier": "\x00"}, "carrier"),
    ("/api/v1/orders", {"q": "\x00"}, "q"),
    ("/api/v1/documents", {"shipment": "SHP\x00"}, "shipment"),
    ("/api/v1/search", {"q": "SHP\x00"}, "q"),
]


@pytest.mark.parametrize(("path", "params", "name"), HOSTILE)
def test_hostile_values_are_400s_naming_them_never_500s(
    client, world, partner_token, path, params, name
):
    response = get(client, partner_token, path, **params)

    assert response.status_code == 400, response.content
    assert name in response.content.decode()


def test_a_well_formed_hand_made_cursor_pages_like_a_given_one(client, world, partner_token):
    response = get(
        client,
        partner_token,
        "/api/v1/shipments",
        ordering="shipment_id",
        cursor=crafted_cursor("SHP-HAM"),
    )

    assert response.status_code == 200
    assert [row["shipment_id"] for row in response.json()["results"]] == ["SHP-ROT"]


@pytest.mark.parametrize("path", ["/api/v1/shipments", "/api/v1/orders", "/api/v1/invoices"])
def test_a_time_with_any_valid_offset_is_read_in_utc_never_a_500(
    client, world, partner_token, path
):
    """Found by schemathesis: PostgreSQL refuses offsets beyond ±15:59 ("time zone
    displacement out of range"), so a valid ISO 8601 time with a -19:59 offset was a 500."""
    answered = get(client, partner_token, path, updated_after="0847-04-20T06:13:38.7-19:59")
    unrepresentable = get(client, partner_token, path, updated_after="0001-01-01T00:00:00+01:00")

    assert answered.status_code == 200, answered.content
    assert unrepresentable.status_code == 400
    assert names_parameter(unrepresentable, "updated_after")
