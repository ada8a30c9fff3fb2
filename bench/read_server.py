"""The portal's WSGI app for the read benchmark: one process, one request at a time.

Like a synchronous worker of a production WSGI server (gunicorn's default), it keeps its
PostgreSQL connection between requests (CONN_MAX_AGE). A thread-per-request server
would open a new database connection for every request, which is not what is measured.
"""

from __future__ import annotations

import sys
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


if __name__ == "__main__":
    from portal.wsgi import application

    make_server(
        "127.0.0.1",
        int(sys.argv[1]),
        application,
        server_class=WSGIServer,
        handler_class=QuietHandler,
    ).serve_forever()
