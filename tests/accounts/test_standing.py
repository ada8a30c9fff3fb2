"""Who a user is (staff profile, membership) is read once per request, and never
remembered past it or past a change."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Membership, Role
from accounts.scoping import standing_of, standings_remembered_for_this_request
from accounts.services import membership_update

pytestmark = pytest.mark.django_db


def lookups_of(captured: CaptureQueriesContext, table: str) -> int:
    return sum(f'FROM "{table}"' in query["sql"] for query in captured.captured_queries)


def test_a_page_reads_its_users_standing_once(client, delivered_story, customer_user):
    client.force_login(customer_user)

    with CaptureQueriesContext(connection) as captured:
        response = client.get("/search/", {"q": "SHP-77812"})

    assert response.status_code == 200
    assert "SHP-778120" in response.content.decode()
    assert 'href="/settings/"' in response.content.decode()  # the menu knows the membership
    assert lookups_of(captured, "accounts_membership") == 1
    assert lookups_of(captured, "accounts_staffprofile") == 1


def test_nothing_is_remembered_outside_a_request(brenner, customer_user):
    assert standing_of(customer_user).membership.role == Role.MEMBER

    Membership.objects.filter(user=customer_user).update(role=Role.TENANT_ADMIN)

    assert standing_of(customer_user).membership.role == Role.TENANT_ADMIN


def test_a_change_within_the_request_is_seen_at_once(customer_user, tenant_admin):
    admin = tenant_admin
    with standings_remembered_for_this_request():
        assert standing_of(customer_user).membership.all_accounts is True
        with CaptureQueriesContext(connection) as captured:
            standing_of(customer_user)
        assert captured.captured_queries == []

        membership_update(
            membership=Membership.objects.get(user=customer_user),
            role=Role.MEMBER,
            all_accounts=False,
            account_numbers=["C-1001"],
            finance=False,
            changed_by=admin,
        )

        assert standing_of(customer_user).membership.all_accounts is False
