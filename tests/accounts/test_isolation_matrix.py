"""The isolation proof: every URL the project serves x every persona who must not see
tenant Brenner's shipment SHP-778120 (and its order, invoice, document, tokens, webhooks).

The matrix is built from the URL configuration and the GraphQL schema: an endpoint or a
GraphQL field nobody classified below fails `test_every_endpoint_is_accounted_for`.
Details answer 404 (never 403, which would confirm existence), lists and search leave
the objects out, GraphQL answers null / empty.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.models import Membership
from accounts.services import api_token_create, invitation_create, user_create
from portal.graphql.schema import schema
from tests.factories import PASSWORD
from tests.helpers import sign_in_verified
from visibility.models import Webhook

pytestmark = pytest.mark.django_db

# Strings that exist only in Brenner's data: none may appear in an outsider's answer.
MARKERS = [
    "SHP-778120",
    "SO-100045",
    "PO-BT-7781",
    "INV-2026-004512",
    "DOC-POD-778120",
    "JJD0002249381",
    "LD-55012",
    "brenner-secret",
    "CHG-778120-1",
]

# URL name -> (kind, path). Kinds: detail, list, member_page, tenant_admin, webhook_admin, operator,
# intake, graphql, public.
ENDPOINTS = {
    "home": ("public", "/"),
    "login": ("public", "/login/"),
    "logout": ("public", None),  # POST-only sign-out; nothing to leak
    # The user's own profile (time zone): nothing of a tenant on it
    "profile": ("public", "/profile/"),
    "profile-time-zone": ("public", None),  # POST-only, the user's own time zone
    # Saved list views (POST-only): checked in tests/portal/test_shipment_list.py
    "saved-view-create": ("member_page", None),
    "saved-view-delete": ("member_page", None),
    "healthz": ("public", "/healthz"),
    # The operator's scrape: a bearer token of its own (tests/portal/test_metrics.py); no
    # tenant's data in it, only route names, sources and event types.
    "metrics": ("public", "/metrics"),
    # The signed-in user's own second factor and password reset: no tenant data
    "second-factor": ("public", "/account/second-factor/"),
    "second-factor-verify": ("public", "/account/second-factor/verify/"),
    "password_reset": ("public", "/password-reset/"),
    "password_reset_done": ("public", "/password-reset/sent/"),
    "password_reset_confirm": ("public", None),  # a link from an email: test_password_reset.py
    "password_reset_complete": ("public", "/password-reset/complete/"),
    "shipment-list": ("list", "/shipments/"),
    "shipment-detail": ("detail", "/shipments/SHP-778120/"),
    "search": ("list", "/search/?q=SHP-778120"),  # outsiders: no hit, so no redirect
    "order-detail": ("detail", "/orders/SO-100045/"),
    "document-download": ("detail", "/documents/DOC-POD-778120/download"),
    "notification-settings": ("member_page", "/settings/notifications/"),
    # Redirects a member to their settings page; 404 for anyone without a membership.
    "settings": ("settings_home", "/settings/"),
    "webhook-settings": ("tenant_admin", "/settings/webhooks/"),
    "api-token-settings": ("tenant_admin", "/settings/tokens/"),
    "audit-log": ("tenant_admin", "/settings/audit/"),
    "api-events": ("intake", "/api/v1/events"),
    "api-shipment-list": (
        "list",
        "/api/v1/shipments?expand=milestones,eta_history,stops,charges,documents",
    ),
    "api-shipment-detail": ("detail", "/api/v1/shipments/SHP-778120"),
    "api-order-detail": ("detail", "/api/v1/orders/SO-100045"),
    "api-document-download": ("detail", "/api/v1/documents/DOC-POD-778120"),
    "api-integration-health": ("operator_api", "/api/v1/integration/health"),
    "integration-health": ("operator", "/operations/integration/"),
    # Time and exceptions
    "exception-queue": ("operator", "/exceptions/"),
    "api-exception-list": ("list", "/api/v1/exceptions"),
    # An id made at test time: checked in tests/visibility/test_exceptions.py.
    "exception-detail": ("operator_detail", None),
    "graphql": ("graphql", "/graphql"),
    # Members and invitations
    "member-settings": ("tenant_admin", "/settings/members/"),
    # Paths with ids made at test time: checked in test_member_pages_are_closed_to_outsiders.
    "member-edit": ("tenant_admin_detail", None),
    "invitation-accept": ("invitation", None),
    # Orders list, shipment export
    "shipment-export": ("list", "/shipments/export.csv"),
    "order-list": ("list", "/orders/"),
    "api-order-list": ("list", "/api/v1/orders"),
    # Invoices (finance grant)
    "invoice-list": ("list", "/invoices/"),
    "invoice-detail": ("detail", "/invoices/INV-2026-004512/"),
    "api-invoice-list": ("list", "/api/v1/invoices"),
    "api-invoice-detail": ("detail", "/api/v1/invoices/INV-2026-004512"),
    # The change feed: changes of the caller's own accounts only
    "api-change-feed": ("list", "/api/v1/changes?limit=1000"),
    # Partner coverage: documents list, a shipment's parts, search, expansions
    "api-document-list": ("list", "/api/v1/documents?shipment=SHP-778120"),
    "api-shipment-milestones": ("detail", "/api/v1/shipments/SHP-778120/milestones"),
    "api-shipment-eta-history": ("detail", "/api/v1/shipments/SHP-778120/eta-history"),
    "api-shipment-stops": ("detail", "/api/v1/shipments/SHP-778120/stops"),
    "api-shipment-charges": ("detail", "/api/v1/shipments/SHP-778120/charges"),
    "api-search": ("list", "/api/v1/search?q=SHP-778120"),
    # The API's description and doc pages hold no tenant data; unknown /api/ paths are 404
    "schema": ("public", "/api/v1/schema"),
    "api-docs": ("public", "/api/docs/"),
    "api-redoc": ("public", "/api/redoc/"),
    "api-problem-type": ("public", "/api/docs/problems/not-found"),
    "api-not-found": ("public", "/api/v1/no-such-endpoint"),
    # Webhooks over the API (tenant admins and tokens with the webhooks scope). Paths with
    # ids made at test time: checked in tests/visibility/test_webhooks_api.py.
    "api-webhook-list": ("webhook_admin", "/api/v1/webhooks"),
    "api-webhook-detail": ("webhook_admin_detail", None),
    "api-webhook-rotate-secret": ("webhook_admin_detail", None),
    "api-webhook-ping": ("webhook_admin_detail", None),
    "api-webhook-deliveries": ("webhook_admin_detail", None),
    "api-webhook-redeliver": ("webhook_admin_detail", None),
    # Customer-service console; a tenant's read-only view is checked, with ids made at
    # test time, in tests/portal/test_console.py.
    "console": ("operator", "/console/"),
    "console-tenant": ("operator_detail", None),
    # Platform admin pages: nobody in the matrix is a platform admin.
    "platform-dead-letters": ("platform_admin", "/platform/dead-letters/"),
    "platform-dead-letter": ("platform_admin", "/platform/dead-letters/1/"),
    "platform-held": ("platform_admin", "/platform/held/"),
    "platform-event-trace": ("platform_admin", "/platform/events/?q=tms-demo-0001"),
    "platform-tenants": ("platform_admin", "/platform/tenants/"),
    "platform-sources": ("platform_admin", "/platform/sources/"),
}

SEARCHES = [
    "SHP-778120",
    "SO-100045",
    "PO-BT-7781",
    "INV-2026-004512",
    "DOC-POD-778120",
    "JJD0002249381",
    "LD-55012",
    "778120",
    "100045",
]

# GraphQL query field -> a query and the answer an outsider must get.
GRAPHQL_FIELDS = {
    "shipment": ('{ shipment(shipmentId: "SHP-778120") { shipmentId } }', {"shipment": None}),
    "shipments": (
        "{ shipments(first: 200) { edges { node { shipmentId } } } }",
        {"shipments": {"edges": []}},
    ),
    "order": ('{ order(orderNumber: "SO-100045") { orderNumber } }', {"order": None}),
    # Orders list
    "orders": (
        "{ orders(first: 200) { edges { node { orderNumber } } } }",
        {"orders": {"edges": []}},
    ),
    # Invoices (finance grant)
    "invoice": (
        '{ invoice(invoiceNumber: "INV-2026-004512") { invoiceNumber lines { amount } } }',
        {"invoice": None},
    ),
    "invoices": (
        "{ invoices(first: 200) { edges { node { invoiceNumber } } } }",
        {"invoices": {"edges": []}},
    ),
    "exceptions": (
        "{ exceptions(first: 200) { edges { node { shipmentId } } } }",
        {"exceptions": {"edges": []}},
    ),
    # Documents (documents grant)
    "document": ('{ document(documentId: "DOC-POD-778120") { documentId } }', {"document": None}),
    "documents": (
        "{ documents(first: 200) { edges { node { documentId shipmentId } } } }",
        {"documents": {"edges": []}},
    ),
    # The change feed: changes of the caller's own accounts only
    "changes": (
        "{ changes(first: 100) { changes { kind id object } } }",
        {"changes": {"changes": []}},
    ),
}

# The finance grant
# Endpoints and GraphQL fields showing invoices or freight charges. The invoices-scoped
# token is entitled to them (it is an outsider only for shipments and documents).
FINANCE_ENDPOINTS = {"invoice-list", "invoice-detail", "api-invoice-list", "api-invoice-detail"}
FINANCE_GRAPHQL_FIELDS = {"invoice", "invoices"}
FINANCE_INSIDERS = {"scope_limited_token"}

PERSONAS = [
    "anonymous",
    "other_tenant_user",
    "other_tenant_admin",
    "limited_member",
    "unassigned_staff",
    "other_tenant_token",
    "scope_limited_token",
    "account_limited_token",
]


def url_names(patterns=None) -> set[str]:
    names = set()
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace != "admin":  # the admin is checked as a whole below
                names |= url_names(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            names.add(pattern.name)
    return names


def test_every_endpoint_is_accounted_for():
    assert url_names() == set(ENDPOINTS), "classify new URLs in ENDPOINTS"
    query_fields = {field.name for field in schema.query.__strawberry_definition__.fields}
    assert query_fields == set(GRAPHQL_FIELDS), "classify new GraphQL fields in GRAPHQL_FIELDS"


@pytest.fixture
def world(
    delivered_story, brenner, nordwind, other_tenant_user, limited_member, other_tenant_token
):
    """Brenner's data (from the contract story) plus its secrets, and the outsiders."""
    Webhook.objects.create(
        tenant=brenner,
        url="https://brenner-secret.example/hook",
        secret="s",
        event_types=["shipment.delivered"],
    )
    api_token_create(tenant=brenner, name="brenner-secret-token")
    personas = {
        "other_tenant_user": other_tenant_user,
        "other_tenant_admin": user_create(
            username="n-admin", password=PASSWORD, tenant=nordwind, role="tenant_admin"
        ),
        "limited_member": limited_member,
        "unassigned_staff": user_create(
            username="cs-nordwind", password=PASSWORD, staff_tenants=[nordwind]
        ),
        "other_tenant_token": other_tenant_token,
        "scope_limited_token": api_token_create(tenant=brenner, name="inv", scopes=["invoices"])[1],
        "account_limited_token": api_token_create(
            tenant=brenner, name="acct", account_numbers=["C-1002"]
        )[1],
    }
    # Members and invitations
    brenner_admin = user_create(
        username="b-admin", password=PASSWORD, tenant=brenner, role="tenant_admin"
    )
    invitation_create(
        tenant=brenner, email="brenner-secret-invitee@example.com", invited_by=brenner_admin
    )
    return personas


