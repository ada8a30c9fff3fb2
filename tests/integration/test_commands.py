"""What the operators' management commands print."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from integration.services.intake import receive_events

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "command, options",
    [("rebuild_read_models", {"batch_size": 3}), ("replay_events", {"source": "tms"})],
)
def test_the_progress_bar_redraws_one_line(brenner, story, command, options):
    """Regression: through Django's OutputWrapper every redraw ended with a newline, so the
    bar printed one line per batch instead of redrawing in place."""
    for event in story:
        receive_events(source=event["source"], events=[event])
    stderr = io.StringIO()

    call_command(command, stderr=stderr, stdout=io.StringIO(), **options)

    drawn = stderr.getvalue()
    assert drawn.count("\r") > 1 and drawn.count("\n") == 1 and drawn.endswith("\n")
