"""Every page the portal offers, as each persona who can open it, in a real Chromium at
1366 px and 390 px: 0 serious or critical axe violations and no page-level horizontal
scroll at 390 px (issue #18, "axe on every page").

The pages come from the URL configuration: each named URL is either visited below (by
the personas who can open it, with the status a person would get) or excluded in
NOT_PAGES with the reason. A named URL added to portal/urls.py without a visit fails
`test_every_page_of_every_persona_passes_axe_and_fits_390_px` with its name.

One browser context per persona (the page is resized, not reloaded, for the second
width), on a small dataset: the contract's order-to-cash story, a late shipment with an
open exception, a second tenant, a dead letter, a webhook, a token and an invitation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import Membership
from accounts.services import api_token_create, user_create
from accounts.services.members import invitation_create
from integration.models import InboxEvent, InboxState
from tests.browser.axe import serious_violations
from tests.factories import PASSWORD, ShipmentFactory, account
from tests.helpers import browser_sign_in, send_story
from visibility.models import Milestone, ShipmentException, Webhook
from visibility.services.saved_views import saved_view_save

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDE, NARROW = 1366, 390

# Named URLs that are not pages a person opens, with the reason. Everything under
# /api/v1/ is the JSON API (problem+json on errors) and needs no entry here.
NOT_PAGES = {
    "logout": "POST-only sign-out",
    "profile-time-zone": "POST-only: the browser's zone, sent by a script on first sign-in",
    "saved-view-create": "POST-only form action of the shipment list",
    "saved-view-delete": "POST-only form action of the shipment list",
    "document-download": "a file download (PDF), not a page",
    "shipment-export": "a CSV download, not a page",
    "healthz": "a load balancer's probe (text)",
    "metrics": "the Prometheus scrape (text)",
    "api-not-found": "problem+json 404 for unknown /api/ paths",
    "graphql": "GraphiQL is a vendored tool for developers (tests/browser/test_graphiql.py)",
    "api-docs": "Swagger UI, a vendored tool for developers",
    "api-redoc": "Redoc, a vendored tool for developers",
    "api-problem-type": "redirects to Redoc's Errors section",
}

# The error pages are reached through no name of their own.
ERROR_PAGES = {"error-403", "error-404", "error-500"}


def page_names(patterns: Iterable[Any] | None = None, prefix: str = "") -> set[str]:
    """Every named URL outside the Django admin and the JSON API (/api/v1/)."""
    names: set[str] = set()
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if pattern.namespace != "admin":  # Django's own admin, for raw data
                names |= page_names(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and pattern.name and not route.startswith("api/v1/"):
            names.add(pattern.name)
    return names


def url_name(address: str) -> str:
    return resolve(urlsplit(address).path).url_name or address


@dataclass
class Walk:
    """Visits pages with one browser context per persona and collects every problem."""

    base_url: str
    visited: set[str] = field(default_factory=set)
    problems: dict[str, list[str]] = field(default_factory=dict)

    def check(self, page: Any, persona: str, name: str) -> None:
        """axe at 1366 px, then the same page resized to 390 px: axe and overflow."""
        self.visited.add(name)
        where = f"{persona} {urlsplit(page.url).path}{'?' if urlsplit(page.url).query else ''}"
        where += urlsplit(page.url).query
        found = [f"{WIDE} px: {problem}" for problem in serious_violations(page)]
        page.set_viewport_size({"width": NARROW, "height": 844})
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > NARROW:
            found.append(f"{NARROW} px: the page is {width} px wide (horizontal scroll)")
        found += [f"{NARROW} px: {problem}" for problem in serious_violations(page)]
        page.set_viewport_size({"width": WIDE, "height": 900})
        if found:
            self.problems[where] = found

    def visit(self, page: Any, persona: str, path: str, status: int = 200, name: str = "") -> None:
        response = page.goto(f"{self.base_url}{path}")
        if response is None or response.status != status:
            got = response.status if response is not None else "no response"
            self.problems[f"{persona} {path}"] = [f"answered {got}, expected {status}"]
            return
        self.check(page, persona, name or url_name(path))

    def sign_in(self, page: Any, persona: str, username: str) -> None:
        """Through the sign-in page, checking it and the second-factor page on the way."""
        browser_sign_in(
            page,
            self.base_url,
            username,
            PASSWORD,
            on_page=lambda current: self.check(current, persona, url_name(current.url)),
        )
        assert "/login/" not in page.url, f"{username} could not sign in"


@dataclass
class World:
    late_exception_id: int
    member_id: int
    brenner_id: int
    dead_letter_id: int
    invitation_token: str
    reset_path: str


@pytest.fixture
def world(
    client, brenner, nordwind, source_tokens, story, customer_user, tenant_admin, cs_staff
) -> World:
    send_story(client, source_tokens, story)
    now = timezone.now()
    late = ShipmentFactory(
        shipment_id="SHP-LATE-EVERY",
        customer_account=account("C-1001"),
        planned_pickup_at=now - dt.timedelta(days=3),
        planned_delivery_at=now - dt.timedelta(days=1),
        milestones=[Milestone.PICKED_UP, Milestone.IN_TRANSIT],
        delayed_by=dt.timedelta(days=2),
    )
    ShipmentFactory(shipment_id="SHP-NORDWIND-EVERY", customer_account=account("C-2001"))
    user_create(username="finance", password=PASSWORD, tenant=brenner, finance=True)
    user_create(username="root", password=PASSWORD, platform_admin=True)
    saved_view_save(
        owner=customer_user,
        tenant_id=brenner.id,
        name="Late ones",
        query_string="flag=late",
        shared=True,
        make_default=False,
    )
    Webhook.objects.create(
        tenant=brenner,
        url="https://hooks.example/brenner",
        secret="s",
        event_types=["shipment.delivered"],
    )
    api_token_create(tenant=brenner, name="Brenner ERP", scopes=["shipments"])
    _, invitation_token = invitation_create(
        tenant=brenner, email="new.colleague@brenner.example", invited_by=tenant_admin
    )
    dead = InboxEvent.objects.get(event_id="tms-demo-0003")
    InboxEvent.objects.filter(pk=dead.pk).update(
        state=InboxState.DEAD, attempts=5, last_error="ValueError: eta out of range"
    )
    uid = urlsafe_base64_encode(force_bytes(customer_user.pk))
    return World(
        late_exception_id=ShipmentException.objects.filter(shipment=late).first().id,
        member_id=Membership.objects.get(user=customer_user).id,
        brenner_id=brenner.id,
        dead_letter_id=dead.pk,
        invitation_token=invitation_token,
        reset_path=f"/password-reset/{uid}/{default_token_generator.make_token(customer_user)}/",
    )


def _server_error_page() -> bytes:
    """The 500 page exactly as handler500 renders it (no running page can be made to fail
    on purpose); it is served in place of a real path below."""
    from portal.error_views import server_error

    return server_error(RequestFactory().get("/shipments/")).content


def _walk_anonymous(browser: Any, walk: Walk, world: World) -> None:
    context = browser.new_context(viewport={"width": WIDE, "height": 900})
    page = context.new_page()
    try:
        for path in (
            "/login/",
            "/password-reset/",
            "/password-reset/sent/",
            world.reset_path,  # redirects to the form that sets the new password
            "/password-reset/complete/",
            f"/invitations/{world.invitation_token}/",
        ):
            walk.visit(page, "anonymous", path)
        walk.visit(page, "anonymous", "/no/such/page/", status=404, name="error-404")
        # A form sent without its CSRF cookie (cookies blocked): the branded 403.
        page.goto(f"{walk.base_url}/login/")
        context.clear_cookies()
        page.get_by_label("Username").fill("customer")
        page.get_by_label("Password").fill(PASSWORD)
        with page.expect_response(lambda response: response.request.method == "POST") as sent:
            page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state("load")
        if sent.value.status == 403:
            walk.check(page, "anonymous", "error-403")
        else:
            walk.problems["anonymous POST /login/ without CSRF cookie"] = [
                f"answered {sent.value.status}, expected the branded 403"
            ]
    finally:
        context.close()


def _walk_signed_in(
    browser: Any,
    walk: Walk,
    persona: str,
    username: str,
    paths: Iterable[str | tuple[str, int]],
    *,
    server_error: bool = False,
) -> None:
    """Sign in, then visit `paths` (a path, or (path, status) for an error page); with
    `server_error`, also the 500 page as handler500 renders it, in place of a real path."""
    context = browser.new_context(viewport={"width": WIDE, "height": 900}, timezone_id="UTC")
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        walk.sign_in(page, persona, username)
        for entry in paths:
            path, status = entry if isinstance(entry, tuple) else (entry, 200)
            walk.visit(page, persona, path, status, name="error-404" if status == 404 else "")
        if server_error:
            page.route(
                f"{walk.base_url}/shipments/?fails=1",
                lambda route: route.fulfill(
                    status=500, content_type="text/html", body=_server_error_page()
                ),
            )
            walk.visit(page, persona, "/shipments/?fails=1", status=500, name="error-500")
    finally:
        context.close()


def test_every_page_of_every_persona_passes_axe_and_fits_390_px(browser, live_server, world):
    walk = Walk(base_url=live_server.url)
    _walk_anonymous(browser, walk, world)
    member_pages = [
        "/",
        "/shipments/",
        "/shipments/?flag=late&more=1&sort=-eta",
        "/shipments/?q=NOTHING-MATCHES",  # the empty state
        "/shipments/SHP-778120/",
        "/shipments/SHP-LATE-EVERY/",
        "/orders/",
        "/orders/SO-100045/",
        "/invoices/",
        "/search/?q=SHP",
        "/profile/",
        "/settings/",
        "/settings/notifications/",
        "/account/second-factor/",
        ("/no/such/page/", 404),
    ]
    _walk_signed_in(browser, walk, "customer", "customer", member_pages, server_error=True)
    _walk_signed_in(
        browser,
        walk,
        "finance",
        "finance",
        ["/invoices/", "/invoices/INV-2026-004512/", "/shipments/SHP-778120/"],
    )
    _walk_signed_in(
        browser,
        walk,
        "tenant admin",
        "boss",
        [
            "/",
            "/settings/",
            "/settings/members/",
            f"/settings/members/{world.member_id}/",
            "/settings/tokens/",
            "/settings/webhooks/",
            "/settings/notifications/",
            "/settings/audit/",
        ],
    )
    _walk_signed_in(
        browser,
        walk,
        "cs agent",
        "cs",
        [
            "/",
            "/console/",
            f"/console/tenants/{world.brenner_id}/",
            "/exceptions/",
            f"/exceptions/{world.late_exception_id}/",
            "/operations/integration/",
            "/search/?q=SHP",
            "/shipments/",
            "/account/second-factor/",
        ],
    )
    _walk_signed_in(
        browser,
        walk,
        "platform admin",
        "root",
        [
            "/platform/dead-letters/",
            f"/platform/dead-letters/{world.dead_letter_id}/",
            "/platform/held/",
            "/platform/tenants/",
            "/platform/sources/",
            "/operations/integration/",
        ],
    )

    report = "\n".join(
        f"  {where}:\n" + "\n".join(f"    - {problem}" for problem in found)
        for where, found in walk.problems.items()
    )
    assert not walk.problems, f"pages with problems:\n{report}"
    stale = set(NOT_PAGES) - page_names()
    assert not stale, f"NOT_PAGES names URLs that no longer exist: {sorted(stale)}"
    unvisited = (page_names() | ERROR_PAGES) - set(NOT_PAGES) - walk.visited
    assert not unvisited, (
        f"pages no persona visited: {sorted(unvisited)}; add a visit above, or the name to "
        "NOT_PAGES with the reason it is not a page"
    )
