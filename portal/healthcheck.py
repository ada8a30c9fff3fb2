"""The container's health check: `python -m portal.healthcheck` exits 0 when the web
server on this machine answers /healthz with 200.

It asks as the first of ALLOWED_HOSTS, so a production ALLOWED_HOSTS need not list
127.0.0.1 for the probe to pass Django's host check. Importing nothing of Django keeps
the probe cheap: it runs every few seconds.
"""

from __future__ import annotations

import os
import sys
import urllib.request


def probe_host() -> str:
    hosts = [host.strip() for host in os.environ.get("ALLOWED_HOSTS", "").split(",")]
    first = next((host for host in hosts if host and host != "*"), "localhost")
    return "portal" + first if first.startswith(".") else first


def main() -> int:
    port = os.environ.get("PORT", "8000")
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/healthz", headers={"Host": probe_host()}
    )
    try:
        with urllib.request.urlopen(request, timeout=float(os.environ.get("PROBE_TIMEOUT", "3"))):
            return 0
    except OSError as error:
        print(f"unhealthy: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
