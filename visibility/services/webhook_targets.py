"""Where webhooks may point, and the one way the portal connects to them (SSRF guard).

A tenant admin types the URL, and the portal's workers call it from inside the operator's
network; without this guard a webhook could reach internal services or the cloud metadata
endpoint. The same address rules apply when the webhook is registered (literal addresses
and `localhost`) and at every delivery, where the name is resolved **once**, every address
it resolves to is checked, and the connection goes to the checked address: a name that
answers a public address to the check and a private one to the connection (DNS
rebinding) never reaches the private one. The original Host header is sent, and for
https the TLS handshake (SNI and certificate verification) uses the hostname.

Redirects are never followed (http.client does not follow them, and the caller treats a
3xx as a failed delivery): a public receiver answering 302 to an internal address would
otherwise make the worker fetch it.

`WEBHOOK_ALLOW_PRIVATE_TARGETS=1` (tests, development) allows loopback and private
networks; the metadata addresses, link-local, multicast, unspecified and reserved ones
stay refused.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

# Cloud instance metadata (AWS, GCP, Azure, OpenStack; AWS's IPv6 one): credentials live here.
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class WebhookTargetRefused(Exception):
    """The URL may not be called; the message says why (shown in the delivery log)."""


@dataclass(frozen=True)
class WebhookTarget:
    """A URL whose host passed the check, with the address the connection must go to."""

    scheme: str
    hostname: str
    port: int
    host_header: str
    path: str
    address: str


def address_refusal(address: IPAddress) -> str | None:
    """Why the portal will not connect to this address, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if address in METADATA_ADDRESSES:
        return "webhooks cannot point at the cloud metadata address"
    if address.is_multicast or address.is_unspecified or address.is_link_local:
        return "webhooks cannot point at private addresses"
    if address.is_global:
        return None
    if settings.WEBHOOK_ALLOW_PRIVATE_TARGETS and (
        address.is_loopback  # before is_reserved: Python counts ::1 in the reserved ::/8
        or (address.is_private and not address.is_reserved)
    ):
        return None
    return "webhooks cannot point at private addresses"


def _literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None  # a name, not a literal address


def webhook_target_refusal(url: str) -> str | None:
    """Why `url` cannot be registered, or None: scheme, host, literal address, `localhost`.

    Names are not resolved here (a receiver's DNS may not exist yet); delivery resolves.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return "webhooks must use http or https"
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        return "the URL has no host"
    if (host == "localhost" or host.endswith(".localhost")) and not (
        settings.WEBHOOK_ALLOW_PRIVATE_TARGETS
    ):
        return "webhooks cannot point at this machine"
    literal = _literal_address(host)
    return address_refusal(literal) if literal is not None else None


def webhook_target_resolve(url: str) -> WebhookTarget:
    """Resolve the URL's host once and check every address; raise WebhookTargetRefused."""
    refusal = webhook_target_refusal(url)
    if refusal:
        raise WebhookTargetRefused(refusal)
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".").lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as failure:
        raise WebhookTargetRefused(f"cannot resolve {host}") from failure
    addresses = [str(info[4][0]) for info in answers]
    if not addresses:
        raise WebhookTargetRefused(f"cannot resolve {host}")
    for address in addresses:
        refusal = address_refusal(ipaddress.ip_address(address.split("%", 1)[0]))
        if refusal:
            raise WebhookTargetRefused(f"{host} resolves to {address}: {refusal}")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return WebhookTarget(
        scheme=parts.scheme,
        hostname=host,
        port=port,
        host_header=parts.netloc.rpartition("@")[2],  # never send URL credentials as Host
        path=path,
        address=addresses[0],
    )


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TCP to the checked address; SNI and certificate verification on the hostname."""

    def __init__(self, target: WebhookTarget, *, timeout: float) -> None:
        super().__init__(
            target.address, target.port, timeout=timeout, context=ssl.create_default_context()
        )
        self._server_hostname = target.hostname

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._context.wrap_socket(  # type: ignore[attr-defined]
            self.sock, server_hostname=self._server_hostname
        )


def webhook_connection(target: WebhookTarget, *, timeout: float) -> http.client.HTTPConnection:
    """A connection to the checked address only; send `Host: target.host_header` on it."""
    if target.scheme == "https":
        return _PinnedHTTPSConnection(target, timeout=timeout)
    return http.client.HTTPConnection(target.address, target.port, timeout=timeout)
