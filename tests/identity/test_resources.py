"""Domains, projects, users, roles and role assignments in-process: CRUD, filters, 409 on
duplicates, 404s, and who may do what."""
from __future__ import annotations

import pytest


def test_version_discovery(client):
    status, _h, doc = client.call("GET", "/")
    assert status == 300 and doc["versions"]["values"][0]["id"].startswith("v3.")
    status, _h, doc = client.call("GET", "/v3/")
    assert status == 200 and doc["version"]["status"] == "stable"
    assert doc["version"]["links"][0]["href"] == "http://127.0.0.1:5000/v3/"


def test_unknown_paths_and_methods(client, admin):
    status, _h, doc = client.call("GET", "/v3/nothing", admin)
    assert status == 404 and doc["error"]["title"] == "Not Found"
    status, headers, _doc = client.call("PUT", "/v3/projects", admin)
    assert status == 405 and "POST" in headers["Allow"]


def test_domains_crud(client, admin):
    status, _h, doc = client.call("GET", "/v3/domains", admin)
    assert [d["name"] for d in doc["domains"]] == ["Default"]
    status, _h, doc = client.call("POST", "/v3/domains", admin,
                                  body={"domain": {"name": "acme", "description": "d"}})
    assert status == 201 and doc["domain"]["enabled"] is True
    domain_id = doc["domain"]["id"]
    assert client.call("POST", "/v3/domains", admin,
                       body={"domain": {"name": "acme"}})[0] == 409
    status, _h, doc = client.call("POST", "/v3/projects", admin,
                                  body={"project": {"name": "p", "domain_id": domain_id}})
    assert status == 201 and doc["project"]["domain_id"] == domain_id
    assert client.call("DELETE", f"/v3/domains/{domain_id}", admin)[0] == 403  # enabled
    assert client.call("PATCH", f"/v3/domains/{domain_id}", admin,
                       body={"domain": {"enabled": False}})[0] == 200
    assert client.call("DELETE", f"/v3/domains/{domain_id}", admin)[0] == 204
    assert client.call("GET", f"/v3/domains/{domain_id}", admin)[0] == 404
    assert client.call("GET", "/v3/projects?name=p", admin)[2]["projects"] == []
    assert client.call("DELETE", "/v3/domains/default", admin)[0] == 403
    assert client.call("PATCH", "/v3/domains/default", admin,
                       body={"domain": {"enabled": False}})[0] == 403


def test_projects_crud_and_unique_names_per_domain(client, admin):
    status, _h, doc = client.call("POST", "/v3/projects", admin,
                                  body={"project": {"name": "web", "description": "site"}})
    assert status == 201
    project = doc["project"]
    assert project["domain_id"] == "default" and project["parent_id"] == "default"
    assert project["links"]["self"].endswith(f"/v3/projects/{project['id']}")
    status, _h, doc = client.call("POST", "/v3/projects", admin,
                                  body={"project": {"name": "web"}})
    assert status == 409 and doc["error"]["title"] == "Conflict"
    other = client.call("POST", "/v3/domains", admin, body={"domain": {"name": "o"}})[2]
    assert client.call("POST", "/v3/projects", admin, body={"project": {
        "name": "web", "domain_id": other["domain"]["id"]}})[0] == 201
    status, _h, doc = client.call("GET", "/v3/projects?name=web&domain_id=default", admin)
    assert [p["id"] for p in doc["projects"]] == [project["id"]]
    status, _h, doc = client.call("PATCH", f"/v3/projects/{project['id']}", admin,
                                  body={"project": {"name": "site", "enabled": False}})
    assert status == 200 and doc["project"]["name"] == "site"
    assert doc["project"]["enabled"] is False
    assert client.call("GET", "/v3/projects?enabled=false", admin)[2]["projects"][0][
        "id"] == project["id"]
    assert client.call("PATCH", f"/v3/projects/{project['id']}", admin,
                       body={"project": {"name": "test"}})[0] == 409
    assert client.call("DELETE", f"/v3/projects/{project['id']}", admin)[0] == 204
    assert client.call("DELETE", f"/v3/projects/{project['id']}", admin)[0] == 404
    assert client.call("POST", "/v3/projects", admin,
                       body={"project": {"name": "x", "domain_id": "nope"}})[0] == 400


def test_member_sees_only_its_project(client, member):
    status, _h, doc = client.call("GET", "/v3/projects", member)
    assert status == 200 and [p["id"] for p in doc["projects"]] == ["test"]
    assert client.call("GET", "/v3/projects/test", member)[0] == 200
    assert client.call("GET", "/v3/projects/admin", member)[0] == 403
    assert client.call("POST", "/v3/projects", member,
                       body={"project": {"name": "mine"}})[0] == 403
    assert client.call("DELETE", "/v3/projects/test", member)[0] == 403
    assert client.call("GET", "/v3/domains/default", member)[0] == 200


