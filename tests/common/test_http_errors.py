"""common.http_errors: the one HTTPError, its plain rendering, and the error middleware."""
from __future__ import annotations

import json
import logging

import pytest
from webob import Request, Response

from common.http_errors import HTTPError, error_middleware, render_plain
from compute.nova_faults import render_nova_fault


def raising(exc):
    def app(environ, start_response):
        raise exc
    return app


def test_plain_rendering_is_one_line_with_the_standard_phrase_and_headers():
    app = error_middleware(raising(HTTPError(404, "no such thing\nsecond line", {"X-A": "b"})))
    resp = Request.blank("/x").get_response(app)
    assert resp.status == "404 Not Found"
    assert resp.body == b"no such thing\n"
    assert resp.headers["X-A"] == "b"
    assert render_plain(HTTPError(599)).body == b"Error\n"


def test_a_bug_goes_on_to_the_runner_without_bug_log():
    app = error_middleware(raising(RuntimeError("boom")))
    with pytest.raises(RuntimeError):
        Request.blank("/x").get_response(app)


def test_a_bug_is_logged_and_rendered_in_the_services_shape_with_bug_log(caplog):
    log = logging.getLogger("brume.test-bugs")
    app = error_middleware(raising(RuntimeError("boom")), render_nova_fault, bug_log=log,
                           bug_message="Unexpected API Error.")
    with caplog.at_level(logging.ERROR, logger="brume.test-bugs"):
        resp = Request.blank("/v2.1/servers").get_response(app)
    assert resp.status_int == 500
    assert json.loads(resp.body) == {
        "computeFault": {"message": "Unexpected API Error.", "code": 500}}
    [record] = caplog.records
    assert record.exc_info and "'/v2.1/servers'" in record.getMessage()


def test_an_answer_passes_through_untouched():
    app = error_middleware(Response(body=b"fine"))
    assert Request.blank("/").get_response(app).body == b"fine"
