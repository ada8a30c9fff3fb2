"""The flags and the slip in words read the same from PostgreSQL (the change feed's
objects, visibility/feed_objects.py) as from Python (pages, REST, GraphQL, CSV), for
every combination of a shipment's states."""

from __future__ import annotations

import itertools
import json
from types import SimpleNamespace

import pytest
from django.db import connection

from visibility.flags import (
    FLAG_FIELDS,
    shipment_flags,
    shipment_flags_sql,
    slip_in_words,
    slip_in_words_sql,
)

pytestmark = pytest.mark.django_db

BOOLEAN_FLAGS = [name for name in FLAG_FIELDS if name != "late_by_hours"]
LATE_BY_HOURS = [None, -5, 0, 1, 23, 24, 25, 47, 48, 49, 24 * 30 + 1]


def test_every_combination_of_states_reads_the_same_flags_in_sql():
    combinations = [
        {**dict(zip(BOOLEAN_FLAGS, states, strict=True)), "late_by_hours": hours, "index": index}
        for index, (states, hours) in enumerate(
            itertools.product(
                itertools.product([False, True], repeat=len(BOOLEAN_FLAGS)), LATE_BY_HOURS
            )
        )
    ]
    columns = ", ".join(
        [*(f"{name} boolean" for name in BOOLEAN_FLAGS), "late_by_hours integer", "index integer"]
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {shipment_flags_sql('s')}::text, {slip_in_words_sql('s.late_by_hours')}"
            f" FROM json_to_recordset(%s::json) AS s({columns})"
            " ORDER BY s.index",
            [json.dumps(combinations)],
        )
        answers = cursor.fetchall()
    assert len(answers) == len(combinations)
    for states, (flags, slip) in zip(combinations, answers, strict=True):
        shipment = SimpleNamespace(**{name: states[name] for name in FLAG_FIELDS})
        assert json.loads(flags) == shipment_flags(shipment), states
        assert slip == slip_in_words(states["late_by_hours"]), states
