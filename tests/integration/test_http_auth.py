"""Auth rules end to end over raw HTTP: v1 auth answers, missing/forged/expired/foreign tokens,
and tokens that survive a proxy restart. Each refusal checks that nothing changed."""
from __future__ import annotations

import time

import pytest

from cli.allinone.configs import find_option
from common.tokens import issue_token
from tests.integration.httpraw import request

pytestmark = pytest.mark.cluster


@pytest.fixture
def seeded(cluster, name):
    """(token, storage_url, container) with object 'obj' = b'kept' in account test."""
    token, url = cluster.auth("test:tester")
    container = name("auth")
    assert request(url, "PUT", {"X-Auth-Token": token}, path=f"/{container}").status in (201, 202)
    reply = request(url, "PUT", {"X-Auth-Token": token}, b"kept", path=f"/{container}/obj")
    assert reply.status == 201
    return token, url, container


def still_kept(token, url, container) -> bool:
    reply = request(url, "GET", {"X-Auth-Token": token}, path=f"/{container}/obj")
    return reply.status == 200 and reply.body == b"kept"


def token_secret(cluster) -> str:
    return find_option(cluster.layout.spec("proxy").conf_path, "token_secret")


def test_auth_answers_token_url_and_expiry(cluster):
    reply = request(cluster.auth_url, headers={"X-Auth-User": "test:tester",
                                               "X-Auth-Key": "testing"})
    assert reply.status in (200, 204)
    assert reply.headers["x-auth-token"].startswith("BRM_")
    assert reply.headers["x-storage-url"] == f"{cluster.proxy_url}/v1/AUTH_test"
    assert int(float(reply.headers["x-auth-token-expires"])) > 0
    assert reply.headers.get("x-storage-token") in (None, reply.headers["x-auth-token"])


@pytest.mark.parametrize("headers", [
    {"X-Auth-User": "test:tester", "X-Auth-Key": "wrong"},
    {"X-Auth-User": "test:nobody", "X-Auth-Key": "testing"},
    {"X-Auth-User": "nosuch:tester", "X-Auth-Key": "testing"},
    {"X-Auth-User": "test:tester"},
    {},
])
def test_bad_credentials_get_401(cluster, headers):
    reply = request(cluster.auth_url, headers=headers)
    assert reply.status == 401
    assert "x-auth-token" not in reply.headers


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "POST", "DELETE"])
def test_no_token_is_401_and_changes_nothing(seeded, method):
    token, url, container = seeded
    headers = {"X-Object-Meta-X": "1"} if method == "POST" else {}
    body = b"changed" if method == "PUT" else None
    reply = request(url, method, headers, body, path=f"/{container}/obj")
    assert reply.status == 401
    assert still_kept(token, url, container)
    assert request(url, "HEAD", {"X-Auth-Token": token},
                   path=f"/{container}/obj").headers.get("x-object-meta-x") is None


def test_garbage_and_tampered_tokens_are_401(cluster, seeded):
    token, url, container = seeded
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    forged_payload, _ = issue_token("not-the-secret", "test", "tester", [".reseller_admin"])
    for bad in ("garbage", "BRM_", tampered, forged_payload, "x" * 5000):
        reply = request(url, "PUT", {"X-Auth-Token": bad}, b"changed", path=f"/{container}/obj")
        assert reply.status == 401, bad[:40]
        reply = request(url, "DELETE", {"X-Auth-Token": bad}, path=f"/{container}/obj")
        assert reply.status == 401
    assert still_kept(token, url, container)


def test_expired_token_is_401(cluster, seeded):
    token, url, container = seeded
    expired, _ = issue_token(token_secret(cluster), "test", "tester", [".admin"],
                             life_seconds=-10, now=time.time())
    reply = request(url, "DELETE", {"X-Auth-Token": expired}, path=f"/{container}/obj")
    assert reply.status == 401
    assert still_kept(token, url, container)


def test_token_of_another_account_is_403(cluster, seeded):
    token, url, container = seeded
    token2 = cluster.token("test2:tester2")
    for method, body in (("GET", None), ("PUT", b"x"), ("DELETE", None), ("POST", None)):
        reply = request(url, method, {"X-Auth-Token": token2}, body, path=f"/{container}/obj")
        assert reply.status == 403, method
    reply = request(url, "PUT", {"X-Auth-Token": token2}, path="/new-container-by-test2")
    assert reply.status == 403
    assert request(url, "HEAD", {"X-Auth-Token": token},
                   path="/new-container-by-test2").status == 404
    assert still_kept(token, url, container)


def test_self_signed_token_with_cluster_secret_works(cluster, seeded):
    """The signing contract other services rely on: any holder of the secret can verify."""
    token, url, container = seeded
    minted, _ = issue_token(token_secret(cluster), "test", "tester", [".admin"])
    reply = request(url, "GET", {"X-Auth-Token": minted}, path=f"/{container}/obj")
    assert (reply.status, reply.body) == (200, b"kept")


def test_token_survives_proxy_restart(cluster, seeded):
    token, url, container = seeded
    cluster.kill_service("proxy")
    cluster.start_service("proxy")
    assert still_kept(token, url, container)
