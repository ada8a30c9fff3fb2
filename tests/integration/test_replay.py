"""replay_events and rebuild_read_models put stored events through projection again."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.utils import timezone

from integration.models import InboxEvent, InboxState, RejectedEvent
from integration.services.intake import receive_events
from integration.services.processing import process_inbox_until_empty
from tests.helpers import read_model_state
from visibility.models import ShipmentException
from visibility.services.exceptions import (
    exception_acknowledge,
    exception_add_note,
    exception_assign,
    exception_resolve,
)

pytestmark = pytest.mark.django_db


def test_rebuild_gives_the_same_read_models_as_live_projection(brenner, story, capsys):
    for event in story:
        receive_events(source=event["source"], events=[event])
    process_inbox_until_empty()
    live = read_model_state()

    call_command("rebuild_read_models", batch_size=3)

    assert read_model_state() == live
    assert "rebuilt read models from 15 events" in capsys.readouterr().out


def test_replay_dead_letters_after_the_cause_is_fixed(brenner, story):
    for event in story[:2]:
        receive_events(source=event["source"], events=[event])
    InboxEvent.objects.filter(event_id="tms-demo-0001").update(
        state=InboxState.DEAD, attempts=5, last_error="boom"
    )
    process_inbox_until_empty()

    call_command("replay_events", dead=True)

    replayed = InboxEvent.objects.get(event_id="tms-demo-0001")
    assert (replayed.state, replayed.attempts, replayed.last_error) == (InboxState.PROCESSED, 0, "")


def test_replay_by_source_and_type(brenner, story):
    for event in story:
        receive_events(source=event["source"], events=[event])
    process_inbox_until_empty()

    call_command("replay_events", source="tms", event_type="shipment.milestone", no_process=True)

    assert InboxEvent.objects.filter(state=InboxState.PENDING).count() == 6


def test_replay_rejected_events_reruns_validation(brenner, story):
    bad = {
        **story[0],
        "event_id": "erp-fixed-later",
        "source": "erp",
        "data": {**story[0]["data"], "order_date": "16.11.2026"},
    }
    receive_events(source="erp", events=[bad])
    RejectedEvent.objects.filter(event_id="erp-fixed-later").update(
        body={**bad, "data": {**bad["data"], "order_date": "2026-11-16"}}
    )

    call_command("replay_events", rejected=True)

    assert InboxEvent.objects.get(event_id="erp-fixed-later").state == InboxState.PROCESSED
    assert RejectedEvent.objects.get().replayed_at is not None


def test_a_rejected_event_python_cannot_read_does_not_stop_the_replay_of_the_others(brenner, story):
    from django.db import connection

    bad = {**story[0], "event_id": "erp-fixed-later", "data": {**story[0]["data"], "lines": 1}}
    receive_events(source="erp", events=[bad])
    RejectedEvent.objects.update(body=story[0])
    with connection.cursor() as cursor:  # stored before the fixed one: replayed first
        cursor.execute(
            """INSERT INTO integration_rejectedevent (id, source, event_id, event_type, body,
                   errors, received_at) VALUES (0, 'erp', 'deep', '', %s::jsonb, '[]', now())""",
            ["[" * 3000 + "]" * 3000],
        )

    call_command("replay_events", rejected=True)

    assert InboxEvent.objects.get(event_id=story[0]["event_id"]).state == InboxState.PROCESSED
    assert RejectedEvent.objects.filter(replayed_at__isnull=True).count() == 1


def test_replay_without_a_selection_is_refused():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="say what to replay"):
        call_command("replay_events")


def test_rebuild_keeps_what_people_did_on_exception_records(brenner, story, cs_staff):
    """Notes, owner, acknowledgement and resolution by hand are in no event: a rebuild
    puts them back on the rebuilt records (the same shipment, reason and occurrence).
    The story up to the delay: a delayed shipment, late and overdue by now."""
    for event in story[:9]:
        receive_events(source=event["source"], events=[event])
    process_inbox_until_empty()
    records = list(ShipmentException.objects.order_by("id"))
    assert len(records) >= 2, "the story opens exception records"
    worked, settled = records[0], records[1]
    now = timezone.now()
    exception_acknowledge(cs_staff, worked, now=now)
    exception_assign(cs_staff, worked, cs_staff)
    exception_add_note(cs_staff, worked, "Carrier called", visible_to_customer=False, now=now)
    exception_add_note(cs_staff, worked, "New slot Friday", visible_to_customer=True, now=now)
    exception_resolve(cs_staff, settled, now=now)

    def identity(record: ShipmentException) -> tuple[str, str, str]:
        return (record.shipment.shipment_id, record.reason, record.occurrence_key)

    call_command("rebuild_read_models", batch_size=3)

    rebuilt = {identity(record): record for record in ShipmentException.objects.all()}
    again = rebuilt[identity(worked)]
    assert again.id != worked.id  # rebuilt, not kept by accident
    assert again.status == ShipmentException.Status.ACKNOWLEDGED and again.owner == cs_staff
    assert [(note.text, note.visible_to_customer, note.author) for note in again.notes.all()] == [
        ("Carrier called", False, cs_staff),
        ("New slot Friday", True, cs_staff),
    ]
    resolved = rebuilt[identity(settled)]
    assert resolved.status == ShipmentException.Status.RESOLVED
    assert not resolved.resolved_automatically
