"""The proxy's pipeline: built from `[pipeline:main]`, reordered, trimmed, extended by operators."""
from __future__ import annotations

import pytest
from webob import Request

from common.config import ConfigError
from common.wsgi_server import build
from proxy.middleware.auth import AuthMiddleware
from proxy.middleware.catch_errors import CatchErrors
from proxy.middleware.slo import StaticLargeObject
from proxy.pipeline import load_pipeline, make_app
from proxy.server import ProxyApp
from tests.proxy.cluster import SAMPLE_PIPELINE, pipeline_conf
from tests.proxy.conftest import Client, rings_for

FULL = SAMPLE_PIPELINE


def tagging_filter_factory(global_conf, **local_conf):
    """A third-party filter: adds `X-Tag: <tag>` to every response."""
    tag = local_conf.get("tag", "none")

    def make(app):
        def tagged(environ, start_response):
            def start(status, headers, exc_info=None):
                return start_response(status, [*headers, ("X-Tag", tag)], exc_info)
            return app(environ, start)
        return tagged
    return make


def info_of(app) -> dict:
    return Request.blank("/info").get_response(app).json


def test_sample_pipeline_is_built_outermost_first(storage_cluster):
    pipeline = make_app(pipeline_conf(storage_cluster), rings_for(storage_cluster.conf_dir))
    assert pipeline.names == FULL.split()
    assert isinstance(pipeline.head, CatchErrors) and pipeline.head is pipeline.layers[0]
    assert isinstance(pipeline.app, ProxyApp)
    kinds = [type(layer).__name__ for layer in pipeline.layers]
    assert kinds == ["CatchErrors", "Healthcheck", "Cors", "DomainRemap", "EtagQuoter",
                     "TempUrlMiddleware",
                     "AuthMiddleware", "FormPostMiddleware", "StaticWeb", "ServerSideCopy",
                     "StaticLargeObject", "DynamicLargeObject", "VersionedWrites",
                     "Symlink", "ObjectVersioning"]
    below = [*pipeline.layers[2:], pipeline.app]
    for upper, lower in zip(pipeline.layers[1:], below, strict=True):
        assert upper.app is lower


def test_info_lists_the_middleware_present(storage_cluster):
    full = info_of(make_app(pipeline_conf(storage_cluster), rings_for(storage_cluster.conf_dir)))
    assert {"swift", "slo", "dlo", "tempauth", "symlink", "versioned_writes", "cors",
            "domain_remap", "staticweb", "etag_quoter"} <= set(full)
    assert full["swift"]["strict_cors_mode"] is True
    trimmed = make_app(pipeline_conf(storage_cluster, "catch_errors auth dlo proxy-server"),
                       rings_for(storage_cluster.conf_dir))
    info = info_of(trimmed)
    assert "slo" not in info and "dlo" in info and "tempauth" in info
    assert "strict_cors_mode" not in info["swift"]  # Swift's suite skips CORS without cors
    assert info["swift"]["max_file_size"] == 5 * 1024**3


def test_dropped_filters_are_gone(storage_cluster):
    app = make_app(pipeline_conf(storage_cluster, "auth proxy-server"),
                   rings_for(storage_cluster.conf_dir))
    tester = Client(app, "test:tester", "testing")
    assert tester("PUT", "pipe-trim").status_int in (201, 202)
    assert tester("PUT", "pipe-trim/o", b"bytes").status_int == 201
    resp = tester("COPY", "pipe-trim/o", headers={"Destination": "pipe-trim/o2"})
    assert resp.status_int == 405  # no copy filter: the app knows no COPY
    assert "X-Trans-Id" not in resp.headers  # no catch_errors
    assert Request.blank("/healthcheck").get_response(app).status_int == 412  # Bad URL, as Swift


def test_without_auth_the_pipeline_is_closed(storage_cluster, tester):
    app = make_app(pipeline_conf(storage_cluster, "catch_errors healthcheck proxy-server"),
                   rings_for(storage_cluster.conf_dir))
    for method, path in (("GET", "/v1/AUTH_test"), ("PUT", "/v1/AUTH_test/c"),
                         ("GET", "/v1/AUTH_test/c/o")):
        resp = Request.blank(path, method=method).get_response(app)
        assert resp.status_int == 401, (method, path)
        resp = Request.blank(path, method=method,
                             headers={"X-Auth-Token": tester.token}).get_response(app)
        assert resp.status_int == 401, (method, path)  # nobody checks the token: refused
    assert Request.blank("/auth/v1.0").get_response(app).status_int == 404
    assert Request.blank("/info").get_response(app).status_int == 200
    assert Request.blank("/healthcheck").get_response(app).body == b"OK"


