"""`catch_errors`: a transaction id on every response; errors below it become one-line answers."""
from __future__ import annotations

import logging

from webob import Request

from common.http_errors import HTTPError
from proxy.transaction import TRANS_ID
from tests.proxy.cluster import pipeline_conf
from tests.proxy.conftest import rings_for

SEEN_TRANS_IDS: list = []


def trouble_filter_factory(global_conf, **local_conf):
    """Below catch_errors: /boom raises a bug, /teapot an HTTPError; records the context id."""

    def make(app):
        def troubled(environ, start_response):
            SEEN_TRANS_IDS.append(TRANS_ID.get())
            if environ["PATH_INFO"] == "/boom":
                raise RuntimeError("kaboom\nwith a second line")
            if environ["PATH_INFO"] == "/teapot":
                raise HTTPError(418, "short and stout\nand more")
            return app(environ, start_response)
        return troubled
    return make


EXTRA = ("[filter:trouble]\n"
         "paste.filter_factory = tests.proxy.test_catch_errors:trouble_filter_factory\n")


def trouble_app(storage_cluster):
    from proxy.pipeline import make_app

    return make_app(pipeline_conf(storage_cluster, "catch_errors trouble auth proxy-server", EXTRA),
                    rings_for(storage_cluster.conf_dir))


def test_every_response_has_a_fresh_trans_id(proxy_app, tester):
    answers = [
        tester("GET"),
        tester("GET", "no-such-container"),
        Request.blank("/v1/AUTH_test").get_response(proxy_app),
        Request.blank("/auth/v1.0", headers={"X-Auth-User": "x:y"}).get_response(proxy_app),
        Request.blank("/info").get_response(proxy_app),
        Request.blank("/nowhere").get_response(proxy_app),
    ]
    ids = [resp.headers["X-Trans-Id"] for resp in answers]
    assert all(tid.startswith("tx") for tid in ids) and len(set(ids)) == len(ids)
    assert all(resp.headers["X-Openstack-Request-Id"] == resp.headers["X-Trans-Id"]
               for resp in answers)


def test_the_trans_id_is_the_context_one_below(storage_cluster):
    app = trouble_app(storage_cluster)
    SEEN_TRANS_IDS.clear()
    resp = Request.blank("/info").get_response(app)
    assert SEEN_TRANS_IDS == [resp.headers["X-Trans-Id"]]


def test_a_bug_below_is_a_logged_one_line_500(storage_cluster, caplog):
    app = trouble_app(storage_cluster)
    with caplog.at_level(logging.ERROR, logger="brume.proxy"):
        resp = Request.blank("/boom").get_response(app)
    assert resp.status_int == 500
    assert resp.body == b"internal error\n"
    assert resp.headers["X-Trans-Id"].startswith("tx")
    assert any(resp.headers["X-Trans-Id"] in record.getMessage() and record.exc_info
               for record in caplog.records)


def test_an_http_error_below_is_its_one_line_answer(storage_cluster):
    resp = Request.blank("/teapot").get_response(trouble_app(storage_cluster))
    assert resp.status_int == 418 and resp.body == b"short and stout\n"
    assert resp.headers["X-Trans-Id"].startswith("tx")
