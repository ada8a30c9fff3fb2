"""Notifications fire once per (shipment, trigger, occurrence): a second delay that moves
the ETA later notifies again; an earlier one, or a duplicate, does not; each new exception
notifies once, a rebuild never again."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.core import mail
from django.core.management import call_command

from accounts.services import user_create
from integration.services.intake import receive_events
from integration.services.processing import process_inbox_until_empty
from tests.factories import PASSWORD, DelayEventFactory, MilestoneEventFactory, stamp
from visibility.models import Notification, NotificationSubscription
from visibility.services.notifications import notifications_deliver

pytestmark = pytest.mark.django_db

CET = datetime.fromisoformat("2026-11-18T07:00:00+01:00").tzinfo


def project(events):
    for event in events:
        receive_events(source=event["source"], events=[event])
    process_inbox_until_empty()


@pytest.fixture
def watcher(brenner):
    user = user_create(
        username="watcher", password=PASSWORD, email="watcher@example.com", tenant=brenner
    )
    for trigger in ("delay", "delivery", "exception"):
        NotificationSubscription.objects.create(user=user, tenant=brenner, trigger=trigger)
    return user


def delay(event_id: str, new_eta: datetime, at: datetime) -> dict:
    return DelayEventFactory(event_id=event_id, occurred_at=stamp(at), new_eta=stamp(new_eta))


def delay_etas() -> list[str]:
    return sorted(Notification.objects.filter(trigger="delay").values_list("occurrence", flat=True))


def test_only_a_delay_moving_the_eta_later_than_the_last_notified_notifies(watcher, story):
    up_to_delay = story[:8]
    project(up_to_delay)  # first delay: ETA 20 Nov 10:00 (CET)
    assert len(delay_etas()) == 1

    later = delay(
        "d-later", datetime(2026, 11, 21, 12, tzinfo=CET), datetime(2026, 11, 19, tzinfo=CET)
    )
    project([later])
    assert len(delay_etas()) == 2

    earlier = delay(
        "d-earlier", datetime(2026, 11, 20, 18, tzinfo=CET), datetime(2026, 11, 19, 6, tzinfo=CET)
    )
    project([earlier])
    project([later])  # a duplicate
    assert len(delay_etas()) == 2

    call_command("rebuild_read_models")
    assert len(delay_etas()) == 2
    notifications_deliver()
    assert [m.subject for m in mail.outbox].count("Delayed: shipment SHP-778120") == 2


def test_a_second_exception_after_a_first_notifies_once_each(watcher, story):
    project(story[:7])
    refused = MilestoneEventFactory(
        event_id="x-a7",
        occurred_at="2026-11-18T09:00:00+01:00",
        data={"shipment_id": "SHP-778120", "carrier_status_code": "A7"},
    )
    project([refused])
    damaged = MilestoneEventFactory(
        event_id="x-a9",
        occurred_at="2026-11-18T10:00:00+01:00",
        data={"shipment_id": "SHP-778120", "carrier_status_code": "A9"},
    )
    project([damaged])
    project([refused, damaged])  # duplicates
    exceptions = sorted(
        Notification.objects.filter(trigger="exception").values_list("occurrence", flat=True)
    )
    assert [occurrence.split(":")[0] for occurrence in exceptions].count("refused") == 1
    assert [occurrence.split(":")[0] for occurrence in exceptions].count("damaged") == 1
    notifications_deliver()
    subjects = [m.subject for m in mail.outbox]
    assert "Exception on shipment SHP-778120: Refused by consignee" in subjects
    assert "Exception on shipment SHP-778120: Damaged" in subjects
    assert len(subjects) == len(set(subjects))
