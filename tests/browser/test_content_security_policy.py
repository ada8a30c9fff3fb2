"""The main pages run under the strict Content-Security-Policy without a single violation:
Chromium reports none (no `securitypolicyviolation` event, no "Refused to ..." console
message) while each persona walks through their pages."""

from __future__ import annotations

import pytest

from tests.factories import PASSWORD
from tests.helpers import browser_sign_in, send_story

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Runs before any script of the page: CSP does not apply to scripts the browser's
# automation injects, so it records every violation the page's own content causes.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


@pytest.fixture
def shipped(client, brenner, source_tokens, story):
    send_story(client, source_tokens, story)


def visit_collecting_violations(page, live_server, username: str, paths: list[str]) -> list[str]:
    console_refusals: list[str] = []
    page.on(
        "console",
        lambda message: (
            console_refusals.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )
    page.add_init_script(RECORD_VIOLATIONS)
    browser_sign_in(page, live_server.url, username, PASSWORD)
    violations: list[str] = []
    for path in paths:
        response = page.goto(f"{live_server.url}{path}")
        assert response is not None and response.status == 200, path
        assert "/account/second-factor" not in page.url, f"{path}: asked for the second factor"
        assert "Content-Security-Policy" in {name.title() for name in response.headers}
        page.wait_for_load_state("load")
        violations += [f"{path}: {v}" for v in page.evaluate("window.__cspViolations")]
    return violations + console_refusals


def test_customer_pages_cause_no_violation(page, live_server, shipped, customer_user):
    paths = [
        "/shipments/",
        "/shipments/SHP-778120/",
        "/orders/",
        "/search/?q=SHP-778120",
        "/settings/notifications/",
    ]
    assert visit_collecting_violations(page, live_server, "customer", paths) == []


def test_tenant_admin_pages_cause_no_violation(page, live_server, shipped, tenant_admin):
    paths = ["/settings/members/", "/settings/tokens/", "/settings/webhooks/", "/settings/audit/"]
    assert visit_collecting_violations(page, live_server, "boss", paths) == []


def test_staff_and_admin_pages_cause_no_violation(
    page, live_server, shipped, cs_staff, platform_admin
):
    staff_paths = ["/operations/integration/", "/exceptions/", "/shipments/SHP-778120/"]
    assert visit_collecting_violations(page, live_server, "cs", staff_paths) == []
    page.context.clear_cookies()
    admin_paths = ["/admin/", "/admin/accounts/", "/admin/auth/user/"]
    assert visit_collecting_violations(page, live_server, "root", admin_paths) == []


def test_an_inline_script_or_style_would_be_reported(page, live_server, db):
    """The check above can fail: a page with the portal's policy and an inline script,
    style attribute and onclick handler is reported three times."""
    policy = page.request.get(f"{live_server.url}/login/").headers["content-security-policy"]
    page.route(
        f"{live_server.url}/probe",
        lambda route: route.fulfill(
            status=200,
            headers={"Content-Type": "text/html", "Content-Security-Policy": policy},
            body='<p style="color: red" onclick="alert(1)">x</p>'
            "<script>document.title = 1</script>",
        ),
    )
    page.add_init_script(RECORD_VIOLATIONS)
    page.goto(f"{live_server.url}/probe")
    page.click("p")
    violations = page.evaluate("window.__cspViolations")
    assert {violation.split(" ")[0] for violation in violations} >= {
        "script-src-elem",
        "style-src-attr",
        "script-src-attr",
    }
