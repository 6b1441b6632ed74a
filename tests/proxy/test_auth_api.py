"""The /auth/v1.0 endpoint and token checks of the proxy, against a real storage cluster."""
from __future__ import annotations

from webob import Request

from common.tokens import issue_token
from proxy.server import make_app
from tests.proxy.cluster import free_port, write_proxy_conf
from tests.proxy.conftest import rings_for


def auth(app, headers, host="proxy.example:8080"):
    req = Request.blank("/auth/v1.0", headers=dict(headers, Host=host))
    return req.get_response(app)


def test_auth_returns_token_and_storage_url(proxy_app):
    resp = auth(proxy_app, {"X-Auth-User": "test:tester", "X-Auth-Key": "testing"})
    assert resp.status_int == 200
    assert resp.headers["X-Auth-Token"].startswith("BRM_")
    assert resp.headers["X-Storage-Token"] == resp.headers["X-Auth-Token"]
    assert resp.headers["X-Storage-Url"] == "http://proxy.example:8080/v1/AUTH_test"
    assert 86000 < int(resp.headers["X-Auth-Token-Expires"]) <= 86400


def test_auth_accepts_storage_headers_and_trailing_slash(proxy_app):
    req = Request.blank("/auth/v1.0/", headers={"X-Storage-User": "test2:tester2",
                                                "X-Storage-Pass": "testing2"})
    resp = req.get_response(proxy_app)
    assert resp.status_int == 200
    assert resp.headers["X-Storage-Url"].endswith("/v1/AUTH_test2")


def test_bad_credentials_get_401_and_no_token(proxy_app):
    for headers in ({"X-Auth-User": "test:tester", "X-Auth-Key": "wrong"},
                    {"X-Auth-User": "test:nobody", "X-Auth-Key": "testing"},
                    {"X-Auth-User": "test:tester"},
                    {}):
        resp = auth(proxy_app, headers)
        assert resp.status_int == 401
        assert "X-Auth-Token" not in resp.headers


def test_requests_without_or_with_bad_tokens(proxy_app, tester):
    assert tester("PUT", "authc").status_int in (201, 202)
    assert tester("GET", "authc").status_int in (200, 204)
    no_token = Request.blank("/v1/AUTH_test/authc").get_response(proxy_app)
    assert no_token.status_int == 401
    forged = Request.blank("/v1/AUTH_test/authc",
                           headers={"X-Auth-Token": tester.token[:-4] + "AAAA"})
    assert forged.get_response(proxy_app).status_int == 401
    expired, _ = issue_token("brume-dev-token-secret", "test", "tester", [".admin"], -10)
    req = Request.blank("/v1/AUTH_test/authc", headers={"X-Auth-Token": expired})
    assert req.get_response(proxy_app).status_int == 401
    other, _ = issue_token("another-secret", "test", "tester", [".admin"], 100)
    req = Request.blank("/v1/AUTH_test/authc", headers={"X-Storage-Token": other})
    assert req.get_response(proxy_app).status_int == 401


def test_token_valid_on_another_proxy_and_after_restart(storage_cluster, tester):
    assert tester("PUT", "shared").status_int in (201, 202)
    conf = write_proxy_conf(storage_cluster.base, storage_cluster.conf_dir, free_port())
    second = make_app(conf, rings_for(storage_cluster.conf_dir))
    req = Request.blank("/v1/AUTH_test/shared", headers={"X-Auth-Token": tester.token})
    assert req.get_response(second).status_int in (200, 204)


def test_info_is_public_json(proxy_app):
    resp = Request.blank("/info").get_response(proxy_app)
    assert resp.status_int == 200
    info = resp.json
    assert info["swift"]["max_file_size"] == 5 * 1024**3
    assert info["swift"]["container_listing_limit"] == 10000
    assert "slo" in info and info["slo"]["max_manifest_segments"] == 1000
    assert "dlo" in info and "tempauth" in info


def test_unknown_paths(proxy_app, tester):
    assert tester.call("GET", "/v2/AUTH_test").status_int == 404
    assert tester.call("GET", "/").status_int == 404
    assert tester.call("GET", "/v1/AUTH_test/%ff%fe").status_int == 412
