"""The client's address behind a trusted proxy, and sign-in throttling by it: one guesser
behind the proxy does not lock everyone else out, and a forged header changes nothing."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client, RequestFactory

from accounts.addresses import client_address
from tests.factories import PASSWORD

PROXY = "10.1.0.5"


@pytest.fixture(autouse=True)
def clean_counters():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def behind_proxy(settings):
    settings.TRUSTED_PROXY_IPS = ["10.1.0.0/24", "fd00::/8"]


def address_of(remote: str, forwarded: str | None = None) -> str | None:
    headers = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_address(RequestFactory().get("/", **headers))


def test_without_trusted_proxies_the_header_is_ignored():
    assert address_of("203.0.113.7", "198.51.100.1") == "203.0.113.7"


@pytest.mark.usefixtures("behind_proxy")
@pytest.mark.parametrize(
    ("remote", "forwarded", "client"),
    [
        (PROXY, "198.51.100.1", "198.51.100.1"),
        # the client forged a first hop: the rightmost untrusted hop is what our proxy saw
        (PROXY, "1.2.3.4, 198.51.100.1", "198.51.100.1"),
        # two of our proxies in a row
        (PROXY, "198.51.100.1, 10.1.0.9", "198.51.100.1"),
        (PROXY, "2001:db8::1, fd00::2", "2001:db8::1"),
        # a peer that is not our proxy cannot name its address
        ("203.0.113.7", "198.51.100.1", "203.0.113.7"),
        (PROXY, None, PROXY),
        (PROXY, "", PROXY),
        (PROXY, "not-an-address", PROXY),
        (PROXY, "10.1.0.8", "10.1.0.8"),
    ],
)
def test_the_rightmost_untrusted_hop_is_the_client(remote, forwarded, client):
    assert address_of(remote, forwarded) == client


def sign_in(client: Client, username: str, password: str, *, remote: str, forwarded: str):
    return client.post(
        "/login/",
        {"username": username, "password": password},
        REMOTE_ADDR=remote,
        HTTP_X_FORWARDED_FOR=forwarded,
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("behind_proxy")
def test_a_guesser_behind_the_proxy_does_not_lock_out_everyone(customer_user, tenant_admin):
    for attempt in range(6):
        sign_in(Client(), f"someone-{attempt}", "x", remote=PROXY, forwarded="198.51.100.66")

    blocked = sign_in(Client(), "boss", PASSWORD, remote=PROXY, forwarded="198.51.100.66")
    assert "Too many failed sign-ins" in blocked.content.decode()

    colleague = sign_in(Client(), "customer", PASSWORD, remote=PROXY, forwarded="198.51.100.7")
    assert colleague.status_code == 302


@pytest.mark.django_db
def test_a_forged_header_from_an_untrusted_peer_does_not_dodge_the_limit(customer_user):
    for attempt in range(6):
        sign_in(
            Client(), f"someone-{attempt}", "x", remote="203.0.113.9", forwarded=f"1.1.1.{attempt}"
        )

    answer = sign_in(Client(), "customer", PASSWORD, remote="203.0.113.9", forwarded="1.1.1.99")

    assert "Too many failed sign-ins" in answer.content.decode()


@pytest.mark.django_db
def test_failures_read_the_same_for_a_known_and_an_unknown_username(customer_user):
    def error_of(username: str) -> str:
        page = sign_in(Client(), username, "wrong", remote="203.0.113.1", forwarded="")
        assert page.status_code == 200
        return page.context["form"].non_field_errors().as_text()

    assert error_of("customer").replace("customer", "X") == error_of("nobody").replace(
        "nobody", "X"
    )

    for _ in range(5):
        sign_in(Client(), "customer", "wrong", remote="203.0.113.2", forwarded="")
        sign_in(Client(), "nobody", "wrong", remote="203.0.113.3", forwarded="")
    known = sign_in(Client(), "customer", "wrong", remote="203.0.113.4", forwarded="")
    unknown = sign_in(Client(), "nobody", "wrong", remote="203.0.113.5", forwarded="")
    assert (
        known.context["form"].non_field_errors().as_text()
        == unknown.context["form"].non_field_errors().as_text()
    )
