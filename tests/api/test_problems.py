"""One error format: every API failure, whatever the endpoint family, is an RFC 9457
problem (`application/problem+json` with `type`, `title`, `status`), with the headers
its status needs and never a traceback."""

from __future__ import annotations

import json

import pytest
from django.db import OperationalError

from core.problems import PROBLEM_TYPES

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def assert_problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["type"] == f"/api/docs/problems/{slug}"
    assert body["title"]
    assert slug in PROBLEM_TYPES and PROBLEM_TYPES[slug][0] == status
    return body


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


READ_PATHS = [
    "/api/v1/shipments",
    "/api/v1/shipments/SHP-778120",
    "/api/v1/orders",
    "/api/v1/orders/SO-100045",
    "/api/v1/invoices",
    "/api/v1/invoices/INV-2026-004512",
    "/api/v1/exceptions",
    "/api/v1/changes",
    "/api/v1/documents/DOC-POD-778120",
    "/api/v1/integration/health",
]


@pytest.mark.parametrize("path", READ_PATHS)
@pytest.mark.parametrize("authorization", [None, "Bearer svp_not-a-token", "Bearer  "])
def test_no_or_a_bad_credential_is_a_401_with_a_bearer_challenge(client, path, authorization):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}

    response = client.get(path, **headers)

    assert_problem(response, 401, "not-authenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_bad_filter_names_the_parameter(client, partner_token):
    response = client.get("/api/v1/shipments?delayed=maybe", **bearer(partner_token))

    body = assert_problem(response, 400, "invalid-request")
    assert body["errors"] == [{"detail": "Must be true or false.", "parameter": "delayed"}]
    assert "delayed" in body["detail"]


def test_a_cursor_that_does_not_decode_is_a_400_naming_it(client, partner_token):
    response = client.get("/api/v1/shipments?cursor=not-a-cursor", **bearer(partner_token))

    body = assert_problem(response, 400, "invalid-request")
    assert [error["parameter"] for error in body["errors"]] == ["cursor"]


def test_another_tenants_object_is_a_problem_404(client, delivered_story, other_tenant_token):
    response = client.get("/api/v1/shipments/SHP-778120", **bearer(other_tenant_token))

    body = assert_problem(response, 404, "not-found")
    assert "SHP-778120" not in json.dumps(body)


@pytest.mark.parametrize(
    "path", ["/api/v1/nothing-here", "/api/v2/shipments", "/api/", "/api/v1/shipments/"]
)
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_an_unknown_api_path_is_a_problem_404_not_html(client, partner_token, path, method):
    response = getattr(client, method)(path, **bearer(partner_token))

    assert_problem(response, 404, "not-found")


def test_a_method_the_endpoint_does_not_answer_is_a_405_with_allow(client, partner_token):
    response = client.delete("/api/v1/shipments", **bearer(partner_token))

    assert_problem(response, 405, "method-not-allowed")
    assert "GET" in response["Allow"]


def test_the_intake_answers_405_for_get_as_a_problem(client, source_tokens):
    response = client.get("/api/v1/events", **bearer(source_tokens["erp"]))

    assert_problem(response, 405, "method-not-allowed")
    assert response["Allow"] == "POST, OPTIONS"


def test_the_intake_refuses_a_bad_token_malformed_json_and_big_bodies_as_problems(
    client, source_tokens
):
    token = bearer(source_tokens["erp"])

    unauthenticated = client.post("/api/v1/events", data="{}", content_type="application/json")
    malformed = client.post("/api/v1/events", data="{", content_type="application/json", **token)
    huge = client.post(
        "/api/v1/events",
        data=json.dumps({"events": [{"event_type": "x"}] * 1001}),
        content_type="application/json",
        **token,
    )
    not_events = client.post(
        "/api/v1/events", data='{"events": 3}', content_type="application/json", **token
    )

    assert_problem(unauthenticated, 401, "not-authenticated")
    assert unauthenticated["WWW-Authenticate"] == 'Bearer realm="events"'
    assert_problem(malformed, 400, "malformed-json")
    assert_problem(huge, 413, "payload-too-large")
    assert_problem(not_events, 400, "invalid-request")


def test_the_intake_answers_json_whatever_the_client_accepts(client, source_tokens, story):
    response = client.post(
        "/api/v1/events",
        data=json.dumps(story[0]),
        content_type="application/json",
        HTTP_ACCEPT="text/html",
        **bearer(source_tokens["erp"]),
    )

    assert response.status_code == 202
    assert response.json()["results"][0]["status"] == "accepted"


def test_integration_health_refuses_a_partner_token_with_403_not_a_redirect(client, partner_token):
    response = client.get("/api/v1/integration/health", **bearer(partner_token))

    assert_problem(response, 403, "permission-denied")


def test_throttling_is_a_429_problem_with_retry_after(client, partner_token, settings):
    settings.API_TOKEN_RATE = "2/min"

    answers = [client.get("/api/v1/shipments", **bearer(partner_token)) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert_problem(answers[-1], 429, "rate-limited")
    assert 0 < int(answers[-1]["Retry-After"]) <= 60
    assert answers[-1]["RateLimit-Remaining"] == "0"


def test_a_database_outage_is_a_503_problem(client, partner_token, monkeypatch):
    def unreachable(*args, **kwargs):
        raise OperationalError("connection refused")

    token = bearer(partner_token)
    client.get("/api/v1/shipments", **token)  # the token is looked up before the outage
    monkeypatch.setattr("visibility.api.views.ShipmentListApi.list_selector", unreachable)

    response = client.get("/api/v1/shipments", **token)

    assert_problem(response, 503, "service-unavailable")
    assert response["Retry-After"] == "5"


def test_an_unexpected_error_is_a_500_problem_without_the_traceback(
    client, partner_token, monkeypatch, settings
):
    settings.DEBUG = True  # even then: the technical page must not reach a partner

    def broken(*args, **kwargs):
        raise KeyError("internal-detail-xyz")

    monkeypatch.setattr("visibility.api.views.ShipmentListApi.list_selector", broken)

    response = client.get("/api/v1/shipments", **bearer(partner_token))

    body = assert_problem(response, 500, "server-error")
    assert "internal-detail-xyz" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    assert set(body) == {"type", "title", "status", "detail"}


def test_a_nul_in_the_query_string_is_a_400_problem_naming_it(client, partner_token):
    response = client.get("/api/v1/shipments?load_id=a%00b", **bearer(partner_token))

    body = assert_problem(response, 400, "invalid-request")
    assert body["errors"][0]["parameter"] == "load_id"


def test_a_session_post_without_csrf_is_a_403_problem(customer_user):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(customer_user)

    response = browser.post("/api/v1/shipments", data="{}", content_type="application/json")

    assert_problem(response, 403, "permission-denied")
    assert "CSRF" in response.json()["detail"]


def test_a_problem_type_uri_leads_to_its_documentation(client):
    known = client.get("/api/docs/problems/rate-limited")
    unknown = client.get("/api/docs/problems/no-such-problem")

    assert known.status_code == 302
    assert known["Location"] == "/api/redoc/#section/Errors"
    assert_problem(unknown, 404, "not-found")


def test_a_post_to_an_unknown_api_path_is_a_404_not_a_csrf_403():
    """Found by schemathesis: an unknown path was refused by the CSRF check first."""
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(
        "/api/v1/webhooks/null,null/ping", HTTP_AUTHORIZATION="Bearer svp_not-a-real-token"
    )

    assert_problem(response, 404, "not-found")
