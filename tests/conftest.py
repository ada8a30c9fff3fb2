"""Shared fixtures: the named tenants and every persona tests sign in as, source and partner
tokens, the contract's order-to-cash story. Data is built with tests/factories.py; helpers
that are not fixtures live in tests/helpers.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client
from django.test.utils import override_settings

from tests.factories import (
    ApiTokenFactory,
    MemberFactory,
    SourceFactory,
    StaffFactory,
    TenantAdminFactory,
    TenantFactory,
    UserFactory,
)
from tests.helpers import read_jsonl, send_story, sign_in_verified
from tests.processes import FAULT_FIGURES

_STARTED = pytest.StashKey[str]()


def pytest_configure(config) -> None:
    """Refuses pytest-xdist without tests/parallel_workers.py (its workers would share
    Redis databases and ports; `make test` loads it), and hashes passwords quickly."""
    workers = getattr(config.option, "numprocesses", None)
    if workers and not config.pluginmanager.has_plugin("tests.parallel_workers"):
        raise pytest.UsageError("run pytest -n N as `python -m pytest -p tests.parallel_workers`")
    # Django's PBKDF2 (1,000,000 iterations) costs about 0.3 s of CPU per hash, paid for
    # every user a test makes and every password checked: the tests sign in, they do not
    # measure the hash. The real hashers stay listed, to check hashes made by processes a
    # test starts (which hash as in production).
    from django.conf import settings

    fast = "django.contrib.auth.hashers.MD5PasswordHasher"
    override_settings(PASSWORD_HASHERS=[fast, *settings.PASSWORD_HASHERS]).enable()


def pytest_sessionstart(session) -> None:
    session.config.stash[_STARTED] = datetime.now(UTC).isoformat()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """The figures the fault tests of this run recorded (test-results/faults.json)."""
    started = config.stash.get(_STARTED, "")
    try:
        recorded = json.loads(FAULT_FIGURES.read_text())
    except (FileNotFoundError, ValueError):
        return
    figures = {test: f for test, f in recorded.items() if f["recorded_at"] >= started}
    if figures:
        terminalreporter.section("fault figures (test-results/faults.json)")
        for test, values in sorted(figures.items()):
            shown = ", ".join(f"{k}={v}" for k, v in values.items() if k != "recorded_at")
            terminalreporter.write_line(f"{test}: {shown}")


@pytest.fixture(autouse=True)
def default_status_codes(request):
    """Every database test starts with the default status codes (transactional tests flush
    tables, data-migration rows included, so seed them again) and the story's sources."""
    uses_database = request.node.get_closest_marker("django_db") or (
        {"db", "transactional_db"} & set(request.fixturenames)
    )
    if not uses_database:
        return
    from visibility.models import StatusCodeMapping
    from visibility.status_codes import seed_default_status_codes

    seed_default_status_codes(StatusCodeMapping)
    # The story's sources, as an operator registers them: intake rejects events from an
    # unregistered source (tests that post over HTTP get tokens from `source_tokens`).
    for key in ("erp", "tms", "carrier"):
        SourceFactory(key=key, role=key)


@pytest.fixture(autouse=True)
def fresh_counters():
    """Rate-limit and sign-in counters live in the cache's Redis and outlast a test (and a
    run: a new test database numbers its tokens from 1 again), so each test starts with
    none."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def contract_examples_are_not_in_the_future(settings):
    """The contract's story is paid on 2026-12-15, which may still be ahead of the clock:
    the clock-skew limit is tested on its own (tests/integration/test_intake_limits.py)."""
    settings.EVENTS_MAX_CLOCK_SKEW_HOURS = 24 * 365 * 20


@pytest.fixture
def story() -> list[dict[str, Any]]:
    """The contract's order-to-cash example: one order of C-1001, one shipment SHP-778120."""
    return read_jsonl("order-to-cash.jsonl")


# --- tenants ---------------------------------------------------------------------------------


@pytest.fixture
def brenner(db):
    return TenantFactory(slug="brenner", name="Brenner Tools", account_numbers=["C-1001", "C-1002"])


@pytest.fixture
def nordwind(db):
    return TenantFactory(slug="nordwind", name="Nordwind Retail", account_numbers=["C-2001"])


# --- personas --------------------------------------------------------------------------------


@pytest.fixture
def customer_user(brenner):
    """A Brenner member who sees every Brenner account, without finance."""
    return MemberFactory(username="customer", tenant=brenner)


@pytest.fixture
def limited_member(brenner):
    """A Brenner member granted one account, C-1002 (SHP-778120 is on C-1001)."""
    return MemberFactory(username="limited", tenant=brenner, account_numbers=["C-1002"])


@pytest.fixture
def tenant_admin(brenner):
    return TenantAdminFactory(username="boss", tenant=brenner)


@pytest.fixture
def other_tenant_user(nordwind):
    return MemberFactory(username="nordwind-user", tenant=nordwind)


@pytest.fixture
def cs_staff(db):
    """Customer-service staff serving every tenant."""
    return StaffFactory(username="cs")


@pytest.fixture
def admin_client(db, admin_user):
    """pytest-django's `admin_client`, past the second factor a superuser must pass
    (accounts/second_factor.py) the way tests sign staff in: `sign_in_verified`."""
    client = Client()
    sign_in_verified(client, admin_user)
    return client


@pytest.fixture
def platform_admin(db):
    return UserFactory(username="root", platform_admin=True)


# --- tokens ----------------------------------------------------------------------------------


@pytest.fixture
def source_tokens(db) -> dict[str, str]:
    """Intake tokens of the `erp` and `tms` sources, by source key."""
    return {key: SourceFactory(key=key, role=key).secret for key in ("erp", "tms")}


@pytest.fixture
def partner_token(brenner) -> str:
    return ApiTokenFactory(tenant=brenner, name="brenner ERP").secret


@pytest.fixture
def other_tenant_token(nordwind) -> str:
    return ApiTokenFactory(tenant=nordwind, name="nordwind WMS").secret


# --- data ------------------------------------------------------------------------------------


@pytest.fixture
def delivered_story(db, client, brenner, source_tokens, story) -> None:
    send_story(client, source_tokens, story)
