"""Search by any reference: exact, normalized, prefix and partial, within what one may see."""

from __future__ import annotations

import pytest

from accounts.services import user_create
from tests.factories import PASSWORD
from tests.helpers import send_story
from visibility.selectors import search_references

pytestmark = pytest.mark.django_db


def found(actor, query):
    return [(hit.kind, hit.object_key) for hit in search_references(actor, query)]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("SO-100045", ("order", "SO-100045")),
        ("so 100045", ("order", "SO-100045")),  # case and spaces ignored
        ("PO-BT-7781", ("order", "SO-100045")),  # customer PO
        ("shp778120", ("shipment", "SHP-778120")),  # dashes ignored
        ("LD-55012", ("shipment", "SHP-778120")),  # load id
        ("JJD0002249381", ("shipment", "SHP-778120")),  # carrier tracking number
        ("INV-2026-004512", ("invoice", "INV-2026-004512")),
        ("DOC-POD-778120", ("shipment", "SHP-778120")),  # a document finds what it is about
    ],
)
def test_every_kind_of_reference_finds_its_object(delivered_story, customer_user, query, expected):
    assert found(customer_user, query)[0] == expected


def test_prefix_and_partial_matches_rank_below_exact(delivered_story, customer_user):
    assert found(customer_user, "SHP-7781")[0] == ("shipment", "SHP-778120")  # prefix
    assert ("shipment", "SHP-778120") in found(customer_user, "2249381")  # partial


def test_search_leaves_out_what_the_searcher_may_not_see(
    delivered_story, other_tenant_user, limited_member
):
    assert found(other_tenant_user, "SO-100045") == []
    assert found(limited_member, "SHP-778120") == []


def test_staff_search_across_the_tenants_they_serve(delivered_story, brenner, nordwind):
    serving_brenner = user_create(username="cs1", password=PASSWORD, staff_tenants=[brenner])
    serving_nordwind = user_create(username="cs2", password=PASSWORD, staff_tenants=[nordwind])

    assert found(serving_brenner, "SHP-778120") == [("shipment", "SHP-778120")]
    assert found(serving_nordwind, "SHP-778120") == []


def test_search_page_links_to_the_shipment(client, delivered_story, customer_user):
    client.force_login(customer_user)

    page = client.get("/search/", {"q": "jjd000224938"}).content.decode()  # a prefix
    exact = client.get("/search/", {"q": "jjd0002249381"})

    assert 'href="/shipments/SHP-778120/"' in page
    # One exact match opens the shipment it names.
    assert (exact.status_code, exact["Location"]) == (302, "/shipments/SHP-778120/")


def test_order_page_is_scoped(client, delivered_story, customer_user, other_tenant_user):
    client.force_login(customer_user)
    assert "DRL-18V" in client.get("/orders/SO-100045/").content.decode()
    client.force_login(other_tenant_user)
    assert client.get("/orders/SO-100045/").status_code == 404


def test_references_follow_a_rebuild(client, brenner, source_tokens, story, customer_user):
    from django.core.management import call_command

    send_story(client, source_tokens, story)
    call_command("rebuild_read_models")

    assert found(customer_user, "LD-55012") == [("shipment", "SHP-778120")]


def test_a_fragment_finds_what_begins_with_it_first_then_what_contains_it(
    client, delivered_story, source_tokens, story, customer_user
):
    released = next(event for event in story if event["event_type"] == "order.released")
    reorder = {
        **released,
        "event_id": "erp-reorder-1",
        "data": {**released["data"], "order_number": "SO-100099", "customer_po": "778120-REORDER"},
    }
    send_story(client, source_tokens, [reorder])

    hits = found(customer_user, "778120")

    assert hits[0] == ("order", "SO-100099")  # its PO begins with the fragment
    assert ("shipment", "SHP-778120") in hits[1:]  # its id contains it
