"""Template context shared by every page."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from accounts.scoping import standing_of
from visibility import selectors


def finance(request: HttpRequest) -> dict:
    """`can_see_invoices`: evaluated (one query) only by a template that asks."""
    return {"can_see_invoices": SimpleLazyObject(lambda: selectors.can_see_invoices(request.user))}


def standing(request: HttpRequest) -> dict:
    """`standing.staff` / `standing.membership` for menus, read once per request."""
    return {"standing": SimpleLazyObject(lambda: standing_of(request.user))}
