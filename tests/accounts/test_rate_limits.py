"""Rate limits hold under concurrency: a token's budget against a real server hammered by
parallel clients, sign-in guessing by parallel clients, and the counter itself."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client

from accounts.models import AuditEntry
from accounts.rate_limits import window_add
from tests.factories import PASSWORD
from tests.processes import database_url_for_tests, free_port, start_web_server, stop

pytestmark = pytest.mark.django_db(transaction=True)

CLIENTS = 16


@pytest.fixture(autouse=True)
def clean_counters():
    cache.clear()  # the counters live in the cache's Redis database
    yield
    cache.clear()


def test_the_counter_counts_every_unit_once_whatever_runs_in_parallel():
    def add_many(_):
        return [window_add("test:parallel", window_seconds=60).count for _ in range(50)]

    with ThreadPoolExecutor(CLIENTS) as pool:
        seen = [count for counts in pool.map(add_many, range(CLIENTS)) for count in counts]

    assert sorted(seen) == list(range(1, CLIENTS * 50 + 1))  # no two callers saw one count


def get(url: str, token: str) -> tuple[int, str | None]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get("Retry-After")
    except urllib.error.HTTPError as answer:
        return answer.code, answer.headers.get("Retry-After")


@pytest.mark.fault
def test_parallel_clients_get_no_more_than_the_budget_from_a_real_server(partner_token):
    budget = 60
    port = free_port()
    web = start_web_server(
        port,
        database_url=database_url_for_tests(),
        redis_url=settings.REDIS_URL,
        API_TOKEN_RATE=f"{budget}/min",
    )
    url = f"http://127.0.0.1:{port}/api/v1/shipments"
    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            answers = list(pool.map(lambda _: get(url, partner_token), range(CLIENTS * 10)))
    finally:
        stop(web)

    statuses = Counter(status for status, _ in answers)
    # The window is one minute and this test takes seconds: no slack applies (docs/API.md).
    assert statuses == {200: budget, 429: CLIENTS * 10 - budget}
    waits = [int(retry_after) for status, retry_after in answers if status == 429]
    assert all(1 <= wait <= 60 for wait in waits)


def test_parallel_guesses_check_no_more_passwords_than_the_limit(customer_user):
    barrier = threading.Barrier(CLIENTS)

    def guess(attempt: int) -> str:
        try:
            barrier.wait()
            response = Client().post(
                "/login/",
                {"username": "customer", "password": f"guess-{attempt}"},
                REMOTE_ADDR=f"10.0.3.{attempt}",
            )
            return (
                "throttled"
                if "Too many failed sign-ins" in response.content.decode()
                else ("refused")
            )
        finally:
            connection.close()

    with ThreadPoolExecutor(CLIENTS) as pool:
        outcomes = Counter(pool.map(guess, range(CLIENTS)))

    assert outcomes == {"refused": 5, "throttled": CLIENTS - 5}
    assert AuditEntry.objects.filter(action="sign_in_failed").count() == 5
    assert AuditEntry.objects.filter(action="sign_in_throttled").count() == CLIENTS - 5


def test_a_successful_sign_in_gives_its_unit_back_to_the_address(customer_user):
    for _ in range(8):  # colleagues behind one address sign in all day
        answer = Client().post(
            "/login/", {"username": "customer", "password": PASSWORD}, REMOTE_ADDR="10.0.4.1"
        )
        assert answer.status_code == 302
