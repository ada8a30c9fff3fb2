"""Event types are defined once (`visibility.event_types.EventType`); every table keyed by
event type covers each of them exactly, so adding a type fails here until it can be
validated, projected and, for history types, turned into a fact."""

from __future__ import annotations

from integration.contract import DATA_VALIDATORS
from integration.models import InboxEvent
from visibility.event_types import HISTORY_EVENT_TYPES, EventType
from visibility.services.projection import PROJECTION_ORDER, PROJECTORS
from visibility.services.projection.history import HISTORY_FACTS, project_history_events


def test_the_contract_validates_every_event_type_and_no_other():
    assert list(DATA_VALIDATORS) == list(EventType)


def test_projection_projects_every_event_type_and_no_other():
    assert set(PROJECTORS) == set(EventType)
    assert set(PROJECTION_ORDER) == set(EventType)


def test_history_facts_exist_exactly_for_the_history_types():
    assert set(HISTORY_FACTS) == HISTORY_EVENT_TYPES
    history_projected = {
        t for t, project in PROJECTORS.items() if project is project_history_events
    }
    assert history_projected == HISTORY_EVENT_TYPES


def test_the_inbox_accepts_exactly_the_event_types():
    assert InboxEvent._meta.get_field("event_type").choices == EventType.choices
