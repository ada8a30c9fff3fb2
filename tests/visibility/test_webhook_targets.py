"""Webhook SSRF guard: no redirects, the connection goes to the address that was checked,
private and metadata addresses refused at registration and at delivery.

The receivers are real HTTP listeners on loopback. The resolver is replaced only to
simulate a name that changes its answer between two lookups (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError

from visibility.models import Notification, Webhook, WebhookDelivery
from visibility.services.notifications import notifications_deliver
from visibility.services.subscriptions import webhook_create
from visibility.services.webhook_targets import (
    WebhookTargetRefused,
    address_refusal,
    webhook_target_resolve,
)

pytestmark = pytest.mark.django_db


class Listener:
    """An HTTP server in a thread that records each request and answers what it is told."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, status: int = 204, headers=()):
        self.requests: list[tuple[str, dict]] = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                listener.requests.append((self.path, dict(self.headers)))
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()

            do_GET = do_POST

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.port = self.server.server_port
        self.url = f"http://{host}:{self.port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listeners():
    opened: list[Listener] = []

    def open_listener(*args, **kwargs) -> Listener:
        opened.append(Listener(*args, **kwargs))
        return opened[-1]

    yield open_listener
    for listener in opened:
        listener.close()


def notify(tenant, url: str) -> Notification:
    webhook = Webhook.objects.create(
        tenant=tenant, url=url, secret="s", event_types=["shipment.delivered"]
    )
    return Notification.objects.create(
        shipment_ref="SHP-1",
        trigger="delivery",
        subscriber=f"webhook:{webhook.id}",
        tenant=tenant,
        payload={"trigger": "delivery", "shipment_id": "SHP-1"},
    )


def test_a_redirect_is_a_failed_delivery_and_is_never_followed(brenner, listeners, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True  # both listeners are on loopback
    internal = listeners()
    redirecting = listeners(status=302, headers=[("Location", internal.url)])
    notification = notify(brenner, redirecting.url)

    assert notifications_deliver() == 0

    assert len(redirecting.requests) == 1
    assert internal.requests == []
    [attempt] = WebhookDelivery.objects.all()
    assert attempt.status_code == 302
    assert attempt.error == f"HTTP 302: redirect to {internal.url} not followed"
    notification.refresh_from_db()
    assert notification.state == "pending" and notification.attempts == 1
    assert "not followed" in notification.last_error


def test_the_connection_goes_to_the_address_that_was_checked(
    brenner, listeners, settings, monkeypatch
):
    """A name answering 127.0.0.1 to the check and 127.0.0.2 to a second lookup: only the
    first is ever connected to, and the receiver sees the original Host header."""
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True  # so that the first answer passes
    checked = listeners("127.0.0.1")
    try:
        rebound = listeners("127.0.0.2", checked.port)
    except OSError:
        pytest.skip("127.0.0.2 is not a loopback address on this machine")
    real_getaddrinfo = socket.getaddrinfo
    answers = iter(["127.0.0.1", "127.0.0.2", "127.0.0.2", "127.0.0.2"])
    lookups: list[str] = []

    def rebinding_getaddrinfo(host, port, *args, **kwargs):
        if host != "hooks.rebind.test":
            return real_getaddrinfo(host, port, *args, **kwargs)
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_getaddrinfo)
    notify(brenner, f"http://hooks.rebind.test:{checked.port}/hook?x=1")

    assert notifications_deliver() == 1

    assert lookups == ["hooks.rebind.test"]  # resolved once
    assert rebound.requests == []
    [(path, headers)] = checked.requests
    assert path == "/hook?x=1"
    assert headers["Host"] == f"hooks.rebind.test:{checked.port}"


