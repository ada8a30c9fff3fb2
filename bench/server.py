"""The portal's WSGI app behind a thread-per-request server, for the bench.

The project ships no production WSGI server (gunicorn is not a dependency), so the bench
serves through Django's threaded server (the one `runserver` uses), as the fault tests
do. It closes each request thread's database connection when the request ends; a plain
`ThreadingMixIn` server leaves them to the garbage collector, and with the web process's
GC tuning (`portal/wsgi.py`) they piled up to PostgreSQL's `max_connections` within a
minute of steady traffic. One process: intake is bounded by one core's worth of Python
(the GIL) whatever the thread count.
"""

from __future__ import annotations

import sys
from wsgiref.simple_server import WSGIRequestHandler, make_server

from django.core.servers.basehttp import ThreadedWSGIServer


class BenchWSGIServer(ThreadedWSGIServer):
    request_queue_size = 64


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


if __name__ == "__main__":
    from portal.wsgi import application

    make_server(
        "127.0.0.1",
        int(sys.argv[1]),
        application,
        server_class=BenchWSGIServer,
        handler_class=QuietHandler,
    ).serve_forever()