def test_own_filter_by_factory_anywhere_in_the_pipeline(storage_cluster):
    extra = ("[filter:tag]\n"
             "paste.filter_factory = tests.proxy.test_pipeline:tagging_filter_factory\n"
             "tag = blue\n")
    app = make_app(pipeline_conf(storage_cluster, "catch_errors tag auth proxy-server", extra),
                   rings_for(storage_cluster.conf_dir))
    resp = Request.blank("/info").get_response(app)
    assert resp.status_int == 200 and resp.headers["X-Tag"] == "blue"
    assert resp.headers["X-Trans-Id"].startswith("tx")


def test_reordered_filters_follow_the_config(storage_cluster):
    app = make_app(pipeline_conf(storage_cluster, "auth catch_errors proxy-server"),
                   rings_for(storage_cluster.conf_dir))
    assert isinstance(app.head, AuthMiddleware) and isinstance(app.layers[1], CatchErrors)
    resp = Request.blank("/auth/v1.0", headers={"X-Auth-User": "test:tester",
                                                "X-Auth-Key": "testing"}).get_response(app)
    assert resp.status_int == 200 and "X-Trans-Id" not in resp.headers  # auth answered above


@pytest.mark.parametrize("pipeline, expected", [
    ("catch_errors nosuch proxy-server", "'nosuch'"),
    ("catch_errors", "[app:catch_errors]"),
    ("   ", "pipeline"),
])
def test_pipeline_mistakes_are_one_line(storage_cluster, pipeline, expected):
    with pytest.raises(ConfigError) as excinfo:
        load_pipeline(pipeline_conf(storage_cluster, pipeline))
    message = str(excinfo.value)
    assert expected in message and "\n" not in message


def test_runner_leaves_healthcheck_to_the_pipeline(storage_cluster, tmp_path):
    _server, app = build(pipeline_conf(storage_cluster, "catch_errors auth proxy-server"))
    assert Request.blank("/healthcheck").get_response(app).status_int == 412  # Bad URL, as Swift
    _server, app = build(pipeline_conf(storage_cluster))
    resp = Request.blank("/healthcheck").get_response(app)
    assert resp.body == b"OK" and resp.headers["X-Trans-Id"].startswith("tx")


def test_filter_options_are_checked(storage_cluster):
    path = pipeline_conf(storage_cluster)
    with open(path) as handle:
        text = handle.read()
    with open(path, "w") as handle:
        handle.write(text.replace("use = egg:brume#copy", "use = egg:brume#copy\nspeed = 3"))
    with pytest.raises(ConfigError) as excinfo:
        load_pipeline(path)
    assert "[filter:copy] unknown option 'speed'" in str(excinfo.value)


def test_slo_options_reach_the_middleware(storage_cluster):
    path = pipeline_conf(storage_cluster)
    with open(path) as handle:
        text = handle.read()
    with open(path, "w") as handle:
        handle.write(text.replace("max_manifest_segments = 1000", "max_manifest_segments = 7"))
    app = make_app(path, rings_for(storage_cluster.conf_dir))
    slo = next(layer for layer in app.layers if isinstance(layer, StaticLargeObject))
    assert slo.max_manifest_segments == 7
    assert info_of(app)["slo"]["max_manifest_segments"] == 7


def test_a_config_from_before_the_pipeline_says_what_to_move(tmp_path):
    path = tmp_path / "old-proxy.conf"
    path.write_text("[server]\napp = proxy.server:make_app\nbind_port = 8080\n"
                    "conf_dir = /nowhere\n\n[proxy-server]\nnode_timeout = 10\n\n"
                    "[auth]\ntoken_secret = s\n\n[users]\n")
    with pytest.raises(ConfigError) as excinfo:
        build(str(path))
    message = str(excinfo.value)
    assert "[pipeline:main]" in message and "[filter:auth]" in message
    assert "\n" not in message
