"""The portal's WSGI app behind the standard library's threaded server, for the bench.

The project ships no production WSGI server (gunicorn is not a dependency), so the bench
serves through `wsgiref` with a thread per request, as the fault tests do. One process:
intake is bounded by one core's worth of Python (the GIL) whatever the thread count.
"""

from __future__ import annotations

import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 64


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


if __name__ == "__main__":
    from portal.wsgi import application

    make_server("127.0.0.1", int(sys.argv[1]), application,
                server_class=ThreadingWSGIServer, handler_class=QuietHandler).serve_forever()
