"""The client's address: REMOTE_ADDR, or, only when the request comes from a trusted proxy
(`settings.TRUSTED_PROXY_IPS`, CIDRs), the rightmost untrusted hop of X-Forwarded-For.

Each proxy appends the address it received the request from, so the entries a client
cannot forge are the rightmost ones; walking from the right past our own proxies, the
first address that is not one of them is the client. Anything left of it may be forged.
Without trusted proxies the header is ignored: a client could name any address and
dodge the per-address sign-in throttling (or frame another address for it).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs if cidr)


def _is_trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in networks)


def _valid(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def client_address(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    remote = request.META.get("REMOTE_ADDR") or None
    networks = _networks(tuple(getattr(settings, "TRUSTED_PROXY_IPS", ())))
    if remote is None or not networks or not _is_trusted(remote, networks):
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    nearest = remote
    for hop in reversed(hops):
        if not _valid(hop):
            # Not an address a proxy of ours would write: stop at the last one we trust.
            return nearest
        if not _is_trusted(hop, networks):
            return hop
        nearest = hop
    # Every hop is one of our proxies (a health check from inside): the leftmost it is.
    return nearest
