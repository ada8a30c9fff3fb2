"""Every portal page per persona at the demo's size (`make bench-pages`): page weight,
server time and axe, for docs/BENCHMARKS.md and issue #18's closing note.

The bench database (bench/harness.py, re-created each run) gets `manage.py load_demo`
(twelve weeks of demo events through the real intake), collectstatic as in production,
and is served by gunicorn with gunicorn.conf.py on loopback (DEBUG off). For each demo
persona, each page it can open is then:

- loaded once in Chromium at 1366 px: its weight is the HTML plus every stylesheet and
  script it uses, uncompressed (the goal is 150 KB; charts are inline SVG in the HTML, so
  the dashboard's and integration health's weight includes their chart data); axe-core's
  serious and critical violations are counted (rules, not nodes); then the page is
  resized to 390 px and its width checked (no page-level horizontal scroll);
- requested PAGES_ROUNDS (20) more times, one at a time, with the persona's session
  (httpx, no browser): p50 and p95 of the time from sending the request to the last
  byte of the answer, on loopback, i.e. the server's time plus well under a millisecond.

Sessions are made the way bench/reads.py makes them (staff and platform admins with a
confirmed second factor in the session, as tests.helpers.sign_in_verified does), so the
sign-in form is measured as the anonymous page it is, not used.

    BENCH_DATABASE=portal_bench_pages BENCH_REDIS_DB=15 make bench-pages

The table goes to stdout (Markdown) and to .local/bench/pages-<stamp>.md; the run fails
when a page answers an unexpected status, is over the weight goal, overflows at 390 px
or has a serious or critical axe violation.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from bench import harness
from bench.client import percentile
from bench.load import start_gunicorn

ROUNDS = int(os.environ.get("PAGES_ROUNDS", "20"))
WEIGHT_GOAL = 150 * 1024
WIDE, NARROW = 1366, 390
SERIOUS = {"serious", "critical"}


def chromium() -> str | None:
    """Debian's chromium when present (as tests/browser/conftest.py), else Playwright's."""
    return (
        os.environ.get("PLAYWRIGHT_CHROMIUM_EXECUTABLE")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


@dataclass
class Measured:
    persona: str
    path: str
    status: int
    html_bytes: int
    asset_bytes: int
    axe_serious: int
    overflow_px: int
    p50_ms: float = 0.0
    p95_ms: float = 0.0

    @property
    def total_bytes(self) -> int:
        return self.html_bytes + self.asset_bytes


def sessions_and_pages() -> dict[str, tuple[str | None, list[str]]]:
    """Per persona: its session key (None: anonymous) and the pages it opens, with ids
    taken from the demo data. Runs in this process against the bench database."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_static.models import StaticDevice

    from accounts.models import Membership, Tenant
    from integration.models import InboxEvent, InboxState
    from visibility.models import Invoice, Order, Shipment, ShipmentException

    def session_of(username: str) -> str:
        user = User.objects.get(username=username)
        session = import_module(settings.SESSION_ENGINE).SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        device, _ = StaticDevice.objects.get_or_create(
            user=user, name="bench", defaults={"confirmed": True}
        )
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
        return str(session.session_key)

    brenner = Tenant.objects.get(slug="brenner")
    exception = ShipmentException.objects.exclude(status="resolved").order_by("id").first()
    dead = InboxEvent.objects.filter(state=InboxState.DEAD).order_by("id").first()
    buyer = Membership.objects.get(user__username="brenner-buyer")

    def member_pages(**mine: Any) -> list[str]:
        """A member's pages, with a (late, if any) shipment and an order of `mine`."""
        shipments = Shipment.objects.filter(**mine).order_by("shipment_id")
        shipment = shipments.filter(delayed=True).first() or shipments.first()
        assert shipment is not None, f"the demo has no shipment of {mine}"
        order = Order.objects.filter(**mine).order_by("order_number").first()
        return [
            "/",
            "/shipments/",
            "/shipments/?flag=late",
            f"/shipments/{shipment.shipment_id}/",
            "/orders/",
            *([f"/orders/{order.order_number}/"] if order else []),
            "/invoices/",
            "/search/?q=SHP",
            "/profile/",
            "/settings/notifications/",
        ]

    invoice = Invoice.objects.filter(customer_account__tenant=brenner).order_by("id").first()
    return {
        "anonymous": (None, ["/login/", "/password-reset/", "/no/such/page/"]),
        "customer (finance)": (
            session_of("customer"),
            [
                *member_pages(customer_account__tenant=brenner),
                *([f"/invoices/{invoice.invoice_number}/"] if invoice else []),
            ],
        ),
        "customer, one account, no finance": (
            session_of("brenner-buyer"),
            member_pages(customer_account__number="C-1002"),
        ),
        "tenant admin": (
            session_of("brenner-admin"),
            [
                "/settings/members/",
                f"/settings/members/{buyer.id}/",
                "/settings/tokens/",
                "/settings/webhooks/",
                "/settings/audit/",
            ],
        ),
        "CS agent": (
            session_of("cs-agent"),
            [
                "/console/",
                f"/console/tenants/{brenner.id}/",
                "/exceptions/",
                *([f"/exceptions/{exception.id}/"] if exception else []),
                "/search/?q=SHP",
                "/shipments/",
            ],
        ),
        "platform admin": (
            session_of("platform-admin"),
            [
                "/operations/integration/",
                "/platform/dead-letters/",
                *([f"/platform/dead-letters/{dead.pk}/"] if dead else []),
                "/platform/held/",
                "/platform/tenants/",
                "/platform/sources/",
            ],
        ),
    }


