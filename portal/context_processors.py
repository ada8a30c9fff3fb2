"""Template context shared by every page."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from accounts.scoping import standing_of
from portal.middleware import SESSION_TIME_ZONE
from visibility import selectors


def finance(request: HttpRequest) -> dict:
    """`can_see_invoices`: evaluated (one query) only by a template that asks."""
    return {"can_see_invoices": SimpleLazyObject(lambda: selectors.can_see_invoices(request.user))}


def standing(request: HttpRequest) -> dict:
    """`standing.staff` / `standing.membership` for menus, read once per request."""
    return {"standing": SimpleLazyObject(lambda: standing_of(request.user))}


SETTINGS_SECTIONS = frozenset({"settings", "notification", "webhook", "api", "member", "audit"})


def navigation(request: HttpRequest) -> dict:
    """`nav_section`: which menu entry the page belongs to (marked aria-current), from the
    URL name's first word ("shipment-detail" -> "shipment"); `user_time_zone_set`: whether
    the session knows the user's time zone (if not, the page asks the browser for it)."""
    match = getattr(request, "resolver_match", None)
    name = (match.url_name or "") if match else ""
    section = "dashboard" if name == "home" else name.split("-", 1)[0]
    session = getattr(request, "session", None)
    return {
        "nav_section": section,
        # The tenant settings area's pages (their own sub-navigation) share one menu entry.
        "nav_settings": section in SETTINGS_SECTIONS,
        "user_time_zone_set": bool(session is not None and session.get(SESSION_TIME_ZONE)),
    }
