"""The API against its committed OpenAPI document (schemathesis): generated requests to
every operation, with a partner token and with a bad one, never answer 5xx and every
answer conforms to the document (status code, content type, headers, body schema).

Bounded for `make test` (`API_FUZZ_EXAMPLES`, default 15 per operation and credential,
derandomized, in-process WSGI); `make bench-api-fuzz` runs more examples.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis import checks

from tests.factories import ApiTokenFactory, SourceFactory

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "15"))


def load_schema():
    """The committed document against Django's WSGI handler, in process (portal.wsgi also
    tunes the garbage collector for a server process: not for a test run). One per test
    function: schemathesis replays a 401 with the last credential that worked, which must
    not carry a valid token into the bad-token run."""
    loaded = schemathesis.openapi.from_path(ROOT / "docs" / "openapi.yaml")
    loaded.app = get_wsgi_application()
    return loaded


schema = load_schema()
schema_with_bad_token = load_schema()

FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def connection_kept_open(db):
    """The WSGI handler closes the database connection after each request, and the test's
    transaction lives on it: the signal is disconnected while the fuzzer runs, as Django's
    test client does around each of its requests (so only after any data is sent)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def credentials(db, delivered_story, brenner, settings):
    """A partner token with every scope over the story's data, and the intake's token."""
    settings.API_TOKEN_RATE = "1000000/min"
    partner = ApiTokenFactory(tenant=brenner, scopes=["shipments", "documents", "invoices"])
    return {
        "partner": f"Bearer {partner.secret}",
        "source": f"Bearer {SourceFactory(key='fuzz', role='tms').secret}",
    }


# What the document promises: no 5xx, and each answer's status, content type, headers and
# body as documented. (Rejecting schema-violating input is checked by the contract tests of
# each filter: DRF's cursor paginator, for one, ignores a bad `page_size`.)
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.unsupported_method,  # an undocumented method is a 405 problem
    checks.ignored_auth,  # without the credential the same request is refused
]


def call(case, authorization: str):
    """The case with this credential (as the explicit auth, which `ignored_auth` knows to
    take away), uncompressed (the in-process transport does not decode zstd, br or gzip)."""
    return case.call_and_validate(
        headers={"Authorization": authorization, "Accept-Encoding": "identity"}, checks=CHECKS
    )


@pytest.mark.django_db
@schema.parametrize()
@FUZZ
def test_the_api_answers_as_documented_with_a_valid_token(case, credentials, connection_kept_open):
    is_intake = case.path == "/api/v1/events"
    call(case, credentials["source" if is_intake else "partner"])


@pytest.mark.django_db
@schema_with_bad_token.parametrize()
@FUZZ
def test_the_api_answers_as_documented_with_a_bad_token(case, connection_kept_open):
    response = call(case, "Bearer svp_not-a-real-token")

    # What no route can use is refused before authentication (portal.middleware): a control
    # character in the path is a 404, a NUL in the query string a 400.
    assert response.status_code in (400, 401, 404, 405), (
        response.status_code,
        response.request.url,
    )
    if response.status_code == 400:
        assert "%00" in response.request.url
    assert response.headers["content-type"] == ["application/problem+json"]
