"""Role checks for operator-facing pages (staff and platform admins)."""

from __future__ import annotations

from accounts.models import StaffProfile
from accounts.scoping import Actor


def is_operator(actor: Actor) -> bool:
    """Customer-service staff and platform admins: the operator's own people."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return False
    if getattr(actor, "is_superuser", False):
        return True
    return StaffProfile.objects.filter(user_id=getattr(actor, "pk", None)).exists()