def client_for(world, persona: str) -> tuple[Client, dict]:
    client = Client()
    identity = world.get(persona)
    if isinstance(identity, str):
        return client, {"HTTP_AUTHORIZATION": f"Bearer {identity}"}
    if identity is not None:
        sign_in_verified(client, identity)
    return client, {}


def assert_no_markers(body: bytes, where: str, echoed: str = "") -> None:
    text = body.decode(errors="replace")
    if echoed:  # what the user typed is shown back to them; that is not a leak
        text = text.replace(f'value="{echoed}"', "").replace(f"\u201c{echoed}\u201d", "")
    leaked = [marker for marker in MARKERS if marker in text]
    assert not leaked, f"{where} leaked {leaked}"


def content_of(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


@pytest.mark.parametrize("persona", PERSONAS)
def test_no_persona_sees_another_tenants_data_anywhere(world, persona):
    client, headers = client_for(world, persona)
    for name, (kind, path) in ENDPOINTS.items():
        if path is None or kind == "graphql":
            continue
        if name in FINANCE_ENDPOINTS and persona in FINANCE_INSIDERS and path.startswith("/api/"):
            continue
        where = f"{persona} GET {path}"
        # Tokens authenticate the API only: for pages a token holder is anonymous.
        anonymous = persona == "anonymous" or (
            persona.endswith("_token") and not path.startswith("/api/")
        )
        response = client.get(path, **headers)
        body = content_of(response)
        if kind == "detail":
            expected = {302, 401, 403} if anonymous else {404}
            assert response.status_code in expected, where
        elif kind == "list":
            assert response.status_code in ({302, 401, 403} if anonymous else {200}), where
        elif kind == "member_page":
            allowed = {302} if anonymous else {404} if persona == "unassigned_staff" else {200}
            assert response.status_code in allowed, where
        elif kind == "tenant_admin":
            allowed = {200} if persona == "other_tenant_admin" else {404}
            if anonymous or persona.endswith("_token"):
                allowed = {302}
            assert response.status_code in allowed, where
        elif kind == "operator":
            allowed = {200} if persona == "unassigned_staff" else {404}
            if anonymous or persona.endswith("_token"):
                allowed = {302}
            assert response.status_code in allowed, where
        elif kind == "operator_api":
            # The API never redirects to the sign-in page: 401 without credentials, 403
            # for a partner token, 404 for a signed-in user who is not an operator.
            allowed = {200} if persona == "unassigned_staff" else {404}
            if anonymous:
                allowed = {401}
            elif persona.endswith("_token"):
                allowed = {403}
            assert response.status_code in allowed, where
        elif kind == "webhook_admin":
            allowed = {200} if persona == "other_tenant_admin" else {401, 403}
            assert response.status_code in allowed, where
        elif kind == "settings_home":
            allowed = {302} if anonymous or persona != "unassigned_staff" else {404}
            if persona.endswith("_token"):
                allowed = {302}
            assert response.status_code in allowed, where
        elif kind == "platform_admin":
            allowed = {302} if anonymous or persona.endswith("_token") else {404}
            assert response.status_code in allowed, where
        elif kind == "intake":
            response = client.post(path, data="{}", content_type="application/json", **headers)
            assert response.status_code == 401, where
            body = response.content
        assert response.status_code != 500, where
        assert_no_markers(body, where, echoed=path.partition("?q=")[2])


SIGNED_IN_PERSONAS = [p for p in PERSONAS if p != "anonymous" and not p.endswith("_token")]


@pytest.mark.parametrize("persona", SIGNED_IN_PERSONAS)
def test_search_finds_nothing_of_another_tenant_by_any_reference(world, persona):
    client, _ = client_for(world, persona)
    for query in SEARCHES:
        response = client.get("/search/", {"q": query})
        assert response.status_code == 200
        assert_no_markers(response.content, f"{persona} search {query}", echoed=query)


@pytest.mark.parametrize("persona", PERSONAS)
def test_graphql_answers_null_or_empty(world, persona):
    client, headers = client_for(world, persona)
    for field, (query, expected) in GRAPHQL_FIELDS.items():
        if field in FINANCE_GRAPHQL_FIELDS and persona in FINANCE_INSIDERS:
            continue
        response = client.post(
            "/graphql",
            data=json.dumps({"query": query}),
            content_type="application/json",
            **headers,
        )
        where = f"{persona} graphql {field}"
        # Anonymous: 401 problem+json, no data (not 200 with empty data).
        assert response.status_code == (401 if persona == "anonymous" else 200), where
        if response.status_code == 200:
            assert response.json()["data"] == expected, where
        assert_no_markers(response.content, where)


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_django_admin_is_closed_to_every_persona(world, persona):
    client, headers = client_for(world, persona)

    response = client.get("/admin/visibility/shipment/", **headers)

    assert response.status_code == 302 and "/admin/login/" in response["Location"]


# Members and invitations


@pytest.mark.parametrize("persona", PERSONAS)
def test_member_pages_are_closed_to_outsiders(world, persona):
    """Brenner's member page answers 404 to every outsider (302 to sign in for anonymous and
    token holders) and ignores their changes; an invitation link nobody holds is 404."""
    client, headers = client_for(world, persona)
    anonymous = persona == "anonymous" or persona.endswith("_token")
    member = Membership.objects.get(user=world["limited_member"])
    path = f"/settings/members/{member.id}/"

    shown = client.get(path, **headers)
    changed = client.post(path, {"role": "tenant_admin", "all_accounts": "on"}, **headers)
    deactivated = client.post(path, {"active": "0"}, **headers)
    invitation = client.get("/invitations/inv_guessed-token/", **headers)

    expected = {302} if anonymous else {404}
    for response in (shown, changed, deactivated):
        assert response.status_code in expected, f"{persona} {path}"
        assert_no_markers(response.content, f"{persona} {path}")
    member.refresh_from_db()
    assert (member.role, member.all_accounts, member.user.is_active) == ("member", False, True)
    assert invitation.status_code == 404
    assert_no_markers(invitation.content, f"{persona} invitation")


# The finance grant is its own grant
FINANCE_MARKERS = ["INV-2026-004512", "CHG-778120-1", "612.40", "18950.00"]


@pytest.fixture
def finance_outsiders(delivered_story, brenner):
    """Brenner insiders who may see shipments but not invoices and freight charges."""
    return {
        "member_without_finance": user_create(username="b-ops", password=PASSWORD, tenant=brenner),
        "token_without_invoices_scope": api_token_create(
            tenant=brenner, name="ops", scopes=["shipments", "documents"]
        )[1],
    }


@pytest.mark.parametrize("persona", ["member_without_finance", "token_without_invoices_scope"])
def test_invoices_and_charges_need_the_finance_grant(finance_outsiders, persona):
    client, headers = client_for(finance_outsiders, persona)
    api = persona.endswith("_token") or persona.startswith("token_")
    prefix = "/api/v1" if api else ""
    slash = "" if api else "/"

    shipment = client.get(f"{prefix}/shipments/SHP-778120{slash}", **headers)
    listing = client.get(f"{prefix}/invoices{slash}", **headers)
    detail = client.get(f"{prefix}/invoices/INV-2026-004512{slash}", **headers)
    order = client.get(f"{prefix}/orders/SO-100045{slash}", **headers)
    graphql = client.post(
        "/graphql",
        content_type="application/json",
        **headers,
        data={
            "query": '{ invoice(invoiceNumber: "INV-2026-004512") { invoiceNumber } '
            "invoices { edges { node { invoiceNumber } } } "
            'shipment(shipmentId: "SHP-778120") { shipmentId freightCharges { amount } } }'
        },
    )

    assert shipment.status_code == 200  # an insider for shipments...
    assert order.status_code == 200
    assert listing.status_code == 200 and detail.status_code == 404  # ...not for money
    for response in (shipment, listing, order, graphql):
        leaked = [m for m in FINANCE_MARKERS if m in response.content.decode()]
        assert not leaked, f"{persona} {response.request['PATH_INFO']} leaked {leaked}"
    assert graphql.json()["data"] == {
        "invoice": None,
        "invoices": {"edges": []},
        "shipment": {"shipmentId": "SHP-778120", "freightCharges": []},
    }
