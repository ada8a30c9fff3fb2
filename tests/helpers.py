"""Helpers tests share (not fixtures): sending events over HTTP, reading the contract's
example files, and the read models in a comparable form for convergence checks."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from integration.models import InboxEvent, LaneRoute
from integration.services.processing import process_inbox_until_empty
from visibility.models import (
    Document,
    FreightCharge,
    Invoice,
    Order,
    Reference,
    Shipment,
)

FIXTURES = Path(__file__).parent / "fixtures"


def read_jsonl(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines() if line.strip()]


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


def milestone_flood(shipments: int, milestones_per_shipment: int) -> list[dict]:
    """Per shipment: its order (erp), then the shipment and its `in_transit` milestones
    (tms), one minute apart: many small facts, for tests that need a long stream."""
    events = []
    for number in range(shipments):
        order, shipment = f"SO-K{number}", f"SHP-K{number}"
        events.append(
            {
                "spec_version": "1.0",
                "event_id": f"o-{number}",
                "event_type": "order.released",
                "source": "erp",
                "occurred_at": "2026-11-01T08:00:00Z",
                "data": {
                    "order_number": order,
                    "customer_account": "C-1001",
                    "lines": [{"line_number": 1, "sku": "A", "quantity": 1}],
                },
            }
        )
        events.append(
            {
                "spec_version": "1.0",
                "event_id": f"s-{number}",
                "event_type": "shipment.created",
                "source": "tms",
                "occurred_at": "2026-11-01T09:00:00Z",
                "data": {"shipment_id": shipment, "orders": [{"order_number": order}]},
            }
        )
        for step in range(milestones_per_shipment):
            events.append(
                {
                    "spec_version": "1.0",
                    "event_id": f"m-{number}-{step}",
                    "event_type": "shipment.milestone",
                    "source": "tms",
                    "occurred_at": f"2026-11-02T{step // 60:02d}:{step % 60:02d}:00Z",
                    "data": {"shipment_id": shipment, "milestone": "in_transit"},
                }
            )
    return events


def reset_read_models() -> None:
    """Forget every read model, inbox row and lane route (search references go with
    their owners)."""
    for model in (Document, FreightCharge, Invoice, Shipment, Order, InboxEvent, LaneRoute):
        model.objects.all().delete()


def read_model_state() -> dict:
    """Everything a customer can read, search index included, in a comparable form."""
    shipments = {
        shipment.shipment_id: {
            field: getattr(shipment, field)
            for field in (
                "status",
                "status_at",
                "eta",
                "eta_basis",
                "delayed",
                "at_risk",
                "delivered_at",
                "received_by",
                "carrier_scac",
                "carrier_name",
                "tracking_numbers",
                "promised_date",
                "last_event_at",
                "load_id",
                "planned_delivery_at",
                # Clock-driven: the same at the same moment whatever the order of events.
                "overdue",
                "tracking_stale",
                "pod_missing",
                "not_invoiced",
            )
        }
        | {
            "open_exceptions": sorted(
                exception.reason
                for exception in shipment.exceptions.all()
                if exception.status != "resolved"
            ),
            "history": sorted(
                (fact.event_key, fact.kind, fact.milestone, str(fact.eta))
                for fact in shipment.history.all()
            ),
            "stops": [(stop.sequence, stop.stop_type) for stop in shipment.stops.all()],
            "orders": sorted(link.order.order_number for link in shipment.order_links.all()),
        }
        for shipment in Shipment.objects.prefetch_related(
            "history", "stops", "order_links__order", "exceptions"
        )
    }
    orders = {
        order.order_number: (
            order.status,
            order.at_risk,
            order.customer_po,
            order.cancelled_at,
            order.last_event_at,
            [(line.line_number, line.sku, line.quantity) for line in order.lines.all()],
        )
        for order in Order.objects.prefetch_related("lines")
    }
    invoices = {
        invoice.invoice_number: (invoice.total_amount, invoice.paid_at, invoice.paid_amount)
        for invoice in Invoice.objects.all()
    }
    documents = sorted(Document.objects.values_list("document_id", "sha256", "size"))
    charges = sorted(FreightCharge.objects.values_list("charge_id", "amount"))
    references = sorted(
        Reference.objects.values_list(
            "customer_account__number",
            "kind",
            "object_key",
            "reference_type",
            "value",
            "normalized",
            "order__order_number",
            "shipment__shipment_id",
            "invoice__invoice_number",
        ),
        key=repr,
    )
    return {
        "shipments": shipments,
        "orders": orders,
        "invoices": invoices,
        "documents": documents,
        "charges": charges,
        "references": references,
    }


def read_model_json() -> str:
    """`read_model_state()` as canonical JSON: lists sorted, so that two databases that
    stored the same rows in another physical order compare equal (a fault test compares a
    database it reads through another process, tests/read_model_dump.py)."""

    def canonical(value: Any) -> Any:
        if isinstance(value, dict):
            return {str(key): canonical(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return sorted((canonical(item) for item in value), key=json.dumps)
        if value is None or isinstance(value, bool | int | float | str):
            return value
        return str(value)  # dates, decimals

    return json.dumps(canonical(read_model_state()), sort_keys=True)


def graphql_post(
    client: Client,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    extensions: dict[str, Any] | None = None,
    **extra: Any,
):
    """POST a GraphQL document (with a partner token if given, else the client's session)."""
    body: dict[str, Any] = {"query": query, "variables": variables or {}}
    if extensions is not None:
        body["extensions"] = extensions
    if token is not None:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client.post("/graphql", data=json.dumps(body), content_type="application/json", **extra)


def connection_nodes(connection: dict[str, Any]) -> list[dict[str, Any]]:
    """The nodes of a GraphQL connection's `edges { node }`, in order."""
    return [edge["node"] for edge in connection["edges"]]


def sign_in_verified(client: Client, user) -> None:
    """Sign `user` in with a session that passed the second factor, as django_otp.login
    leaves it (the session names a confirmed device of the user). Staff and platform
    admins must have one (accounts/second_factor.py); this is how tests give it to them."""
    client.force_login(user)
    device, _ = StaticDevice.objects.get_or_create(
        user=user, name="tests", defaults={"confirmed": True}
    )
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


def current_totp_code(username: str) -> str:
    """The code `username`'s authenticator app shows now, from a confirmed TOTP device made
    for them if they have none (staff and platform admins must pass a second factor)."""
    from django.contrib.auth.models import User

    user = User.objects.get(username=username)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="tests", confirmed=True)
    value = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    return f"{value:0{device.digits}d}"


def browser_sign_in(
    page: Any,
    base_url: str,
    username: str,
    password: str,
    *,
    on_page: Callable[[Any], None] | None = None,
) -> None:
    """Sign in through the login page as a person would (Playwright `page`), typing the
    authenticator's code when the portal asks for the second factor (a user who must have
    one is given a device first, as if enrolled earlier). `on_page(page)`, if given, is
    called on the sign-in page and on the second-factor page before each is filled in."""
    from django.contrib.auth.models import User

    from accounts.second_factor import second_factor_required

    if second_factor_required(User.objects.get(username=username)):
        current_totp_code(username)
    page.goto(f"{base_url}/login/")
    if on_page is not None:
        on_page(page)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("load")
    if "/account/second-factor/verify/" in page.url:
        if on_page is not None:
            on_page(page)
        page.get_by_label("Code").fill(current_totp_code(username))
        page.get_by_role("button", name="Verify").click()
        page.wait_for_load_state("load")
