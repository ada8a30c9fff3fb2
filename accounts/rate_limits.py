"""Atomic fixed-window counters in Redis: the one place rate limits count.

Django's cache API cannot count under concurrency: DRF's throttle reads a list, appends
and writes it back, so 16 parallel clients all read the same list and each writes its
own (an outside tester sent 3,000 requests in 34 s on a 1,200/min token without a 429).
Here one Lua script increments the counter and sets its expiry in a single step on the
server, so every request is counted exactly once whatever runs in parallel.

A window starts at the first unit counted and lasts `window_seconds`; the counter then
disappears and the next unit starts a new window. Within a window nothing gets past the
budget (no slack); across two adjacent windows a client can spend two budgets in a
short time (the fixed-window slack, docs/API.md).

The counters live in the cache's Redis database (`CACHE_REDIS_URL`, with the cache's key
prefix), read through the `redis` client because the cache API has no atomic
increment-with-expiry. When Redis cannot be reached a limit lets the request through and
logs it: the read API and sign-in stay up, and PostgreSQL still answers for itself.
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

# KEYS[1] the counter; ARGV[1] units to add (negative gives back); ARGV[2] window in ms.
# Returns {count, milliseconds until the window ends}.
_WINDOW_ADD = """
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
if count <= 0 then
  redis.call('DEL', KEYS[1])
end
return {count, ttl}
"""


@dataclass(frozen=True)
class WindowCount:
    """The counter after this call, and how long until its window ends."""

    count: int
    retry_after_seconds: int


@functools.cache
def _client() -> redis.Redis:
    location = settings.CACHES["default"]["LOCATION"]
    assert isinstance(location, str), "the cache is one Redis server (portal/settings.py)"
    return redis.Redis.from_url(location, socket_connect_timeout=1, socket_timeout=1)


@functools.cache
def _window_add_script():
    return _client().register_script(_WINDOW_ADD)


def _key(name: str) -> str:
    return f"{settings.CACHES['default'].get('KEY_PREFIX', '')}:rate:{name}"


def window_add(name: str, *, window_seconds: int, units: int = 1) -> WindowCount | None:
    """Add `units` to the counter `name` atomically; None when Redis is unreachable."""
    try:
        count, ttl_ms = _window_add_script()(keys=[_key(name)], args=[units, window_seconds * 1000])
    except redis.RedisError:
        logger.warning("rate limit counter %s unavailable; request let through", name)
        return None
    return WindowCount(count=int(count), retry_after_seconds=max(1, math.ceil(ttl_ms / 1000)))


def window_clear(name: str) -> None:
    try:
        _client().delete(_key(name))
    except redis.RedisError:
        logger.warning("rate limit counter %s unavailable; not cleared", name)
