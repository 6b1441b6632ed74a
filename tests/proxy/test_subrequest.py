"""`proxy.subrequest.call_or_pass`: answers a middleware acts on come back to it; every other
answer goes straight on to the server's start_response, untouched but for the headers hook."""
from __future__ import annotations

import pytest

from proxy.subrequest import call_or_pass


def eager_app(status, headers, body):
    def app(environ, start_response):
        start_response(status, list(headers))
        return body
    return app


def lazy_app(status, headers, chunks):
    """Starts the response only when the body is first iterated."""
    def app(environ, start_response):
        def body():
            start_response(status, list(headers))
            yield from chunks
        return body()
    return app


class Recorder:
    def __init__(self):
        self.calls = []

    def __call__(self, status, headers, exc_info=None):
        self.calls.append((status, headers))
        return lambda data: None


def keep_manifests(status, headers):
    return any(name.lower() == "x-object-manifest" for name, _ in headers)


@pytest.mark.parametrize("make_app", [eager_app, lazy_app])
def test_an_answer_not_kept_is_started_at_once_and_its_body_handed_back(make_app):
    app = make_app("200 OK", [("Content-Length", "2"), ("X-Object-Sysmeta-A", "s")], [b"ok"])
    start = Recorder()
    response, body = call_or_pass(app, {}, start, keep_manifests,
                                  lambda hs: [h for h in hs if "Sysmeta" not in h[0]])
    assert response is None
    assert start.calls == [("200 OK", [("Content-Length", "2")])]
    assert b"".join(body) == b"ok"


@pytest.mark.parametrize("make_app", [eager_app, lazy_app])
def test_a_kept_answer_comes_back_whole_and_nothing_is_started(make_app):
    app = make_app("200 OK", [("X-Object-Manifest", "c/p"), ("Content-Length", "3")], [b"abc"])
    start = Recorder()
    response, body = call_or_pass(app, {}, start, keep_manifests)
    assert body is None and start.calls == []
    assert response.status == 200
    assert response.header("x-object-manifest") == "c/p"
    assert b"".join(response.app_iter) == b"abc"


def test_the_status_decides_too():
    start = Recorder()
    response, _body = call_or_pass(eager_app("416 Requested Range Not Satisfiable", [], [b""]),
                                   {}, start, lambda status, headers: status == 416)
    assert response.status == 416 and start.calls == []
    response, body = call_or_pass(eager_app("200 OK", [], [b"x"]), {}, start,
                                  lambda status, headers: status == 416)
    assert response is None and start.calls == [("200 OK", [])] and list(body) == [b"x"]
