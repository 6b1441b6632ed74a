"""Tokens in-process: issue (password, token, application credential; project, domain and
unscoped), validate, revoke, and everything that must end a token early."""
from __future__ import annotations

import time

from tests.identity.conftest import Client


def test_password_project_token_has_keystone_shape(client):
    status, headers, doc = client.auth("tester", "testing", "test")
    assert status == 201
    token = doc["token"]
    assert headers["X-Subject-Token"]
    assert token["methods"] == ["password"]
    assert token["user"]["name"] == "tester"
    assert token["user"]["domain"] == {"id": "default", "name": "Default"}
    assert token["project"]["id"] == "test"
    assert token["project"]["domain"]["id"] == "default"
    assert {r["name"] for r in token["roles"]} == {"member", "reader"}
    assert token["expires_at"].endswith("Z") and token["issued_at"] < token["expires_at"]
    assert len(token["audit_ids"]) == 1
    types = {service["type"]: service for service in token["catalog"]}
    assert set(types) == {"identity", "object-store", "image", "compute"}
    urls = {e["interface"]: e["url"] for e in types["object-store"]["endpoints"]}
    assert urls == {i: "http://127.0.0.1:8080/v1/AUTH_test"
                    for i in ("public", "internal", "admin")}
    assert all(e["region"] == "RegionOne" for e in types["compute"]["endpoints"])


def test_user_by_id_and_project_by_id(client, admin):
    users = client.call("GET", "/v3/users?name=tester", admin)[2]["users"]
    body = {"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"id": users[0]["id"], "password": "testing"}}},
        "scope": {"project": {"id": "test"}}}}
    status, _headers, doc = client.call("POST", "/v3/auth/tokens", body=body)
    assert status == 201 and doc["token"]["project"]["id"] == "test"


def test_default_project_scope_and_explicit_unscoped(client):
    status, _h, doc = client.auth("tester", "testing")
    assert status == 201 and doc["token"]["project"]["id"] == "test"
    status, _h, doc = client.auth("tester", "testing", scope="unscoped")
    assert status == 201
    assert "project" not in doc["token"] and "roles" not in doc["token"]
    assert doc["token"]["catalog"] == []


def test_wrong_password_unknown_user_and_foreign_project_are_401(client):
    for user, password, project in (("tester", "nope", "test"), ("ghost", "x", "test"),
                                    ("tester", "testing", "admin"),
                                    ("tester", "testing", "missing")):
        status, headers, doc = client.auth(user, password, project)
        assert status == 401, (user, project)
        assert headers["WWW-Authenticate"] == 'Keystone uri="http://127.0.0.1:5000"'
        assert doc["error"]["code"] == 401 and doc["error"]["title"] == "Unauthorized"


def test_malformed_auth_requests_are_400(client):
    for body in ({}, {"auth": {}}, {"auth": {"identity": {"methods": "password"}}},
                 {"auth": {"identity": {"methods": ["password"], "password": {
                     "user": {"name": "tester", "password": 5,
                              "domain": {"id": "default"}}}}}},
                 {"auth": {"identity": {"methods": ["password"], "password": {
                     "user": {"name": "tester", "password": "testing"}}}}}):
        status, _h, doc = client.call("POST", "/v3/auth/tokens", body=body)
        assert status == 400, body
        assert doc["error"]["code"] == 400
    status, _h, _doc = client.call("POST", "/v3/auth/tokens", raw=b'{"auth": ')
    assert status == 400


