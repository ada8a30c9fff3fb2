"""Serve the portal with Django's threaded WSGI server (fault tests only).

Django's server closes each request thread's database connection when the request ends.
"""

from __future__ import annotations

import sys
from wsgiref.simple_server import WSGIRequestHandler, make_server

from django.core.servers.basehttp import ThreadedWSGIServer


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


if __name__ == "__main__":
    from portal.wsgi import application

    make_server(
        "127.0.0.1",
        int(sys.argv[1]),
        application,
        server_class=ThreadedWSGIServer,
        handler_class=QuietHandler,
    ).serve_forever()
