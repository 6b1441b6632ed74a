"""The runner's outermost WSGI layer: an exception no application handled becomes a 500.

Every Brume app answers bad input with a 4xx itself; this layer is the last line for bugs.
The exception is logged with its traceback on the server (`brume.unhandled`) and the client
gets a plain one-line `500 Internal Server Error`, never a traceback. The log line and the
answer are built only from values that cannot fail (the method and a `repr` of the raw
path), so the handler itself never raises. When the status was already sent,
`start_response` re-raises the error (PEP 3333) and the server cuts the connection; an
exception raised while the body streams is left to the server the same way (a client never
sees a clean-looking short body).
"""
from __future__ import annotations

import logging
import sys

LOG = logging.getLogger("brume.unhandled")
BODY = b"internal server error\n"


def last_resort_middleware(app):
    """Wrap `app` so that an exception escaping it becomes a logged traceback and a 500."""

    def wrapped(environ, start_response):
        try:
            return app(environ, start_response)
        except Exception:
            LOG.exception("unhandled error on %s %s", _method(environ), _path(environ))
            start_response(
                "500 Internal Server Error",
                [("Content-Type", "text/plain; charset=UTF-8"),
                 ("Content-Length", str(len(BODY)))],
                sys.exc_info(),
            )
            return [BODY]

    return wrapped


def _method(environ) -> str:
    return repr(environ.get("REQUEST_METHOD"))[:40]


def _path(environ) -> str:
    return repr(environ.get("PATH_INFO"))[:300]
