"""Writes of a user's own preferences (the time zone pages show times in)."""

from __future__ import annotations

import zoneinfo
from functools import cache

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from accounts.models import UserPreferences


@cache
def time_zone_names() -> tuple[str, ...]:
    """The IANA zones a user may choose, sorted (the profile page's list)."""
    return tuple(sorted(zoneinfo.available_timezones() - {"localtime", "Factory"}))


def user_time_zone_set(*, user: User, time_zone: str, only_if_unset: bool = False) -> str:
    """Record `time_zone` as the user's; with `only_if_unset` (the browser's guess on
    first sign-in) a zone the user already chose is kept. Returns the zone in force."""
    if time_zone not in time_zone_names():
        raise ValidationError({"time_zone": f"Unknown time zone: {time_zone[:64]!r}"})
    preferences, created = UserPreferences.objects.get_or_create(
        user=user, defaults={"time_zone": time_zone}
    )
    if created or (only_if_unset and preferences.time_zone):
        return preferences.time_zone
    preferences.time_zone = time_zone
    preferences.save(update_fields=["time_zone"])
    return time_zone
