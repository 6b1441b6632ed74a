"""Application credentials in-process: create, list, show, delete, and logging in with one."""
from __future__ import annotations


def _user_id(client, admin, name="tester"):
    return client.call("GET", f"/v3/users?name={name}", admin)[2]["users"][0]["id"]


def _cred_auth(**ref):
    return {"auth": {"identity": {"methods": ["application_credential"],
                                  "application_credential": ref}}}


def test_create_login_by_id_and_by_name_then_delete(client, admin, member):
    user_id = _user_id(client, admin)
    status, _h, doc = client.call("POST", f"/v3/users/{user_id}/application_credentials",
                                  member, body={"application_credential": {"name": "ci"}})
    assert status == 201
    cred = doc["application_credential"]
    assert cred["project_id"] == "test" and cred["secret"]
    assert {r["name"] for r in cred["roles"]} == {"member", "reader"}
    listed = client.call("GET", f"/v3/users/{user_id}/application_credentials", member)[2]
    assert [c["name"] for c in listed["application_credentials"]] == ["ci"]
    assert "secret" not in listed["application_credentials"][0]
    shown = client.call("GET", f"/v3/users/{user_id}/application_credentials/{cred['id']}",
                        member)[2]["application_credential"]
    assert shown["id"] == cred["id"] and "secret" not in shown

    status, headers, doc = client.call("POST", "/v3/auth/tokens", body=_cred_auth(
        id=cred["id"], secret=cred["secret"]))
    assert status == 201
    assert doc["token"]["methods"] == ["application_credential"]
    assert doc["token"]["project"]["id"] == "test"
    assert doc["token"]["application_credential"]["id"] == cred["id"]
    cred_token = headers["X-Subject-Token"]
    status, _h, _doc = client.call("POST", "/v3/auth/tokens", body=_cred_auth(
        name="ci", user={"name": "tester", "domain": {"id": "default"}},
        secret=cred["secret"]))
    assert status == 201
    # A restricted credential's token cannot make more credentials.
    status, _h, _doc = client.call("POST", f"/v3/users/{user_id}/application_credentials",
                                   cred_token, body={"application_credential": {"name": "x"}})
    assert status == 403
    assert client.call("POST", "/v3/auth/tokens", body=_cred_auth(
        id=cred["id"], secret="wrong"))[0] == 401
    assert client.call("DELETE", f"/v3/users/{user_id}/application_credentials/{cred['id']}",
                       member)[0] == 204
    assert client.call("GET", "/v3/auth/projects", cred_token)[0] == 401
    assert client.call("POST", "/v3/auth/tokens", body=_cred_auth(
        id=cred["id"], secret=cred["secret"]))[0] == 401


def test_roles_subset_duplicates_expiry_and_others(client, admin, member):
    user_id = _user_id(client, admin)
    path = f"/v3/users/{user_id}/application_credentials"
    body = {"application_credential": {"name": "ro", "roles": [{"name": "reader"}],
                                       "secret": "my-secret"}}
    status, _h, doc = client.call("POST", path, member, body=body)
    assert status == 201 and doc["application_credential"]["secret"] == "my-secret"
    status, _h, token = client.call("POST", "/v3/auth/tokens", body=_cred_auth(
        id=doc["application_credential"]["id"], secret="my-secret"))
    assert [r["name"] for r in token["token"]["roles"]] == ["reader"]
    assert client.call("POST", path, member, body=body)[0] == 409
    body = {"application_credential": {"name": "boss", "roles": [{"name": "admin"}]}}
    assert client.call("POST", path, member, body=body)[0] == 403
    body = {"application_credential": {"name": "old", "expires_at": "2001-01-01T00:00:00"}}
    assert client.call("POST", path, member, body=body)[0] == 400
    body = {"application_credential": {"name": "later",
                                       "expires_at": "2999-01-01T00:00:00Z"}}
    status, _h, doc = client.call("POST", path, member, body=body)
    assert status == 201 and doc["application_credential"]["expires_at"].startswith("2999")
    other = client.login("tester3", "testing3", "test")
    assert client.call("GET", path, other)[0] == 403
    assert client.call("POST", path, other, body=body)[0] == 403
    assert client.call("GET", path, admin)[0] == 200
    assert client.call("GET", f"{path}/nope", member)[0] == 404


def test_empty_roles_mean_all_of_the_callers(client, admin, member):
    user_id = _user_id(client, admin)
    status, _h, doc = client.call("POST", f"/v3/users/{user_id}/application_credentials",
                                  member, body={"application_credential": {
                                      "name": "all", "roles": []}})
    assert status == 201
    assert {r["name"] for r in doc["application_credential"]["roles"]} == {"member", "reader"}
