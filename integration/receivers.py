"""Integration's answers to what lower layers announce (connected in `IntegrationConfig.ready`)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from integration.services.processing import release_held_events, wake_inbox_worker
from visibility.holds import HoldKey


def release_events_held_for_accounts(
    sender: object, *, account_numbers: Iterable[str], **_
) -> None:
    """Accounts got an owner: the events held until then become pending again, in the
    sender's transaction, and a worker is woken once it commits."""
    if release_held_events(HoldKey.account(number) for number in account_numbers):
        transaction.on_commit(wake_inbox_worker)
