"""Reads through a real streaming replica: run by tests/portal/test_read_replicas.py in a
pytest process of its own, whose DATABASE_URL is a throw-away primary and whose
DATABASE_REPLICA_URLS is its streaming replica (bench/streaming_replica.py). Not a test_
module: collected only when that test names it.

The primary's database is used as it is (no test database: a replica cannot create one),
and rows are committed (the replica only sees committed rows), so every scenario makes
its own tenant. Which server answered is proven by data: with the replica's replay
paused, a row committed on the primary is seen only through the primary.
"""

from __future__ import annotations

import time
import uuid

import pytest
from django.db import connections, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from prometheus_client import REGISTRY

from accounts.models import Role
from accounts.services import api_token_create
from core.db_router import (
    PRIMARY,
    ReplicaRouter,
    forget_lag_readings,
    replica_is_healthy,
    replica_reads_for_request,
)
from tests.factories import CustomerAccountFactory, MemberFactory, ShipmentFactory, TenantFactory
from visibility.models import SavedView, Shipment

REPLICA = "replica_1"
# The outer test lists a second replica on a port where nothing listens.
DEAD_REPLICA = "replica_2"


@pytest.fixture(scope="session")
def django_db_setup():
    """The primary was given the app's schema by the outer test; nothing to create."""


@pytest.fixture
def live_databases(django_db_blocker, settings):
    settings.REPLICA_LAG_CHECK_SECONDS = 0  # every request reads the lag afresh
    settings.REPLICA_MAX_LAG_SECONDS = 600
    forget_lag_readings()
    with django_db_blocker.unblock():
        yield
        _replica_sql("SELECT pg_wal_replay_resume()")
        for alias in connections:
            connections[alias].close()


def _replica_sql(statement: str) -> object:
    with connections[REPLICA].cursor() as cursor:
        cursor.execute(statement)
        return cursor.fetchone()[0]


def pause_replay() -> None:
    _replica_sql("SELECT pg_wal_replay_pause()")
    deadline = time.monotonic() + 10
    while _replica_sql("SELECT pg_get_wal_replay_pause_state()") != "paused":
        assert time.monotonic() < deadline, "replay did not pause"
        time.sleep(0.02)


