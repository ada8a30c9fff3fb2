"""Services of their own for each pytest-xdist worker (`make test` runs `pytest -n 2`).

Loaded as a plugin (`-p tests.parallel_workers`, the Makefile's test-steps) so that it runs
when a worker starts, before pytest-django imports the settings: a conftest would come too
late, the settings having read REDIS_URL by then. pytest-django already gives each worker
a test database of its own (test_<name>_gw0, test_<name>_gw1, ...). This gives each its
own Redis databases and ports, in the environment, so that the settings and every server
or Celery worker a test starts (they inherit it) agree:

- Redis: worker N adds 2N to the database numbers of REDIS_URL (the broker) and of the
  cache (CACHE_REDIS_URL, or database 1 as the settings derive it): gw0 keeps 0 and 1,
  gw1 uses 2 and 3. A test that clears the cache clears its worker's only. Without
  REDIS_URL the embedded Redis is shared the same way (its socket, `virtual_host` and
  `db` query parameters).
- Ports: TEST_PORT_RANGE (tests/processes.py `free_port`) is split into one slice per
  worker; REPLICA_TEST_BASE_PORT and S3_TEST_PORT, when set, are moved by worker.

A pytest run a test starts itself (tests/portal/test_read_replicas.py) inherits the
worker's environment and must not shift it again: DONE_FOR names the worker it was done for.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

DONE_FOR = "PORTAL_TEST_SERVICES_WORKER"
# Redis databases one worker uses: the broker's and the cache's.
REDIS_DATABASES_PER_WORKER = 2


def worker_index() -> int | None:
    """0 for gw0, 1 for gw1, ...; None outside a pytest-xdist worker."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker.removeprefix("gw")) if worker.startswith("gw") else None


def shifted_redis_url(url: str, shift: int, *, default_database: int) -> str:
    """`url` naming database (its own, else `default_database`) + `shift`. A Unix-socket
    URL names it in the query: `virtual_host` for Celery (redis+socket://), `db` for redis-py
    (unix://)."""
    parts = urlsplit(url)
    if parts.scheme in ("redis+socket", "socket", "unix"):
        key = "db" if parts.scheme == "unix" else "virtual_host"
        query = dict(parse_qsl(parts.query))
        database = int(query.get(key) or default_database) + shift
        # Built by hand: urlunsplit drops the `//` of a scheme it does not know.
        return f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode({**query, key: database})}"
    database = int(parts.path.strip("/") or default_database) + shift
    return urlunsplit(parts._replace(path=f"/{database}"))


def cache_url_of(broker_url: str) -> str:
    """Database 1 of the broker's server, as portal/settings.py `_cache_url` derives it."""
    parts = urlsplit(broker_url)
    if parts.scheme == "redis+socket":
        return f"unix://{parts.path}?db=1"
    return urlunsplit(parts._replace(path="/1", query=""))


def port_slice(port_range: str, index: int, count: int) -> str:
    """Worker `index`'s share of `low-high`."""
    low, high = (int(bound) for bound in port_range.split("-"))
    size = (high - low + 1) // count
    if size < 1:
        raise ValueError(f"TEST_PORT_RANGE={port_range} has fewer ports than {count} workers")
    start = low + index * size
    return f"{start}-{start + size - 1}"


def worker_environment(environment: dict[str, str], index: int, count: int) -> dict[str, str]:
    """The variables worker `index` of `count` sets, from the run's `environment`."""
    shift = index * REDIS_DATABASES_PER_WORKER
    broker = environment.get("REDIS_URL")
    if not broker:
        from portal import embedded

        broker = embedded.ensure_embedded_redis()
    cache = environment.get("CACHE_REDIS_URL") or cache_url_of(broker)
    changed = {
        "REDIS_URL": shifted_redis_url(broker, shift, default_database=0),
        "CACHE_REDIS_URL": shifted_redis_url(cache, shift, default_database=1),
    }
    if port_range := environment.get("TEST_PORT_RANGE"):
        changed["TEST_PORT_RANGE"] = port_slice(port_range, index, count)
    if replica_base := environment.get("REPLICA_TEST_BASE_PORT"):
        changed["REPLICA_TEST_BASE_PORT"] = str(int(replica_base) + 3 * index)
    if s3_port := environment.get("S3_TEST_PORT"):
        changed["S3_TEST_PORT"] = str(int(s3_port) + index)
    return changed


def isolate_this_worker() -> None:
    index = worker_index()
    if index is None or os.environ.get(DONE_FOR) == os.environ["PYTEST_XDIST_WORKER"]:
        return
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    os.environ.update(worker_environment(dict(os.environ), index, count))
    os.environ[DONE_FOR] = os.environ["PYTEST_XDIST_WORKER"]


# At import: a `-p` plugin is imported before any hook runs, pytest-django's included.
isolate_this_worker()
