"""`auth` as middleware: identity and the authorize callback in the environ, as tempauth does.

The app below calls the callback once it knows the target (and fetches ACLs only when the
decision needs them); sub-requests of the filters between carry the caller's identity, so
large objects and COPY are read and written as that user.
"""
from __future__ import annotations

from types import SimpleNamespace

from webob import Request

from proxy.callers import Caller
from proxy.environ_keys import AUTHORIZE_KEY, IDENTITY_KEY
from proxy.pipeline import make_app
from proxy.target import parse_target
from tests.proxy.cluster import pipeline_conf
from tests.proxy.conftest import rings_for

SEEN: list = []


def recording_filter_factory(global_conf, **local_conf):
    """Below auth: records (identity, authorize callback) of every request."""

    def make(app):
        def record(environ, start_response):
            SEEN.append((environ.get(IDENTITY_KEY), environ.get(AUTHORIZE_KEY), environ))
            return app(environ, start_response)
        return record
    return make


EXTRA = ("[filter:record]\n"
         "paste.filter_factory = tests.proxy.test_auth_middleware:recording_filter_factory\n")


def test_identity_and_callback_reach_the_filters_below(storage_cluster, tester):
    app = make_app(pipeline_conf(storage_cluster, "catch_errors auth record proxy-server", EXTRA),
                   rings_for(storage_cluster.conf_dir))
    SEEN.clear()
    token = {"X-Auth-Token": tester.token}
    assert Request.blank("/v1/AUTH_test", headers=token).get_response(app).status_int in (200,
                                                                                          204)
    identity, authorize, environ = SEEN[-1]
    assert isinstance(identity, Caller) and identity.user_id == "tester"
    fetched = []

    def missing_container():
        fetched.append(True)
        return SimpleNamespace(exists=False)

    def never():
        raise AssertionError("an owner's request needs no ACLs")

    _version, target, _reason = parse_target("/v1/AUTH_test2/c/o")
    assert authorize(environ, "GET", target, missing_container).status == 403
    assert fetched == [True]
    _version, own, _reason = parse_target("/v1/AUTH_test/c/o")
    assert authorize(environ, "DELETE", own, never) is None

    assert Request.blank("/v1/AUTH_test").get_response(app).status_int == 401
    identity, authorize, _environ = SEEN[-1]
    assert identity is None and authorize is not None


def test_bad_token_is_refused_on_v1_paths_only(proxy_app):
    bad = {"X-Auth-Token": "BRM_not-a-token"}
    resp = Request.blank("/v1/AUTH_test", headers=bad).get_response(proxy_app)
    assert resp.status_int == 401 and resp.body == b"invalid or expired token"
    assert Request.blank("/v2/AUTH_test", headers=bad).get_response(proxy_app).status_int == 404
    assert Request.blank("/v1/AUTH_test/%ff", headers=bad).get_response(proxy_app) \
        .status_int == 412
    resp = Request.blank("/v1/AUTH_test/" + "c" * 300, headers=bad).get_response(proxy_app)
    assert resp.status_int == 401  # the token is checked before the names, as before
    assert Request.blank("/info", headers=bad).get_response(proxy_app).status_int == 200


def test_large_objects_are_read_as_the_caller(tester, tester3):
    assert tester("PUT", "authmw-pub").status_int in (201, 202)
    assert tester("PUT", "authmw-priv").status_int in (201, 202)
    assert tester("POST", "authmw-pub", headers={"X-Container-Read": "test:tester3"}) \
        .status_int == 204
    part = tester("PUT", "authmw-priv/seg/1", b"private bytes")
    assert part.status_int == 201
    assert tester("PUT", "authmw-pub/dlo", b"",
                  {"X-Object-Manifest": "authmw-priv/seg/"}).status_int == 201
    manifest = (b'[{"path": "/authmw-priv/seg/1", "etag": null, "size_bytes": null}]')
    assert tester("PUT", "authmw-pub/slo?multipart-manifest=put", manifest).status_int == 201
    assert tester("GET", "authmw-pub/dlo").body == b"private bytes"
    assert tester("GET", "authmw-pub/slo").body == b"private bytes"
    # tester3 may read the manifests' container, not the segments' one.
    assert tester3.call("GET", "/v1/AUTH_test/authmw-pub/dlo").status_int == 403
    assert tester3.call("GET", "/v1/AUTH_test/authmw-pub/slo").status_int == 409
    # ... and COPY writes as the caller too.
    resp = tester3.call("COPY", "/v1/AUTH_test/authmw-pub/dlo",
                        headers={"Destination": "authmw-pub/copy"})
    assert resp.status_int == 403
    assert tester("HEAD", "authmw-pub/copy").status_int == 404
