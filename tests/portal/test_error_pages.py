"""Branded error pages with DEBUG off: navigation and a way back, never Django's debug
page; the API keeps answering RFC 9457 problems."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def production_mode(settings):
    settings.DEBUG = False


def test_unknown_page_is_the_branded_404_with_navigation(client, customer_user):
    client.force_login(customer_user)

    response = client.get("/no/such/page/")

    body = response.content.decode()
    assert response.status_code == 404
    assert "We could not find that page" in body
    assert 'href="/"' in body and "Go to the dashboard" in body
    assert 'aria-label="Main"' in body  # the site's navigation
    assert "URLconf" not in body and "Using the URLconf" not in body


def test_forbidden_is_the_branded_403(rf, customer_user):
    from django.core.exceptions import PermissionDenied

    from portal.error_views import permission_denied

    request = rf.get("/somewhere/")
    request.user = customer_user
    request.session = {}
    response = permission_denied(request, PermissionDenied())

    assert response.status_code == 403
    assert "You do not have access to this page" in response.content.decode()


def test_server_error_page_needs_nothing_from_the_database(rf):
    from portal.error_views import server_error

    response = server_error(rf.get("/shipments/"))

    body = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in body and 'href="/shipments/"' in body


def test_a_crashing_page_answers_the_branded_500(customer_user, monkeypatch):
    from portal import views

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(views.selectors, "search_references", explode)
    client = Client(raise_request_exception=False)
    client.force_login(customer_user)

    response = client.get("/search/?q=anything")

    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()


def test_the_api_keeps_problem_details(client):
    response = client.get("/api/v1/no-such-endpoint")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 404


def test_anonymous_404_offers_a_way_back(client):
    response = client.get("/nothing-here/")

    assert response.status_code == 404
    assert "Go to the dashboard" in response.content.decode()


def test_a_form_sent_without_its_csrf_token_is_the_branded_403(customer_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer_user)

    response = client.post("/settings/notifications/", {"email": "on"})

    body = response.content.decode()
    assert response.status_code == 403
    assert "The form could not be sent" in body and "reload the page" in body
    assert 'aria-label="Main"' in body and "Go to the dashboard" in body
    assert "CSRF verification failed" not in body  # Django's own page
