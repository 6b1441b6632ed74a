"""Fuzzing the identity API in-process (real SQLite store): no bad input gets a 5xx.

Valid requests of every kind (token issue with each method and scope, validate, revoke,
CRUD of domains, projects, users, roles, grants, application credentials, role assignment
queries) are broken in one to three places by `tests.shared.http_fuzz`; each answer must be
below 500, with a one-line body, and log no traceback.
"""
from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.identity.conftest import Client, write_conf
from tests.shared.http_fuzz import (
    FUZZ_SETTINGS,
    FuzzRequest,
    FuzzSpec,
    assert_handled,
    classic_breakages,
    mutated,
)

FIELDS = ["auth", "identity", "methods", "password", "token", "user", "name", "domain", "id",
          "scope", "project", "application_credential", "secret", "roles", "expires_at",
          "unrestricted", "enabled", "description", "domain_id", "default_project_id",
          "original_password", "role", "system", "email", "parent_id", "is_domain"]


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory):
    from identity.app import make_app

    app = make_app(write_conf(tmp_path_factory.mktemp("identity-fuzz")))
    client = Client(app)
    admin = client.login("admin", "adminpass", "admin")
    member = client.login("tester", "testing", "test")
    user_id = client.call("GET", "/v3/users?name=tester", admin)[2]["users"][0]["id"]
    role_id = client.call("GET", "/v3/roles?name=member", admin)[2]["roles"][0]["id"]
    cred = client.call("POST", f"/v3/users/{user_id}/application_credentials", member,
                       body={"application_credential": {"name": "fuzz"}})[2][
        "application_credential"]
    return app, admin, member, user_id, role_id, cred


def bases(admin, member, user_id, role_id, cred) -> list[FuzzRequest]:
    auth = {"X-Auth-Token": admin}
    as_json = {**auth, "Content-Type": "application/json"}

    def body(doc) -> bytes:
        return json.dumps(doc).encode()

    password = {"user": {"name": "tester", "domain": {"name": "Default"},
                         "password": "testing"}}
    return [
        FuzzRequest("GET", "/"),
        FuzzRequest("GET", "/v3"),
        FuzzRequest("POST", "/v3/auth/tokens", "", {"Content-Type": "application/json"},
                    body({"auth": {"identity": {"methods": ["password"],
                                                "password": password},
                                   "scope": {"project": {"name": "test",
                                                         "domain": {"id": "default"}}}}})),
        FuzzRequest("POST", "/v3/auth/tokens", "nocatalog", {},
                    body({"auth": {"identity": {"methods": ["token"],
                                                "token": {"id": member}},
                                   "scope": {"domain": {"name": "Default"}}}})),
        FuzzRequest("POST", "/v3/auth/tokens", "", {},
                    body({"auth": {"identity": {"methods": ["application_credential"],
                                                "application_credential": {
                                                    "name": "fuzz", "secret": cred["secret"],
                                                    "user": {"id": user_id}}}}})),
        FuzzRequest("GET", "/v3/auth/tokens", "", {**auth, "X-Subject-Token": member}),
        FuzzRequest("HEAD", "/v3/auth/tokens", "", {**auth, "X-Subject-Token": member}),
        FuzzRequest("GET", "/v3/auth/catalog", "", {"X-Auth-Token": member}),
        FuzzRequest("GET", "/v3/auth/projects", "", {"X-Auth-Token": member}),
        FuzzRequest("GET", "/v3/projects", "name=test&enabled=true&domain_id=default", auth),
        FuzzRequest("POST", "/v3/projects", "", as_json,
                    body({"project": {"name": "p", "description": "d", "enabled": True,
                                      "domain_id": "default"}})),
        FuzzRequest("PATCH", "/v3/projects/test", "", as_json,
                    body({"project": {"description": "x", "enabled": True}})),
        FuzzRequest("POST", "/v3/domains", "", as_json, body({"domain": {"name": "d"}})),
        FuzzRequest("GET", "/v3/domains/default", "", auth),
        FuzzRequest("POST", "/v3/users", "", as_json,
                    body({"user": {"name": "u", "password": "p", "enabled": True,
                                   "default_project_id": "test", "email": "e"}})),
        FuzzRequest("PATCH", f"/v3/users/{user_id}", "", as_json,
                    body({"user": {"description": "x", "enabled": True}})),
        FuzzRequest("POST", f"/v3/users/{user_id}/password", "", {},
                    body({"user": {"original_password": "wrong", "password": "x"}})),
        FuzzRequest("GET", f"/v3/users/{user_id}/projects", "", auth),
        FuzzRequest("POST", "/v3/roles", "", as_json, body({"role": {"name": "r"}})),
        FuzzRequest("PUT", f"/v3/projects/test/users/{user_id}/roles/{role_id}", "", auth),
        FuzzRequest("HEAD", f"/v3/domains/default/users/{user_id}/roles/{role_id}", "", auth),
        FuzzRequest("GET", "/v3/role_assignments",
                    f"user.id={user_id}&scope.project.id=test&include_names=true", auth),
        FuzzRequest("POST", f"/v3/users/{user_id}/application_credentials", "",
                    {"X-Auth-Token": member},
                    body({"application_credential": {
                        "name": "c", "roles": [{"name": "reader"}],
                        "expires_at": "2999-01-01T00:00:00Z"}})),
        FuzzRequest("GET", f"/v3/users/{user_id}/application_credentials/{cred['id']}", "",
                    {"X-Auth-Token": member}),
        FuzzRequest("GET", "/v3/OS-REVOKE/events", "since=2020-01-01T00:00:00", auth),
        FuzzRequest("GET", "/v3/endpoints", "interface=public&region_id=RegionOne", auth),
        FuzzRequest("GET", "/v3/services", "type=image", auth),
        FuzzRequest("GET", "/v3/regions/RegionOne", "", auth),
    ]


def spec(tokens: list[str], ids: list[str]) -> FuzzSpec:
    return FuzzSpec(
        segments=["v3", "auth", "tokens", "catalog", "projects", "domains", "users", "roles",
                  "role_assignments", "password", "application_credentials", "OS-REVOKE",
                  "events", "endpoints", "services", "regions", "RegionOne", "default", "test",
                  "admin", *ids],
        header_names=["X-Auth-Token", "X-Subject-Token", "Content-Type"],
        likely_values={"X-Auth-Token": st.sampled_from(tokens + [tokens[0][:-2]]),
                       "X-Subject-Token": st.sampled_from(tokens)},
        query_keys=["name", "enabled", "domain_id", "user.id", "scope.project.id",
                    "scope.domain.id", "role.id", "include_names", "effective", "group.id",
                    "nocatalog", "since", "type", "interface", "region_id", "service_id"],
        queries=["enabled=maybe", "include_names", "since=yesterday", "nocatalog"],
        json_keys=FIELDS,
        methods=["GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS", "X"],
    )


@FUZZ_SETTINGS
@given(data=st.data())
def test_identity_api_answers_bad_input_below_500(fuzz_app, data):
    app, admin, member, user_id, role_id, cred = fuzz_app
    request_ = data.draw(mutated(bases(admin, member, user_id, role_id, cred),
                                 spec([admin, member], [user_id, role_id, cred["id"]])))
    assert_handled(app, request_)


def test_identity_api_answers_classic_breakages_below_500(fuzz_app):
    app, admin, member, user_id, role_id, cred = fuzz_app
    for broken in classic_breakages(bases(admin, member, user_id, role_id, cred)):
        assert_handled(app, broken)