def test_a_name_with_one_private_answer_among_public_ones_is_refused(settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False

    def mixed_answers(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", mixed_answers)

    with pytest.raises(WebhookTargetRefused, match=r"resolves to 127\.0\.0\.1"):
        webhook_target_resolve("https://hooks.example.com/hook")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/hook",
        "http://[::ffff:127.0.0.1]:{port}/hook",
        "http://[::1]:{port}/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://10.0.0.7/hook",
        "http://0.0.0.0:{port}/hook",
        "http://224.0.1.1/hook",
        "http://localhost:{port}/hook",
    ],
)
def test_private_and_metadata_targets_are_refused_at_delivery(brenner, listeners, settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    receiver = listeners()
    notification = notify(brenner, url.format(port=receiver.port))

    assert notifications_deliver() == 0

    assert receiver.requests == []
    [attempt] = WebhookDelivery.objects.all()
    assert attempt.status_code is None and attempt.error.startswith("not sent: ")
    notification.refresh_from_db()
    assert notification.attempts == 1 and "ConnectionError" in notification.last_error


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://[::ffff:10.1.2.3]/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://192.168.1.10/hook",
        "http://localhost/hook",
        "http://api.localhost/hook",
    ],
)
def test_private_and_metadata_targets_are_refused_at_registration(brenner, settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False

    with pytest.raises(ValidationError):
        webhook_create(tenant=brenner, url=url, event_types=["shipment.delivered"])


@pytest.mark.parametrize(
    ("address", "allowed_with_flag"),
    [
        ("127.0.0.1", True),
        ("10.0.0.1", True),
        ("::1", True),
        ("169.254.169.254", False),
        ("fd00:ec2::254", False),
        ("169.254.1.1", False),
        ("fe80::1", False),
        ("224.0.0.1", False),
        ("0.0.0.0", False),
        ("::", False),
        ("240.0.0.1", False),
    ],
)
def test_the_allow_flag_opens_loopback_and_private_networks_only(
    settings, address, allowed_with_flag
):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    assert address_refusal(ipaddress.ip_address(address)) is not None
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    assert (address_refusal(ipaddress.ip_address(address)) is None) is allowed_with_flag


def test_public_addresses_are_allowed():
    assert address_refusal(ipaddress.ip_address("93.184.215.14")) is None
    assert address_refusal(ipaddress.ip_address("2606:2800:21f:cb07:6820:80da:af6b:8b2c")) is None


def self_signed_certificate(directory, name: str) -> tuple[str, str]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = str(directory / f"{name}.pem"), str(directory / f"{name}.key")
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", key, "-out", cert, "-subj", f"/CN={name}"),
            *("-addext", f"subjectAltName=DNS:{name}"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_listener(tmp_path, monkeypatch):
    """An https listener on the address `localhost` resolves to first, serving a
    certificate for the name given; the portal trusts that certificate."""
    opened = []

    def open_listener(certificate_name: str):
        cert, key = self_signed_certificate(tmp_path, certificate_name)
        monkeypatch.setenv("SSL_CERT_FILE", cert)
        family, _, _, _, address = socket.getaddrinfo("localhost", 0, type=socket.SOCK_STREAM)[0]

        class Server(ThreadingHTTPServer):
            address_family = family

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.requests.append(dict(self.headers))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        server = Server(address[:2], Handler)
        server.requests, server.server_names = [], []
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        context.sni_callback = lambda _socket, name, _context: server.server_names.append(name)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        opened.append(server)
        return server

    yield open_listener
    for server in opened:
        server.shutdown()
        server.server_close()


def test_https_verifies_the_certificate_and_sends_sni_for_the_hostname(
    brenner, settings, tls_listener
):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    server = tls_listener("localhost")
    notify(brenner, f"https://localhost:{server.server_port}/hook")

    assert notifications_deliver() == 1  # connected to the address, verified "localhost"

    assert server.server_names == ["localhost"]
    assert server.requests[0]["Host"] == f"localhost:{server.server_port}"


def test_https_refuses_a_certificate_for_another_name(brenner, settings, tls_listener):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    server = tls_listener("other.test")
    notify(brenner, f"https://localhost:{server.server_port}/hook")

    assert notifications_deliver() == 0

    assert server.requests == []
    [attempt] = WebhookDelivery.objects.all()
    assert "certificate verify failed" in attempt.error
