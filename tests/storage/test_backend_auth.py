"""Backend request signatures (common.backend_auth) and what the storage servers do with them.

The servers here are the real apps from make_app on temp dirs; the refusals are checked to
change nothing on disk.
"""
from __future__ import annotations

import os
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from webob import Request

from common.backend_auth import (
    AUTH_HEADER,
    DEV_BACKEND_SECRET,
    SIGNED_HEADERS,
    BackendAuth,
    load_backend_auth,
)
from common.config import ConfigError
from common.timestamp import Timestamp
from storage.databases.account_server import make_app as make_account_app
from storage.databases.container_server import make_app as make_container_app
from tests.storage import signing
from tests.storage.test_container_server import write_confs

AUTH = BackendAuth("unit-test-secret", window=60.0)
NOW = 1_700_000_000.0


def environ_for(method, path, headers, query=""):
    target = quote(path) + (f"?{query}" if query else "")
    return Request.blank(target, method=method, headers=headers).environ


def signed_environ(method="PUT", path="/sda/1/a/c/o", headers=None, query="", now=NOW,
                   auth=AUTH):
    headers = dict(headers or {"X-Timestamp": "1700000000.00000"})
    headers[AUTH_HEADER] = auth.sign(method, path, headers, query, now)
    return environ_for(method, path, headers, query)


def test_a_signed_request_verifies():
    assert AUTH.refusal(signed_environ(), now=NOW) == ""
    assert AUTH.refusal(signed_environ(path="/sda/1/a/c/caf\u00e9 \u2603"), now=NOW) == ""
    assert AUTH.refusal(signed_environ("GET", "/sda/1/a/c", query="format=json&limit=2",
                                       headers={}), now=NOW) == ""


@pytest.mark.parametrize("change", ["method", "path", "query", "secret"])
def test_anything_signed_changed_is_refused(change):
    environ = signed_environ(query="a=1")
    if change == "method":
        environ["REQUEST_METHOD"] = "DELETE"
    elif change == "path":
        environ["PATH_INFO"] = "/sda/1/a/c/other"
    elif change == "query":
        environ["QUERY_STRING"] = "a=2"
    else:
        environ = signed_environ(query="a=1", auth=BackendAuth("another secret"))
    assert AUTH.refusal(environ, now=NOW) == f"bad {AUTH_HEADER} signature"


@given(st.sampled_from(SIGNED_HEADERS), st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=20))
def test_every_signed_header_is_covered(name, value):
    headers = {"X-Timestamp": "1700000000.00000"}
    environ = signed_environ(headers=headers)
    key = "HTTP_" + name.upper().replace("-", "_")
    if environ.get(key, "") == value:
        return
    environ[key] = value
    assert AUTH.refusal(environ, now=NOW) == f"bad {AUTH_HEADER} signature"


def test_unsigned_headers_may_differ():
    environ = signed_environ()
    environ["HTTP_X_OBJECT_META_COLOR"] = "blue"  # metadata travels like the body: unsigned
    assert AUTH.refusal(environ, now=NOW) == ""


@pytest.mark.parametrize("skew", [-61.0, 61.0, -3600.0])
def test_stale_or_future_signatures_are_refused(skew):
    reason = AUTH.refusal(signed_environ(now=NOW + skew), now=NOW)
    assert "outside the 60 s window" in reason
    assert AUTH.refusal(signed_environ(now=NOW + (59.0 if skew > 0 else -59.0)), now=NOW) == ""


@pytest.mark.parametrize("value", [
    "", "nonsense", "1700000000.000", "1700000000 abc", "nan deadbeef", "inf deadbeef",
    "\u0661\u0662.000 ab", "1e9 ab", " 1700000000.000", "1700000000.000 \u00e9\u00e9",
])
def test_missing_or_malformed_headers_are_refused(value):
    environ = signed_environ()
    if value:
        environ["HTTP_X_BACKEND_AUTH"] = value
    else:
        del environ["HTTP_X_BACKEND_AUTH"]
    assert AUTH.refusal(environ, now=NOW) != ""


def test_cluster_conf_secret_and_window(tmp_path):
    (tmp_path / "brume.conf").write_text("[cluster]\nhash_path_prefix = p\n")
    auth = load_backend_auth(str(tmp_path))
    assert auth.window == 60.0
    assert BackendAuth(DEV_BACKEND_SECRET).sign("GET", "/x", {}, now=NOW) == auth.sign(
        "GET", "/x", {}, now=NOW)
    (tmp_path / "brume.conf").write_text(
        "[cluster]\nbackend_secret = s3cr3t\nbackend_auth_window = 5\n")
    auth = load_backend_auth(str(tmp_path))
    assert auth.window == 5.0
    assert auth.sign("GET", "/x", {}, now=NOW) == BackendAuth("s3cr3t").sign("GET", "/x", {},
                                                                              now=NOW)
    (tmp_path / "brume.conf").write_text("[cluster]\nbackend_auth_window = soon\n")
    with pytest.raises(ConfigError, match="backend_auth_window"):
        load_backend_auth(str(tmp_path))


# ----- the container and account servers (the object server: test_object_server.py)
@pytest.fixture(params=["container", "account"])
def db_app(request, tmp_path):
    conf_path, devices = write_confs(tmp_path, request.param)
    if request.param == "container":
        return make_container_app(conf_path), devices, "/sda/1/AUTH_a/c"
    return make_account_app(conf_path), devices, "/sda/1/AUTH_a"


def test_db_servers_refuse_unsigned_requests_and_change_nothing(db_app):
    app, devices, entity = db_app
    stamp = Timestamp.now().normal
    for method, path in (("PUT", entity), ("DELETE", entity), ("POST", entity),
                         ("REPLICATE", "/sda/1/" + "a" * 32), ("GET", entity)):
        unsigned = Request.blank(path, method=method, headers={"X-Timestamp": stamp})
        resp = unsigned.get_response(app)
        assert resp.status_int == 401
        assert resp.body == f"unauthorized backend request: missing {AUTH_HEADER}\n".encode()
        forged = Request.blank(path, method=method, headers={"X-Timestamp": stamp})
        signing.sign(forged, BackendAuth("not the cluster's secret"))
        assert forged.get_response(app).status_int == 401
    assert os.listdir(os.path.join(devices, "sda")) == []
    assert signing.blank(app.backend_auth, entity, "PUT",
                         {"X-Timestamp": stamp}).get_response(app).status_int == 201


def test_object_server_refuses_unsigned_requests_and_changes_nothing(object_env):
    stamp = Timestamp.now().normal
    assert object_env.put(body=b"kept").status_int == 201
    before = object_env.files()
    for method, path in (("PUT", "/sda/1/a/c/o"), ("DELETE", "/sda/1/a/c/o"),
                         ("POST", "/sda/1/a/c/o"), ("GET", "/sda/1/a/c/o"),
                         ("REPLICATE", "/sda/1"), ("REPLICATE", "/sda/1/abc"),
                         ("SYNC", f"/sda/1/{'a' * 32}/{stamp}.data"),
                         ("GET", "/recon/diskusage")):
        for auth in (None, BackendAuth("not the cluster's secret")):
            req = Request.blank(path, method=method, body=b"evil",
                                headers={"X-Timestamp": stamp, "X-Backend-Metadata-Length": "1"})
            if auth is not None:
                signing.sign(req, auth)
            assert req.get_response(object_env.app).status_int == 401, (method, path)
    assert object_env.files() == before
    assert object_env.request("/sda/1/a/c/o").body == b"kept"
