"""gunicorn settings for the portal's web process (the image, docker-compose, `make demo`).

    gunicorn -c gunicorn.conf.py portal.wsgi:application

gthread workers: each worker process runs WEB_THREADS threads, and each thread keeps its
own PostgreSQL connection for DATABASE_CONN_MAX_AGE seconds. One web process therefore
holds at most WEB_CONCURRENCY x WEB_THREADS connections; docs/OPERATIONS.md ("Database
connections") adds Celery's and checks the sum against PostgreSQL's max_connections.
"""

from __future__ import annotations

import os
from pathlib import Path

# The defaults suit a small machine: 2 workers x 4 threads = 8 requests in parallel and
# at most 8 database connections per web container.
workers = int(os.environ.get("WEB_CONCURRENCY", str(max(2, os.cpu_count() or 1))))
threads = int(os.environ.get("WEB_THREADS", "4"))
worker_class = "gthread"
bind = [os.environ.get("WEB_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")]

# Import the application once in the master: a broken configuration (no SECRET_KEY with
# DEBUG off) stops the server at start instead of in every worker, and the workers share
# the imported code's memory (portal/wsgi.py freezes it out of garbage collection).
preload_app = True

# A request running longer than this is killed with its worker (and logged); Ctrl-C or
# SIGTERM gives requests in flight this long to finish.
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("WEB_GRACEFUL_TIMEOUT", "10"))
keepalive = 5
# Recycle workers now and then, so that slow growth of a process's memory stays bounded.
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", "5000"))
max_requests_jitter = max_requests // 10

accesslog = "-" if os.environ.get("WEB_ACCESS_LOG", "1") == "1" else None
errorlog = "-"
loglevel = os.environ.get("WEB_LOG_LEVEL", "info")

# No control socket (gunicorn >= 25 makes one in the home directory by default): two
# servers of one user would share its path, and signals already stop and reload.
control_socket_disable = True

# Workers' heartbeat files: in a container /tmp may be a slow overlay; /dev/shm is memory.
if Path("/dev/shm").is_dir() and os.access("/dev/shm", os.W_OK):
    worker_tmp_dir = "/dev/shm"


def when_ready(server) -> None:  # gunicorn's server hook, called once listening
    server.log.info(
        "portal ready: %d workers x %d threads = at most %d database connections",
        workers,
        threads,
        workers * threads,
    )


def child_exit(server, worker) -> None:  # gunicorn's server hook, in the master
    """With PROMETHEUS_MULTIPROC_DIR set (docs/OPERATIONS.md, "Metrics"), a worker that
    exits (recycled after WEB_MAX_REQUESTS, killed at WEB_TIMEOUT) drops its live gauges
    from `/metrics`; its counters stay summed in."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
