"""One error type for every Brume service, and the middleware that turns it into a response.

A handler anywhere below `error_middleware` aborts with `raise HTTPError(status, message)`;
the middleware answers with the service's own rendering of it: one line of text/plain for the
Swift-shaped services (`render_plain`), Nova's `{"badRequest": {...}}` for compute, and so
on. The message is always cut to its first line, so input quoted in a reason can never make a
multi-line body. The runner's `common.last_resort` stays outermost for bugs (500).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus

from webob import Response


class HTTPError(Exception):
    """Abort the request with `status`, a one-line `message` and optional extra headers."""

    def __init__(self, status: int, message: str = "", headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})

    @property
    def title(self) -> str:
        """The standard reason phrase of the status ("Not Found"), or "Error"."""
        return reason_phrase(self.status)

    @property
    def first_line(self) -> str:
        """The message's first line, or the reason phrase when there is no message."""
        lines = self.message.splitlines()
        return lines[0] if lines and lines[0] else self.title


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def render_plain(error: HTTPError) -> Response:
    """`<status> <phrase>` with the message's first line as a text/plain body."""
    response = Response(status=f"{error.status} {error.title}",
                        body=(error.first_line + "\n").encode("utf-8", "replace"),
                        content_type="text/plain", charset="utf-8")
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


Renderer = Callable[[HTTPError], Response]


def error_middleware(app, render: Renderer = render_plain, *,
                     bug_log: logging.Logger | None = None, bug_message: str = ""):
    """Wrap a WSGI app: an `HTTPError` it raises becomes `render(error)`'s response.

    With `bug_log`, any other exception raised before the app answered is logged there with
    its traceback and answered as a 500 in the service's own shape (`bug_message`), for APIs
    whose clients expect every error in one format (Nova's JSON faults). Without it, bugs go
    on to the runner's `common.last_resort` (a plain one-line 500).
    """

    def wrapped(environ, start_response):
        try:
            return app(environ, start_response)
        except HTTPError as error:
            return render(error)(environ, start_response)
        except Exception:
            if bug_log is None:
                raise
            bug_log.exception("unexpected error on %s %s", repr(environ.get("REQUEST_METHOD"))[:40],
                              repr(environ.get("PATH_INFO"))[:300])
            return render(HTTPError(500, bug_message))(environ, start_response)

    return wrapped
