"""Timestamps as the contract writes them (RFC 3339 with an offset)."""

from __future__ import annotations

from datetime import datetime


def parse_timestamp(value: str) -> datetime:
    """Parse an RFC 3339 timestamp with an offset (validated beforehand)."""
    return datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
