"""Writes of saved shipment-list views (a name for a filter, shared within the tenant,
the owner's default)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from visibility.models import SavedView

# What a saved view never stores: the page it was on, and the switch that skips the default.
TRANSIENT_PARAMETERS = ("page", "view")


@transaction.atomic
def saved_view_save(
    *,
    owner: User,
    tenant_id: int,
    name: str,
    query_string: str,
    shared: bool,
    make_default: bool,
) -> SavedView:
    """Create the owner's view `name`, or replace its filter and settings if it exists.
    Making it the default takes the default from the owner's other views."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the view a name."})
    if make_default:
        SavedView.objects.filter(owner=owner, is_default=True).exclude(name=name).update(
            is_default=False
        )
    view, _ = SavedView.objects.update_or_create(
        owner=owner,
        name=name,
        defaults={
            "tenant_id": tenant_id,
            "query_string": query_string,
            "shared": shared,
            "is_default": make_default,
        },
    )
    return view


def saved_view_delete(*, owner: User, view_id: int) -> bool:
    """Delete one of the owner's views; False when the owner has no such view."""
    deleted, _ = SavedView.objects.filter(owner=owner, id=view_id).delete()
    return bool(deleted)
