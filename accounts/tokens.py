"""Secret tokens: random, shown once, stored only as SHA-256 (they carry 256 bits of
randomness, so a fast hash is enough; a password hash would slow every API call)."""

from __future__ import annotations

import hashlib
import secrets


def new_secret(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
