"""HTTP done properly on the API: weak ETags and 304s, Last-Modified, compression of JSON
(never of pages), and the RateLimit-* headers of the token's budget."""

from __future__ import annotations

import gzip

import brotli
import pytest
from django.utils.http import http_date

from visibility.models import Shipment

pytestmark = pytest.mark.django_db


def bearer(token: str, **extra: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}", **extra}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/shipments",
        "/api/v1/shipments/SHP-778120",
        "/api/v1/orders",
        "/api/v1/orders/SO-100045",
        "/api/v1/exceptions",
        "/api/v1/changes",
    ],
)
def test_an_etag_round_trip_answers_304_until_the_answer_changes(
    client, delivered_story, partner_token, path
):
    first = client.get(path, **bearer(partner_token))
    etag = first["ETag"]

    again = client.get(path, **bearer(partner_token, HTTP_IF_NONE_MATCH=etag))
    other = client.get(path, **bearer(partner_token, HTTP_IF_NONE_MATCH='W/"something-else"'))

    assert first.status_code == 200
    assert etag.startswith('W/"')
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    assert other.status_code == 200
    assert other.content == first.content


def test_a_change_to_the_shipment_changes_its_etag(client, delivered_story, partner_token):
    path = "/api/v1/shipments/SHP-778120"
    etag = client.get(path, **bearer(partner_token))["ETag"]
    Shipment.objects.filter(shipment_id="SHP-778120").update(received_by="J. Someone Else")

    after = client.get(path, **bearer(partner_token, HTTP_IF_NONE_MATCH=etag))

    assert after.status_code == 200
    assert after["ETag"] != etag
    assert after.json()["received_by"] == "J. Someone Else"


def test_another_tenants_etag_tells_nothing(
    client, delivered_story, partner_token, other_tenant_token
):
    etag = client.get("/api/v1/shipments/SHP-778120", **bearer(partner_token))["ETag"]

    outsider = client.get(
        "/api/v1/shipments/SHP-778120", **bearer(other_tenant_token, HTTP_IF_NONE_MATCH=etag)
    )

    assert outsider.status_code == 404


def test_a_detail_carries_last_modified_and_answers_if_modified_since(
    client, delivered_story, partner_token
):
    shipment = Shipment.objects.get(shipment_id="SHP-778120")
    path = "/api/v1/shipments/SHP-778120"

    response = client.get(path, **bearer(partner_token))
    unchanged = client.get(
        path, **bearer(partner_token, HTTP_IF_MODIFIED_SINCE=response["Last-Modified"])
    )
    older = client.get(
        path,
        **bearer(
            partner_token, HTTP_IF_MODIFIED_SINCE=http_date(shipment.updated_at.timestamp() - 60)
        ),
    )

    assert response["Last-Modified"] == http_date(shipment.updated_at.timestamp())
    assert unchanged.status_code == 304
    assert older.status_code == 200


def test_a_list_page_carries_last_modified_but_revalidates_with_the_etag_only(
    client, delivered_story, partner_token
):
    response = client.get("/api/v1/shipments", **bearer(partner_token))
    since = client.get(
        "/api/v1/shipments",
        **bearer(partner_token, HTTP_IF_MODIFIED_SINCE=response["Last-Modified"]),
    )

    newest = max(Shipment.objects.values_list("updated_at", flat=True))
    assert response["Last-Modified"] == http_date(newest.timestamp())
    # A row leaving the page does not move the newest time: only the ETag is trusted.
    assert since.status_code == 200


def test_answers_are_private_and_vary_on_the_credential(client, delivered_story, partner_token):
    response = client.get("/api/v1/shipments", **bearer(partner_token))

    assert response["Cache-Control"] == "private, no-cache"
    assert "Authorization" in response["Vary"]


@pytest.mark.parametrize(
    ("accept", "encoding", "decompress"),
    [("gzip", "gzip", gzip.decompress), ("br, gzip", "br", brotli.decompress)],
)
def test_api_json_is_compressed_for_clients_that_accept_it(
    client, delivered_story, partner_token, accept, encoding, decompress
):
    plain = client.get("/api/v1/shipments/SHP-778120", **bearer(partner_token))

    compressed = client.get(
        "/api/v1/shipments/SHP-778120", **bearer(partner_token, HTTP_ACCEPT_ENCODING=accept)
    )

    assert "Content-Encoding" not in plain
    assert compressed["Content-Encoding"] == encoding
    assert decompress(compressed.content) == plain.content
    assert len(compressed.content) < len(plain.content) / 2
    assert "Accept-Encoding" in compressed["Vary"]
    assert compressed["ETag"] == plain["ETag"]


def test_pages_are_never_compressed(client, delivered_story, customer_user):
    """BREACH: a page holds a CSRF token beside reflected input."""
    client.force_login(customer_user)

    page = client.get("/shipments/?q=SHP", HTTP_ACCEPT_ENCODING="gzip, br")

    assert page.status_code == 200
    assert "Content-Encoding" not in page


def test_every_token_answer_carries_the_ratelimit_headers(client, partner_token, settings):
    settings.API_TOKEN_RATE = "5/min"

    answers = [
        client.get(path, **bearer(partner_token))
        for path in ("/api/v1/shipments", "/api/v1/shipments/nope", "/api/v1/orders?status=x")
    ]

    assert [answer.status_code for answer in answers] == [200, 404, 400]
    assert [answer["RateLimit-Remaining"] for answer in answers] == ["4", "3", "2"]
    for answer in answers:
        assert answer["RateLimit-Limit"] == "5"
        assert answer["RateLimit-Policy"] == "5;w=60"
        assert 0 < int(answer["RateLimit-Reset"]) <= 60


def test_a_304_keeps_the_ratelimit_headers(client, delivered_story, partner_token):
    etag = client.get("/api/v1/shipments", **bearer(partner_token))["ETag"]

    again = client.get("/api/v1/shipments", **bearer(partner_token, HTTP_IF_NONE_MATCH=etag))

    assert again.status_code == 304
    assert int(again["RateLimit-Remaining"]) == int(again["RateLimit-Limit"]) - 2


def test_session_answers_carry_no_ratelimit_headers(client, customer_user):
    client.force_login(customer_user)

    response = client.get("/api/v1/shipments")

    assert response.status_code == 200
    assert "RateLimit-Limit" not in response