def test_users_crud(client, admin):
    body = {"user": {"name": "alice", "password": "wonder", "default_project_id": "test",
                     "email": "a@example.com"}}
    status, _h, doc = client.call("POST", "/v3/users", admin, body=body)
    assert status == 201
    user = doc["user"]
    assert user["domain_id"] == "default" and "password" not in user
    assert user["default_project_id"] == "test" and user["email"] == "a@example.com"
    assert client.call("POST", "/v3/users", admin, body=body)[0] == 409
    assert client.call("GET", f"/v3/users/{user['id']}", admin)[2]["user"]["name"] == "alice"
    assert [u["id"] for u in client.call("GET", "/v3/users?name=alice", admin)[2]["users"]] \
        == [user["id"]]
    # No role yet: no project token, unscoped is fine.
    assert client.auth("alice", "wonder", "test")[0] == 401
    assert client.auth("alice", "wonder")[0] == 201
    status, _h, doc = client.call("PATCH", f"/v3/users/{user['id']}", admin,
                                  body={"user": {"password": "changed"}})
    assert status == 200
    assert client.auth("alice", "wonder")[0] == 401
    assert client.auth("alice", "changed")[0] == 201
    assert client.call("POST", "/v3/users", admin, body={"user": {
        "name": "bob", "default_project_id": "missing"}})[0] == 400
    assert client.call("DELETE", f"/v3/users/{user['id']}", admin)[0] == 204
    assert client.call("GET", f"/v3/users/{user['id']}", admin)[0] == 404
    assert client.auth("alice", "changed")[0] == 401


def test_users_see_themselves_only(client, admin, member):
    me = client.call("GET", "/v3/users", member)[2]["users"]
    assert [u["name"] for u in me] == ["tester"]
    assert client.call("GET", f"/v3/users/{me[0]['id']}", member)[0] == 200
    admin_id = client.call("GET", "/v3/users?name=admin", admin)[2]["users"][0]["id"]
    assert client.call("GET", f"/v3/users/{admin_id}", member)[0] == 403
    assert client.call("PATCH", f"/v3/users/{me[0]['id']}", member,
                       body={"user": {"enabled": True}})[0] == 403
    status, _h, doc = client.call("GET", f"/v3/users/{me[0]['id']}/projects", member)
    assert status == 200 and [p["id"] for p in doc["projects"]] == ["test"]
    assert client.call("GET", f"/v3/users/{admin_id}/projects", member)[0] == 403


def test_roles_crud_and_builtins(client, admin, member):
    names = [r["name"] for r in client.call("GET", "/v3/roles", member)[2]["roles"]]
    assert names == ["admin", "member", "reader"]
    status, _h, doc = client.call("POST", "/v3/roles", admin, body={"role": {"name": "ops"}})
    assert status == 201
    role_id = doc["role"]["id"]
    assert client.call("POST", "/v3/roles", admin, body={"role": {"name": "ops"}})[0] == 409
    assert client.call("POST", "/v3/roles", member, body={"role": {"name": "x"}})[0] == 403
    assert client.call("PATCH", f"/v3/roles/{role_id}", admin,
                       body={"role": {"name": "operators"}})[2]["role"]["name"] == "operators"
    assert client.call("DELETE", f"/v3/roles/{role_id}", admin)[0] == 204
    reader = client.call("GET", "/v3/roles?name=reader", admin)[2]["roles"][0]["id"]
    assert client.call("DELETE", f"/v3/roles/{reader}", admin)[0] == 403


def test_grants_and_role_assignments(client, admin):
    user = client.call("POST", "/v3/users", admin, body={"user": {
        "name": "carol", "password": "pw"}})[2]["user"]
    project = client.call("POST", "/v3/projects", admin,
                          body={"project": {"name": "lab"}})[2]["project"]
    member_role = client.call("GET", "/v3/roles?name=member", admin)[2]["roles"][0]
    grant = f"/v3/projects/{project['id']}/users/{user['id']}/roles/{member_role['id']}"
    assert client.call("HEAD", grant, admin)[0] == 404
    assert client.call("PUT", grant, admin)[0] == 204
    assert client.call("PUT", grant, admin)[0] == 204  # idempotent
    assert client.call("HEAD", grant, admin)[0] == 204
    status, _h, doc = client.call(
        "GET", f"/v3/projects/{project['id']}/users/{user['id']}/roles", admin)
    assert [r["name"] for r in doc["roles"]] == ["member"]
    status, _h, doc = client.call("POST", "/v3/auth/tokens", body={"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "carol", "domain": {"id": "default"}, "password": "pw"}}},
        "scope": {"project": {"id": project["id"]}}}})
    assert status == 201
    assert {r["name"] for r in doc["token"]["roles"]} == {"member", "reader"}

    status, _h, doc = client.call("GET", f"/v3/role_assignments?user.id={user['id']}", admin)
    assert doc["role_assignments"] == [{
        "role": {"id": member_role["id"]}, "user": {"id": user["id"]},
        "scope": {"project": {"id": project["id"]}},
        "links": {"assignment": f"http://127.0.0.1:5000{grant}"}}]
    status, _h, doc = client.call(
        "GET", f"/v3/role_assignments?scope.project.id={project['id']}&include_names=1",
        admin)
    found = doc["role_assignments"][0]
    assert found["role"]["name"] == "member" and found["user"]["name"] == "carol"
    assert found["scope"]["project"]["name"] == "lab"
    everyone = client.call("GET", "/v3/role_assignments", admin)[2]["role_assignments"]
    assert len(everyone) >= 5
    carol = client.login("carol", "pw", scope={"project": {"id": project["id"]}})
    assert client.call("GET", f"/v3/role_assignments?user.id={user['id']}",
                       carol)[0] == 200
    assert client.call("GET", "/v3/role_assignments", carol)[0] == 403
    assert client.call("PUT", grant, carol)[0] == 403
    assert client.call("DELETE", grant, admin)[0] == 204
    assert client.call("DELETE", grant, admin)[0] == 404
    bad = f"/v3/projects/nope/users/{user['id']}/roles/{member_role['id']}"
    assert client.call("PUT", bad, admin)[0] == 404


