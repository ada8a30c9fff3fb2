"""Rate limits per partner token: `API_TOKEN_RATE` units per window, counted atomically.

A REST request costs one unit; a GraphQL request one unit when it arrives and, once its
cost is known, `max(1, cost // 100)` in all (portal/graphql/limits.py). The counting is
`accounts.rate_limits` (one Redis script per charge, so parallel clients cannot slip past
the budget); the window and its slack are in docs/API.md. The same script's answer (the
count and the window's remaining time) gives the `RateLimit-*` headers of the answer, so
they cost no second round trip.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from accounts.models import ApiToken
from accounts.rate_limits import window_add

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


# Where the throttle leaves its decision on the HttpRequest for the headers
# (portal.middleware.ApiResponseMiddleware).
RATE_DECISION_ATTRIBUTE = "rate_limit_decision"


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after_seconds: int
    limit: int = 0
    remaining: int = 0
    window_seconds: int = 0

    def headers(self) -> dict[str, str]:
        """IETF draft-ietf-httpapi-ratelimit-headers (the `RateLimit-Limit` / `-Remaining`
        / `-Reset` form): the budget, what is left of it, seconds until the window ends."""
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.retry_after_seconds),
            "RateLimit-Policy": f"{self.limit};w={self.window_seconds}",
        }


def token_rate() -> tuple[int, int]:
    """(units, window seconds) from API_TOKEN_RATE, written like "1200/min" or "60/s"."""
    units, _, period = settings.API_TOKEN_RATE.partition("/")
    return int(units), PERIODS[period.strip()[:1]]


def token_rate_charge(token: ApiToken, *, units: int = 1) -> RateDecision:
    """Count `units` against the token's budget; refused once the window's budget is spent."""
    budget, window_seconds = token_rate()
    counted = window_add(f"token:{token.id}", window_seconds=window_seconds, units=units)
    if counted is None:  # Redis unreachable: accounts.rate_limits lets it through
        return RateDecision(allowed=True, retry_after_seconds=0)
    return RateDecision(
        allowed=counted.count <= budget,
        retry_after_seconds=counted.retry_after_seconds,
        limit=budget,
        remaining=max(0, budget - counted.count),
        window_seconds=window_seconds,
    )


class PartnerTokenRateThrottle(BaseThrottle):
    """DRF's door to `token_rate_charge`: each token has its own budget; a 429 says when
    to come back (Retry-After)."""

    def allow_request(self, request, view) -> bool:
        token = getattr(request, "auth", None)
        if not isinstance(token, ApiToken):
            return True
        self.decision = token_rate_charge(token)
        if self.decision.limit:  # not when Redis was unreachable: nothing was counted
            setattr(request._request, RATE_DECISION_ATTRIBUTE, self.decision)
        return self.decision.allowed

    def wait(self) -> float | None:
        return self.decision.retry_after_seconds