def weigh_and_check(page: Any, axe: Any, url: str, assets: dict[str, int]) -> tuple:
    """(status, HTML bytes, CSS+JS bytes, axe serious/critical rules, overflow at 390 px).
    The browser caches stylesheets and scripts after the first page: their sizes are
    remembered by URL and counted for every page that uses them."""
    html: list[int] = []

    def record(response: Any) -> None:
        kind = response.request.resource_type
        if kind == "document":
            html.append(len(response.body()))
        elif kind in {"stylesheet", "script"}:
            assets[response.url] = len(response.body())

    page.set_viewport_size({"width": WIDE, "height": 900})
    page.on("response", record)
    response = page.goto(url, wait_until="networkidle")
    page.remove_listener("response", record)
    used = page.evaluate(
        "[...document.querySelectorAll('link[rel=stylesheet], script[src]')]"
        ".map(e => e.href || e.src)"
    )
    found = axe.run(page).response["violations"]
    serious = sum(1 for violation in found if violation.get("impact") in SERIOUS)
    page.set_viewport_size({"width": NARROW, "height": 844})
    overflow = max(0, page.evaluate("document.documentElement.scrollWidth") - NARROW)
    return (
        response.status if response else 0,
        sum(html),
        sum(assets.get(address, 0) for address in used),
        serious,
        overflow,
    )


def time_loads(base_url: str, session: str | None, path: str) -> tuple[float, float]:
    cookies = {"sessionid": session} if session else {}
    times: list[float] = []
    with httpx.Client(base_url=base_url, cookies=cookies, timeout=30) as client:
        client.get(path)  # warm: connections, the worker's first import of a template
        for _ in range(ROUNDS):
            started = time.perf_counter()
            client.get(path).read()
            times.append(time.perf_counter() - started)
    return percentile(times, 0.50) * 1000, percentile(times, 0.95) * 1000


