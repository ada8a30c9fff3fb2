"""Rate limits per partner token, counted in Redis (DRF's cache-backed throttle)."""

from __future__ import annotations

from rest_framework.throttling import SimpleRateThrottle

from accounts.models import ApiToken


class PartnerTokenRateThrottle(SimpleRateThrottle):
    """Each token has its own budget (API_TOKEN_RATE); a 429 says when to come back."""

    scope = "partner_token"

    def get_cache_key(self, request, view) -> str | None:
        token = getattr(request, "auth", None)
        if not isinstance(token, ApiToken):
            return None
        return f"throttle:partner-token:{token.id}"
