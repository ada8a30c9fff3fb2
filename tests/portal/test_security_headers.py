"""Every response carries the security headers: a strict Content-Security-Policy (no
inline script or style without the response's nonce, nothing from another origin, no
framing), Referrer-Policy, Permissions-Policy, X-Content-Type-Options."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import ShipmentFactory, account
from tests.helpers import sign_in_verified

pytestmark = pytest.mark.django_db

STRICT_DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


def directives(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    named = [part.strip().partition(" ") for part in policy.split(";") if part.strip()]
    return {name: sources for name, _, sources in named}


def assert_secure_headers(response) -> None:
    policy = directives(response)
    for directive, sources in STRICT_DIRECTIVES.items():
        assert policy[directive] == sources, (response.request["PATH_INFO"], directive)
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


def signed_in(user) -> Client:
    client = Client()
    sign_in_verified(client, user)
    return client


def test_pages_of_a_customer_carry_the_headers(customer_user, brenner):
    ShipmentFactory(shipment_id="SHP-HEAD-1", customer_account=account("C-1001"))
    client = signed_in(customer_user)
    for path in [
        "/shipments/",
        "/shipments/SHP-HEAD-1/",
        "/orders/",
        "/search/?q=SHP",
        "/settings/notifications/",
    ]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert_secure_headers(response)


def test_pages_of_staff_and_admins_carry_the_headers(cs_staff, tenant_admin, platform_admin):
    for user, paths in [
        (cs_staff, ["/operations/integration/", "/exceptions/"]),
        (tenant_admin, ["/settings/members/", "/settings/tokens/", "/settings/audit/"]),
        (platform_admin, ["/admin/"]),
    ]:
        client = signed_in(user)
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, path
            assert_secure_headers(response)


def test_anonymous_pages_errors_and_the_api_carry_the_headers(client, partner_token):
    for path, status in [
        ("/login/", 200),
        ("/healthz", 200),
        ("/shipments/", 302),
        ("/no-such-page/", 404),
        ("/api/v1/shipments", 401),
    ]:
        response = client.get(path)
        assert response.status_code == status, path
        assert_secure_headers(response)
    response = client.get("/api/v1/shipments", HTTP_AUTHORIZATION=f"Bearer {partner_token}")
    assert response.status_code == 200
    assert_secure_headers(response)


def test_a_nonce_appears_only_in_responses_that_use_one(rf):
    """Templates that must inline a script write nonce="{{ request.csp_nonce }}"; the
    header then allows exactly that nonce, and responses without one allow none."""
    from django.http import HttpResponse
    from django.template import engines

    from portal.security_headers import PermissionsPolicyMiddleware

    template = engines["django"].from_string(
        '<script nonce="{{ request.csp_nonce }}">window.x = 1</script>'
    )
    from csp.middleware import CSPMiddleware

    def view(request):
        return HttpResponse(template.render({}, request))

    middleware = CSPMiddleware(PermissionsPolicyMiddleware(view))
    request = rf.get("/")
    response = middleware(request)
    nonce = str(request.csp_nonce)
    assert f'nonce="{nonce}"' in response.content.decode()
    assert f"'nonce-{nonce}'" in directives(response)["script-src"]

    plain = CSPMiddleware(lambda request: HttpResponse("no script"))(rf.get("/"))
    assert "nonce" not in plain.headers["Content-Security-Policy"]