def resume_replay_and_catch_up() -> None:
    with connections[PRIMARY].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_insert_lsn()::text")
        target = cursor.fetchone()[0]
    _replica_sql("SELECT pg_wal_replay_resume()")
    deadline = time.monotonic() + 20
    while not _replica_sql(f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"):
        assert time.monotonic() < deadline, "the replica did not catch up"
        time.sleep(0.02)


def wait_until_received_but_not_replayed() -> None:
    deadline = time.monotonic() + 10
    while not _replica_sql("SELECT pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()"):
        assert time.monotonic() < deadline, "the replica received nothing"
        time.sleep(0.02)


@pytest.fixture
def tenant_with_members(live_databases):
    """A tenant of its own (rows are committed), two members and a partner token."""
    suffix = uuid.uuid4().hex[:8]
    tenant = TenantFactory(slug=f"replica-{suffix}", account_numbers=[])
    customer_account = CustomerAccountFactory(number=f"R-{suffix}", tenant=tenant)
    ShipmentFactory(shipment_id=f"SHP-R{suffix}-1", customer_account=customer_account)
    author = MemberFactory(username=f"author-{suffix}", tenant=tenant, role=Role.MEMBER)
    colleague = MemberFactory(username=f"colleague-{suffix}", tenant=tenant, role=Role.MEMBER)
    _, secret = api_token_create(tenant=tenant, name="replica", scopes=["shipments"])
    resume_replay_and_catch_up()
    return {
        "suffix": suffix,
        "account": customer_account,
        "author": author,
        "colleague": colleague,
        "token": secret,
    }


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def listed_ids(client: Client, **headers: str) -> set[str]:
    response = client.get("/api/v1/shipments", **headers)
    assert response.status_code == 200, response.content
    return {row["shipment_id"] for row in response.json()["results"]}


def test_pages_and_api_read_from_the_replica(tenant_with_members):
    data = tenant_with_members
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {data['token']}"}
    client = signed_in(data["colleague"])
    assert _replica_sql("SELECT pg_is_in_recovery()") is True

    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        # An exact match opens the shipment's page: search, then detail.
        page = client.get(f"/search/?q=SHP-R{data['suffix']}-1", follow=True)
    assert page.status_code == 200 and page.redirect_chain
    assert f"SHP-R{data['suffix']}-1" in page.content.decode()
    assert any("visibility_" in query["sql"] for query in on_replica.captured_queries)

    pause_replay()
    newer = ShipmentFactory(
        shipment_id=f"SHP-R{data['suffix']}-2", customer_account=data["account"]
    )
    wait_until_received_but_not_replayed()

    # Committed on the primary, not yet replayed: the API (session and token) does not
    # list it, so the replica answered; the primary has it.
    assert f"SHP-R{data['suffix']}-1" in listed_ids(client)
    assert newer.shipment_id not in listed_ids(client)
    assert newer.shipment_id not in listed_ids(Client(), **bearer)
    assert Shipment.objects.using(PRIMARY).filter(shipment_id=newer.shipment_id).exists()

    resume_replay_and_catch_up()
    assert newer.shipment_id in listed_ids(client)
    assert newer.shipment_id in listed_ids(Client(), **bearer)


def test_a_users_own_write_is_read_back_at_once_then_from_the_replica(
    tenant_with_members, settings
):
    data = tenant_with_members
    settings.REPLICA_PIN_SECONDS = 2  # shorter than the lag allowed here, to see it end
    author, colleague = signed_in(data["author"]), signed_in(data["colleague"])
    pause_replay()

    response = author.post(
        "/shipments/views/", {"name": "Late to Munich", "query_string": "late=1", "shared": "on"}
    )
    assert response.status_code == 302
    wait_until_received_but_not_replayed()

    def shows_view(client: Client) -> bool:
        """The view in the page's list of saved views (not in the "Saved the view"
        message the first page after the POST shows from the session)."""
        return ">Late to Munich</a>" in client.get("/shipments/?view=all").content.decode()

    # The author reads their own write (the primary); their colleague, reading the
    # replica that has not replayed it, does not see the shared view yet.
    assert shows_view(author)
    assert not shows_view(colleague)
    # Once the pin ends the author reads the (still paused) replica again: the pin,
    # not luck, is what showed them their view.
    time.sleep(settings.REPLICA_PIN_SECONDS + 0.5)
    assert not shows_view(author)

    resume_replay_and_catch_up()
    assert shows_view(author) and shows_view(colleague)
    assert SavedView.objects.filter(name="Late to Munich", owner=data["author"]).exists()


def test_a_partner_tokens_own_write_is_read_back_by_that_token(tenant_with_members):
    data = tenant_with_members
    tenant = data["account"].tenant
    _, writer = api_token_create(tenant=tenant, name="writer", scopes=["webhooks"])
    _, reader = api_token_create(tenant=tenant, name="reader", scopes=["webhooks"])
    resume_replay_and_catch_up()
    pause_replay()

    created = Client().post(
        "/api/v1/webhooks",
        {"url": "https://hooks.example.com/in", "event_types": ["shipment.delivered"]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {writer}",
    )
    assert created.status_code == 201, created.content
    wait_until_received_but_not_replayed()

    def webhook_ids(secret: str) -> list[int]:
        response = Client().get("/api/v1/webhooks", HTTP_AUTHORIZATION=f"Bearer {secret}")
        return [row["id"] for row in response.json()["results"]]

    assert webhook_ids(writer) == [created.json()["id"]]  # pinned: the primary
    assert webhook_ids(reader) == []  # the paused replica
    resume_replay_and_catch_up()
    assert webhook_ids(reader) == [created.json()["id"]]


def test_a_replica_further_behind_than_the_bound_is_skipped(tenant_with_members, settings):
    data = tenant_with_members
    settings.REPLICA_MAX_LAG_SECONDS = 1
    client = signed_in(data["colleague"])
    pause_replay()
    newer = ShipmentFactory(
        shipment_id=f"SHP-R{data['suffix']}-3", customer_account=data["account"]
    )
    wait_until_received_but_not_replayed()
    time.sleep(1.2)  # the last replayed commit is now more than a second old

    def lagging_reads() -> float:
        labels = {"database": PRIMARY, "reason": "lagging"}
        return REGISTRY.get_sample_value("portal_replica_reads_total", labels) or 0.0

    before = lagging_reads()
    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        assert newer.shipment_id in listed_ids(client)  # the primary answered
    assert not any("visibility_" in query["sql"] for query in on_replica.captured_queries)
    assert lagging_reads() == before + 1  # operators see it (docs/OPERATIONS.md, Metrics)

    resume_replay_and_catch_up()
    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        assert newer.shipment_id in listed_ids(client)
    assert any("visibility_" in query["sql"] for query in on_replica.captured_queries)


def test_a_replica_that_does_not_answer_is_skipped(tenant_with_members):
    client = signed_in(tenant_with_members["colleague"])

    for _ in range(6):  # a random pick among both would have hit the dead one
        with CaptureQueriesContext(connections[REPLICA]) as on_replica:
            assert f"SHP-R{tenant_with_members['suffix']}-1" in listed_ids(client)
        assert any("visibility_" in query["sql"] for query in on_replica.captured_queries)
    assert replica_is_healthy(DEAD_REPLICA) is False


def test_workers_commands_and_transactions_read_the_primary(tenant_with_members):
    router = ReplicaRouter()

    assert router.db_for_read(Shipment) == PRIMARY  # no request: a worker or a command
    with replica_reads_for_request(lambda: None, eligible=True):
        assert router.db_for_read(Shipment) == REPLICA
        with transaction.atomic():
            assert router.db_for_read(Shipment) == PRIMARY
    with replica_reads_for_request(lambda: None, eligible=False):  # a POST
        assert router.db_for_read(Shipment) == PRIMARY
    with replica_reads_for_request(lambda: None, eligible=True):
        assert router.db_for_write(Shipment) == PRIMARY
        assert router.db_for_read(Shipment) == PRIMARY  # after its own write
    assert router.allow_migrate(REPLICA, "visibility") is False
