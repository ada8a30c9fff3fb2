"""Shared fixtures: named tenants and personas, source and partner tokens, event helpers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from accounts.services import api_token_create, source_create, tenant_create_or_update, user_create
from integration.services.processing import process_inbox_until_empty

FIXTURES = Path(__file__).parent / "fixtures"
PASSWORD = "correct-horse-battery-staple-42"


def read_jsonl(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines() if line.strip()]


@pytest.fixture(autouse=True)
def default_status_codes(request):
    """Transactional tests flush tables, data-migration rows included: seed them again."""
    uses_database = request.node.get_closest_marker("django_db") or (
        {"db", "transactional_db"} & set(request.fixturenames)
    )
    if not uses_database:
        return
    from integration.models import StatusCodeMapping
    from integration.status_codes import seed_default_status_codes

    seed_default_status_codes(StatusCodeMapping)


@pytest.fixture(autouse=True)
def contract_examples_are_not_in_the_future(settings):
    """The contract's story is paid on 2026-12-15, which may still be ahead of the clock:
    the clock-skew limit is tested on its own (tests/integration/test_intake_limits.py)."""
    settings.EVENTS_MAX_CLOCK_SKEW_HOURS = 24 * 365 * 20


@pytest.fixture
def story() -> list[dict[str, Any]]:
    """The contract's order-to-cash example: one order of C-1001, one shipment SHP-778120."""
    return read_jsonl("order-to-cash.jsonl")


@pytest.fixture
def brenner(db):
    return tenant_create_or_update(
        slug="brenner", name="Brenner Tools", account_numbers=["C-1001", "C-1002"]
    )


@pytest.fixture
def nordwind(db):
    return tenant_create_or_update(
        slug="nordwind", name="Nordwind Retail", account_numbers=["C-2001"]
    )


@pytest.fixture
def source_tokens(db) -> dict[str, str]:
    return {key: source_create(key=key)[1] for key in ("erp", "tms")}


@pytest.fixture
def customer_user(brenner):
    return user_create(username="customer", password=PASSWORD, tenant=brenner)


@pytest.fixture
def other_tenant_user(nordwind):
    return user_create(username="nordwind-user", password=PASSWORD, tenant=nordwind)


@pytest.fixture
def partner_token(brenner) -> str:
    return api_token_create(tenant=brenner, name="brenner ERP")[1]


@pytest.fixture
def other_tenant_token(nordwind) -> str:
    return api_token_create(tenant=nordwind, name="nordwind WMS")[1]


def post_events(client: Client, token: str, body: Any, **extra: Any):
    return client.post(
        "/api/v1/events",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        **extra,
    )


def send_story(client: Client, source_tokens: dict[str, str], events: list[dict]) -> None:
    """Send events through HTTP intake with each event's own source token, then project."""
    for event in events:
        response = post_events(client, source_tokens[event["source"]], event)
        assert response.status_code == 202, response.content
    process_inbox_until_empty()


@pytest.fixture
def delivered_story(db, client, brenner, source_tokens, story) -> None:
    send_story(client, source_tokens, story)
