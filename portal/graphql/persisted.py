"""Automatic persisted queries (Apollo's APQ protocol, version 1).

A client sends `extensions: {"persistedQuery": {"version": 1, "sha256Hash": H}}`:

- with the query: H must be the query's SHA-256 (hex), else the request is refused
  (`HashMismatch`, 400); the query is kept in the Django cache under H, then runs;
- without it: the query kept under H runs; when none is kept the answer is the GraphQL
  error `PersistedQueryNotFound` (`extensions.code = PERSISTED_QUERY_NOT_FOUND`), on
  which Apollo clients send the query with its hash.

The cache is shared by every caller: a hash names a query's text, which grants nothing;
who may run it, and what it reads, is decided as for any query.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from django.core.cache import cache

VERSION = 1
TTL_SECONDS = 30 * 24 * 3600
# A query this long is refused by the token limit anyway (portal/graphql/limits.py).
MAX_QUERY_LENGTH = 100_000
_HASH = re.compile(r"[0-9a-f]{64}")


class Invalid(ValueError):
    """A persistedQuery extension this server cannot use (answered 400)."""


class HashMismatch(Invalid):
    pass


class NotFound(LookupError):
    pass


def cache_key(sha256_hash: str) -> str:
    return f"graphql:apq:{sha256_hash}"


def resolve(query: str | None, extensions: dict[str, Any] | None) -> str | None:
    """The query to run: `query` itself, or the one the persisted-query hash names."""
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is None:
        return query
    if not isinstance(persisted, dict) or persisted.get("version") != VERSION:
        raise Invalid(f"persistedQuery: only version {VERSION} is supported.")
    sha256_hash = persisted.get("sha256Hash")
    if not isinstance(sha256_hash, str) or not _HASH.fullmatch(sha256_hash):
        raise Invalid("persistedQuery.sha256Hash: 64 lower-case hex digits.")
    if query is None:
        kept = cache.get(cache_key(sha256_hash))
        if not isinstance(kept, str):
            raise NotFound(sha256_hash)
        return kept
    if hashlib.sha256(query.encode()).hexdigest() != sha256_hash:
        raise HashMismatch("persistedQuery.sha256Hash does not match the query's SHA-256.")
    if len(query) <= MAX_QUERY_LENGTH:
        cache.set(cache_key(sha256_hash), query, TTL_SECONDS)
    return query