@pytest.mark.parametrize("path", ["/v3/projects", "/v3/users", "/v3/domains", "/v3/roles",
                                  "/v3/role_assignments", "/v3/auth/projects",
                                  "/v3/OS-REVOKE/events"])
def test_every_api_needs_a_token(client, path):
    status, headers, doc = client.call("GET", path)
    assert status == 401 and "WWW-Authenticate" in headers
    assert client.call("GET", path, "not-a-token")[0] == 401


def test_revocation_events_for_other_services(client, admin, member):
    from common.token_format import RevocationEvent, decode_token, is_revoked

    headers = {"X-Subject-Token": member}
    assert client.call("DELETE", "/v3/auth/tokens", admin, headers=headers)[0] == 204
    status, _h, doc = client.call("GET", "/v3/OS-REVOKE/events", admin)
    assert status == 200 and doc["events"][-1]["audit_id"]
    assert client.call("GET", "/v3/OS-REVOKE/events", client.login(
        "tester3", "testing3", "test"))[0] == 403
    fernet = client.app.service.tokens.fernet
    claims = decode_token(member, fernet)
    event = RevocationEvent(claims.issued_at, audit_id=doc["events"][-1]["audit_id"])
    assert is_revoked(claims, [event])
    assert not is_revoked(claims, [RevocationEvent(claims.issued_at - 1,
                                                   user_id=claims.user_id)])


def test_bootstrap_runs_once(tmp_path):
    from identity.app import make_app
    from tests.identity.conftest import Client, write_conf

    conf = write_conf(tmp_path)
    client = Client(make_app(conf))
    admin = client.login("admin", "adminpass", "admin")
    tester = client.call("GET", "/v3/users?name=tester", admin)[2]["users"][0]["id"]
    assert tester == "tester"  # seeded users and projects have their names as ids
    projects = client.call("GET", "/v3/projects", admin)[2]["projects"]
    assert {p["id"] for p in projects if p["name"] in ("test", "admin")} == {"test", "admin"}
    assert client.call("DELETE", f"/v3/users/{tester}", admin)[0] == 204
    again = Client(make_app(conf))
    assert again.auth("tester", "testing", "test")[0] == 401
    assert again.auth("admin", "adminpass", "admin")[0] == 201


def test_services_endpoints_and_regions_from_config(client, admin, member):
    status, _h, doc = client.call("GET", "/v3/services", admin)
    assert status == 200
    kinds = {s["type"]: s for s in doc["services"]}
    assert set(kinds) == {"identity", "object-store", "image", "compute"}
    store = kinds["object-store"]
    assert store["name"] == "swift"
    assert client.call("GET", f"/v3/services/{store['id']}", admin)[2]["service"] == store
    status, _h, doc = client.call(
        "GET", f"/v3/endpoints?service_id={store['id']}&interface=public", admin)
    assert [e["url"] for e in doc["endpoints"]] == [
        "http://127.0.0.1:8080/v1/AUTH_$(project_id)s"]
    endpoint = doc["endpoints"][0]
    assert client.call("GET", f"/v3/endpoints/{endpoint['id']}", admin)[0] == 200
    assert client.call("GET", "/v3/endpoints/nope", admin)[0] == 404
    assert client.call("GET", "/v3/services", member)[0] == 403
    assert client.call("GET", "/v3/regions", member)[2]["regions"][0]["id"] == "RegionOne"
    assert client.call("GET", "/v3/regions/RegionOne", member)[0] == 200
    assert client.call("GET", "/v3/regions/Elsewhere", member)[0] == 404
