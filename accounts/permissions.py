"""Role checks for operator-facing pages (staff and platform admins)."""

from __future__ import annotations

from accounts.models import ApiToken
from accounts.scoping import Actor, standing_of


def is_operator(actor: Actor) -> bool:
    """Customer-service staff and platform admins: the operator's own people."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return False
    if getattr(actor, "is_superuser", False):
        return True
    return not isinstance(actor, ApiToken) and standing_of(actor).staff is not None
