"""Serve the portal with the standard library's threaded WSGI server (fault tests only)."""

from __future__ import annotations

import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


if __name__ == "__main__":
    from portal.wsgi import application

    make_server("127.0.0.1", int(sys.argv[1]), application,
                server_class=ThreadingWSGIServer, handler_class=QuietHandler).serve_forever()
