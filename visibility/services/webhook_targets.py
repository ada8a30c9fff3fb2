"""Where webhooks may point: public addresses only, unless the operator allows private ones.

A tenant admin types the URL, and the portal's workers call it from inside the operator's
network; without this check a webhook could reach internal services (SSRF). The address
is checked when the webhook is registered (literal addresses and `localhost`) and again
before every delivery (what the name resolves to then).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


def _is_private(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return not ip.is_global or ip.is_multicast


def webhook_target_refusal(url: str, *, resolve: bool) -> str | None:
    """Why the portal will not call `url`, or None when it may."""
    if settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
        return None
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if not host:
        return "the URL has no host"
    if host == "localhost" or host.endswith(".localhost"):
        return "webhooks cannot point at this machine"
    try:
        return "webhooks cannot point at private addresses" if _is_private(host) else None
    except ValueError:
        pass  # a name, not a literal address
    if not resolve:
        return None
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return f"cannot resolve {host}"
    if any(_is_private(address) for address in addresses):
        return f"{host} resolves to a private address"
    return None