def test_token_method_rescopes_and_keeps_expiry(client, admin):
    status, headers, doc = client.auth("admin", "adminpass", scope="unscoped")
    unscoped = headers["X-Subject-Token"]
    body = {"auth": {"identity": {"methods": ["token"], "token": {"id": unscoped}},
                     "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}
    status, headers, rescoped = client.call("POST", "/v3/auth/tokens", body=body)
    assert status == 201
    assert rescoped["token"]["project"]["id"] == "admin"
    assert rescoped["token"]["expires_at"] == doc["token"]["expires_at"]
    assert set(rescoped["token"]["methods"]) == {"token", "password"}
    assert rescoped["token"]["audit_ids"][1] == doc["token"]["audit_ids"][0]


def test_domain_scoped_token(client, admin):
    user_id = client.call("GET", "/v3/users?name=admin", admin)[2]["users"][0]["id"]
    role_id = client.call("GET", "/v3/roles?name=admin", admin)[2]["roles"][0]["id"]
    assert client.call("PUT", f"/v3/domains/default/users/{user_id}/roles/{role_id}",
                       admin)[0] == 204
    status, _h, doc = client.auth("admin", "adminpass", scope={"domain": {"id": "default"}})
    assert status == 201
    assert doc["token"]["domain"] == {"id": "default", "name": "Default"}
    types = {s["type"] for s in doc["token"]["catalog"]}
    assert "object-store" not in types and "identity" in types  # no project to fill in
    status, _h, _doc = client.auth("tester", "testing", scope={"domain": {"id": "default"}})
    assert status == 401


def test_validate_head_and_revoke(client, admin, member):
    headers = {"X-Subject-Token": member}
    status, resp_headers, doc = client.call("GET", "/v3/auth/tokens", admin, headers=headers)
    assert status == 200 and resp_headers["X-Subject-Token"] == member
    assert doc["token"]["user"]["name"] == "tester"
    assert client.call("HEAD", "/v3/auth/tokens", member, headers=headers)[0] == 200
    # A user validates their own token; another user's is refused.
    other = client.login("tester3", "testing3", "test")
    assert client.call("GET", "/v3/auth/tokens", other, headers=headers)[0] == 403
    assert client.call("DELETE", "/v3/auth/tokens", member, headers=headers)[0] == 204
    assert client.call("GET", "/v3/auth/tokens", admin, headers=headers)[0] == 404
    assert client.call("GET", "/v3/auth/projects", member)[0] == 401
    assert client.call("GET", "/v3/auth/tokens", admin,
                       headers={"X-Subject-Token": "garbage"})[0] == 404
    assert client.call("GET", "/v3/auth/tokens", admin)[0] == 400


def test_auth_catalog_projects_domains(client, member):
    status, _h, doc = client.call("GET", "/v3/auth/catalog", member)
    assert status == 200 and {s["type"] for s in doc["catalog"]} >= {"object-store"}
    status, _h, doc = client.call("GET", "/v3/auth/projects", member)
    assert [p["id"] for p in doc["projects"]] == ["test"]
    status, _h, doc = client.call("GET", "/v3/auth/domains", member)
    assert status == 200 and doc["domains"] == []


def test_disabled_user_and_changed_password_end_tokens(client, admin):
    token = client.login("tester", "testing", "test")
    user_id = client.call("GET", "/v3/users?name=tester", admin)[2]["users"][0]["id"]
    body = {"user": {"original_password": "testing", "password": "n3w-pass"}}
    assert client.call("POST", f"/v3/users/{user_id}/password", token, body=body)[0] == 204
    assert client.call("GET", "/v3/auth/projects", token)[0] == 401
    assert client.auth("tester", "testing", "test")[0] == 401
    token = client.login("tester", "n3w-pass", "test")
    assert client.call("PATCH", f"/v3/users/{user_id}", admin,
                       body={"user": {"enabled": False}})[0] == 200
    assert client.call("GET", "/v3/auth/projects", token)[0] == 401
    assert client.auth("tester", "n3w-pass", "test")[0] == 401
    assert client.call("PATCH", f"/v3/users/{user_id}", admin,
                       body={"user": {"enabled": True}})[0] == 200
    assert client.call("GET", "/v3/auth/projects", token)[0] == 401  # still revoked
    assert client.auth("tester", "n3w-pass", "test")[0] == 201


def test_wrong_original_password_is_401(client, admin):
    user_id = client.call("GET", "/v3/users?name=tester", admin)[2]["users"][0]["id"]
    body = {"user": {"original_password": "wrong", "password": "x"}}
    assert client.call("POST", f"/v3/users/{user_id}/password", body=body)[0] == 401
    assert client.auth("tester", "testing", "test")[0] == 201


def test_disabled_or_deleted_project_and_removed_role_end_tokens(client, admin):
    token = client.login("tester", "testing", "test")
    assert client.call("PATCH", "/v3/projects/test", admin,
                       body={"project": {"enabled": False}})[0] == 200
    assert client.call("GET", "/v3/auth/catalog", token)[0] == 401
    assert client.auth("tester", "testing", "test")[0] == 401
    assert client.call("PATCH", "/v3/projects/test", admin,
                       body={"project": {"enabled": True}})[0] == 200
    token = client.login("tester", "testing", "test")
    user_id = client.call("GET", "/v3/users?name=tester", admin)[2]["users"][0]["id"]
    role_id = client.call("GET", "/v3/roles?name=member", admin)[2]["roles"][0]["id"]
    assert client.call("DELETE", f"/v3/projects/test/users/{user_id}/roles/{role_id}",
                       admin)[0] == 204
    assert client.call("GET", "/v3/auth/catalog", token)[0] == 401
    assert client.auth("tester", "testing", "test")[0] == 401
    other = client.login("tester3", "testing3", "test")
    assert client.call("DELETE", "/v3/projects/test", admin)[0] == 204
    assert client.call("GET", "/v3/auth/catalog", other)[0] == 401


def test_expired_token_is_refused(tmp_path):
    from identity.app import make_app
    from tests.identity.conftest import write_conf

    client = Client(make_app(write_conf(tmp_path, identity={"token_expiration": "1"})))
    token = client.login("tester", "testing", "test")
    assert client.call("GET", "/v3/auth/projects", token)[0] == 200
    deadline = time.monotonic() + 10
    while client.call("GET", "/v3/auth/projects", token)[0] != 401:
        assert time.monotonic() < deadline, "a token past its 1 s life is still accepted"
        time.sleep(0.05)


def test_tokens_survive_a_restart_and_need_the_same_key(tmp_path):
    from identity.app import make_app
    from tests.identity.conftest import write_conf

    token = Client(make_app(write_conf(tmp_path))).login("tester", "testing", "test")
    again = Client(make_app(write_conf(tmp_path)))
    assert again.call("GET", "/v3/auth/projects", token)[0] == 200
    other_key = Client(make_app(write_conf(tmp_path, identity={"token_secret": "other"})))
    assert other_key.call("GET", "/v3/auth/projects", token)[0] == 401


def test_key_file_is_created_private_and_used(tmp_path):
    import os
    import stat

    from identity.app import make_app
    from tests.identity.conftest import write_conf

    key_file = tmp_path / "keys" / "fernet"
    client = Client(make_app(write_conf(tmp_path, identity={"token_key_file": key_file})))
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    token = client.login("tester", "testing", "test")
    assert client.call("GET", "/v3/auth/projects", token)[0] == 200
