"""GraphiQL in a real browser: a signed-in customer runs a query with nothing loaded from
anywhere but the portal itself."""

from __future__ import annotations

import pytest

from tests.factories import PASSWORD
from tests.helpers import send_story

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

QUERY = "{ shipments(first: 5) { edges { node { shipmentId status } } } }"


@pytest.fixture
def shipped(client, brenner, source_tokens, story, customer_user):
    send_story(client, source_tokens, story)


def test_a_signed_in_customer_runs_a_query_in_graphiql(page, live_server, shipped):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("customer")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Shipments").wait_for()  # signed in: the menu shows

    page.goto(f"{live_server.url}/graphql")
    editor = page.locator(".graphiql-query-editor .CodeMirror")
    editor.wait_for()
    page.evaluate(
        "query => document.querySelector('.graphiql-query-editor .CodeMirror')"
        ".CodeMirror.setValue(query)",
        QUERY,
    )
    page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()

    response = page.locator(".graphiql-response")
    response.get_by_text("SHP-778120").wait_for()
    assert '"status": "delivered"' in response.inner_text()
    outside = [url for url in requested if not url.startswith(live_server.url)]
    assert outside == []