def table(rows: list[Measured]) -> str:
    lines = [
        "| persona | page | status | HTML KB | CSS+JS KB | total KB | p50 ms | p95 ms "
        "| axe serious+critical | 390 px overflow |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.persona} | `{row.path}` | {row.status} | {row.html_bytes / 1024:.1f} "
            f"| {row.asset_bytes / 1024:.1f} | {row.total_bytes / 1024:.1f} "
            f"| {row.p50_ms:.0f} | {row.p95_ms:.0f} | {row.axe_serious} "
            f"| {row.overflow_px or 'none'} |"
        )
    return "\n".join(lines)


def main() -> int:
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import sync_playwright

    stamp = datetime.now(UTC)
    directory = harness.ROOT / ".local" / "bench"
    directory.mkdir(parents=True, exist_ok=True)
    servers = harness.servers_start()
    log(f"servers: {servers.described}; database {harness.BENCH_DATABASE}")
    port = harness.free_port()
    web = None
    rows: list[Measured] = []
    try:
        harness.database_recreate(servers)
        harness.manage(servers, "migrate", "--noinput")
        started = time.monotonic()
        log(harness.manage(servers, "load_demo").splitlines()[0])
        load_seconds = time.monotonic() - started
        harness.manage(servers, "collectstatic", "--noinput", "--verbosity", "0")
        os.environ.update(servers.environment(DJANGO_SETTINGS_MODULE="portal.settings"))
        import django

        django.setup()
        personas = sessions_and_pages()
        web = start_gunicorn(
            servers,
            port,
            directory / "pages-web.log",
            STATIC_MANIFEST="1",
            SESSION_COOKIE_SECURE="0",  # plain HTTP on loopback, as `make demo` runs
            CSRF_COOKIE_SECURE="0",
        )
        base_url = f"http://127.0.0.1:{port}"
        load_before = os.getloadavg()
        log(f"gunicorn on {base_url}; load average {load_before[0]:.2f}")
        axe = Axe()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium(), headless=True, args=["--no-sandbox"]
            )
            for persona, (session, paths) in personas.items():
                context = browser.new_context(timezone_id="Europe/Berlin")
                if session:
                    context.add_cookies([{"name": "sessionid", "value": session, "url": base_url}])
                page = context.new_page()
                assets: dict[str, int] = {}
                for path in paths:
                    status, html, scripts, serious, overflow = weigh_and_check(
                        page, axe, base_url + path, assets
                    )
                    p50, p95 = time_loads(base_url, session, path)
                    rows.append(
                        Measured(persona, path, status, html, scripts, serious, overflow, p50, p95)
                    )
                    log(
                        f"{persona} {path}: {status}, {(html + scripts) / 1024:.0f} KB, "
                        f"p95 {p95:.0f} ms, axe {serious}"
                    )
                context.close()
            browser.close()
        load_after = os.getloadavg()
    finally:
        if web is not None:
            harness.stop(web)
        servers.close()

    report = "\n".join(
        [
            f"Recorded {stamp:%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPUs; load average "
            f"{' '.join(f'{value:.2f}' for value in load_before)} at start, "
            f"{' '.join(f'{value:.2f}' for value in load_after)} at the end (the machine is "
            f"shared). Demo data loaded in {load_seconds:.0f} s; gunicorn "
            f"gthread (gunicorn.conf.py, DEBUG off, collectstatic); {ROUNDS} loads per page "
            f"after one warm-up. Command: `BENCH_DATABASE={harness.BENCH_DATABASE} "
            f"PAGES_ROUNDS={ROUNDS} make bench-pages`.",
            "",
            table(rows),
        ]
    )
    path = directory / f"pages-{stamp:%Y%m%dT%H%M%SZ}.md"
    path.write_text(report + "\n")
    print(report)
    log(f"written to {path}")
    expected = {"/no/such/page/": 404}
    failed = [
        row
        for row in rows
        if row.status != expected.get(row.path, 200)
        or row.total_bytes > WEIGHT_GOAL
        or row.axe_serious
        or row.overflow_px
    ]
    for row in failed:
        log(f"FAILED {row.persona} {row.path}: {row}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
