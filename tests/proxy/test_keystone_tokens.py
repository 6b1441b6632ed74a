"""Keystone tokens at the proxy (against a real storage cluster, in process): a Fernet
project-scoped token reaches `AUTH_<project id>` with its role's rights, a revoked one is
refused; `/auth/v1.0` against the identity store (`proxy.identity_login`, its HTTP call to the
identity service replaced by a stub answering as the identity service does)."""
from __future__ import annotations

import time

import pytest
from webob import Request

from common.token_format import (
    RevocationEvent,
    TokenClaims,
    encode_token,
    fernet_of,
    key_from_secret,
)
from common.tokens import verify_token
from proxy.identity_login import IdentityLogin, handle_identity_auth, split_login, v1_flags
from proxy.middleware.auth import AuthMiddleware

ADMINS = frozenset({"admin", "service"})  # the default reseller_admin_projects
SECRET = "brume-dev-token-secret"  # the sample's: its Fernet key is derived from it
FERNET = fernet_of([key_from_secret(SECRET)])


def fernet_token(project, user, roles, scope="project", issued=None):
    now = time.time() if issued is None else issued
    claims = TokenClaims(user, ("password",), scope, project, now, now + 600,
                         (f"audit-{user}-{now}",), tuple(roles))
    return encode_token(claims, FERNET), claims


def call(app, method, path, token, body=None):
    req = Request.blank(path, method=method, headers={"X-Auth-Token": token})
    if method in ("PUT", "POST"):
        req.body = body or b""
    return req.get_response(app)


def auth_layer(app) -> AuthMiddleware:
    return next(layer for layer in app.layers if isinstance(layer, AuthMiddleware))


def test_a_member_works_in_its_projects_account_only(proxy_app):
    token, _ = fernet_token("ksproj1", "ksuser1", ["member", "reader"])
    assert call(proxy_app, "PUT", "/v1/AUTH_ksproj1/c", token).status_int in (201, 202)
    assert call(proxy_app, "PUT", "/v1/AUTH_ksproj1/c/o", token, b"data").status_int == 201
    listing = call(proxy_app, "GET", "/v1/AUTH_ksproj1/c", token)
    assert listing.status_int == 200 and listing.body == b"o\n"
    assert call(proxy_app, "GET", "/v1/AUTH_ksproj1", token).body == b"c\n"
    for path in ("/v1/AUTH_test", "/v1/AUTH_test/c", "/v1/AUTH_test/c/o"):
        assert call(proxy_app, "GET", path, token).status_int == 403
    assert call(proxy_app, "PUT", "/v1/AUTH_test/x", token).status_int == 403


def test_a_reader_only_reads(proxy_app):
    member, _ = fernet_token("ksproj2", "ksowner", ["member", "reader"])
    assert call(proxy_app, "PUT", "/v1/AUTH_ksproj2/c", member).status_int in (201, 202)
    assert call(proxy_app, "PUT", "/v1/AUTH_ksproj2/c/o", member, b"x").status_int == 201
    reader, _ = fernet_token("ksproj2", "ksreader", ["reader"])
    assert call(proxy_app, "GET", "/v1/AUTH_ksproj2", reader).status_int == 200
    assert call(proxy_app, "GET", "/v1/AUTH_ksproj2/c/o", reader).body == b"x"
    assert call(proxy_app, "HEAD", "/v1/AUTH_ksproj2/c", reader).status_int == 204
    assert call(proxy_app, "GET", "/v1/AUTH_ksproj2/nothing", reader).status_int == 404
    for method, path in (("PUT", "/c/o"), ("DELETE", "/c/o"), ("POST", "/c/o"),
                         ("PUT", "/c2"), ("POST", "/c"), ("DELETE", "/c"), ("POST", "")):
        assert call(proxy_app, method, "/v1/AUTH_ksproj2" + path, reader).status_int == 403
    assert call(proxy_app, "GET", "/v1/AUTH_ksproj2/c/o", member).body == b"x"


def test_the_admin_projects_admin_reaches_every_account(proxy_app):
    owner, _ = fernet_token("ksproj3", "ksowner3", ["member"])
    assert call(proxy_app, "PUT", "/v1/AUTH_ksproj3/c", owner).status_int in (201, 202)
    admin, _ = fernet_token("admin", "ksadmin", ["admin", "member", "reader"])
    assert call(proxy_app, "GET", "/v1/AUTH_ksproj3", admin).body == b"c\n"
    other_admin, _ = fernet_token("ksproj4", "ksadmin4", ["admin", "member", "reader"])
    assert call(proxy_app, "GET", "/v1/AUTH_ksproj3", other_admin).status_int == 403


def test_acls_name_keystone_projects_and_users(proxy_app):
    owner, _ = fernet_token("ksproj5", "ksowner5", ["member"])
    guest, _ = fernet_token("ksguest", "ksguestuser", ["member"])
    assert call(proxy_app, "PUT", "/v1/AUTH_ksproj5/shared", owner).status_int in (201, 202)
    assert call(proxy_app, "PUT", "/v1/AUTH_ksproj5/shared/o", owner, b"s").status_int == 201
    assert call(proxy_app, "GET", "/v1/AUTH_ksproj5/shared/o", guest).status_int == 403
    req = Request.blank("/v1/AUTH_ksproj5/shared", method="POST",
                        headers={"X-Auth-Token": owner, "X-Container-Read": "ksguest:*",
                                 "X-Container-Write": "ksguest:ksguestuser"})
    assert req.get_response(proxy_app).status_int == 204
    assert call(proxy_app, "GET", "/v1/AUTH_ksproj5/shared/o", guest).body == b"s"
    assert call(proxy_app, "PUT", "/v1/AUTH_ksproj5/shared/g", guest, b"g").status_int == 201


def test_unscoped_domain_scoped_and_revoked_tokens_are_refused(proxy_app):
    domain, _ = fernet_token("default", "ksuser6", ["admin"], scope="domain")
    assert call(proxy_app, "GET", "/v1/AUTH_default", domain).status_int == 401
    token, claims = fernet_token("ksproj6", "ksuser6", ["member"])
    assert call(proxy_app, "GET", "/v1/AUTH_ksproj6", token).status_int in (200, 204)
    revocations = auth_layer(proxy_app).tokens.revocations
    revocations.add([RevocationEvent(time.time(), audit_id=claims.audit_ids[0])])
    assert call(proxy_app, "GET", "/v1/AUTH_ksproj6", token).status_int == 401
    assert call(proxy_app, "GET", "/v1/AUTH_ksproj6", token[:-6] + "AAAAAA").status_int == 401


class StubIdentity:
    """Answers `POST /v3/auth/tokens` as the identity service does for its users."""

    def __init__(self, users, status=None):
        self.users = users  # (project, user, password) -> (project id, user id, roles)
        self.status = status
        self.calls = []

    def request(self, method, url, headers=None, body=None, max_body=None):
        import json
        from types import SimpleNamespace

        self.calls.append((method, url))
        if self.status is not None:
            return SimpleNamespace(status=self.status, headers={})
        doc = json.loads(body)["auth"]
        user = doc["identity"]["password"]["user"]
        key = (doc["scope"]["project"]["name"], user["name"], user["password"])
        if key not in self.users:
            return SimpleNamespace(status=401, headers={})
        project_id, user_id, roles = self.users[key]
        token, _ = fernet_token(project_id, user_id, roles)
        return SimpleNamespace(status=201, headers={"X-Subject-Token": token})


USERS = {("test", "tester", "testing"): ("test", "tester", ["member", "reader"]),
         ("test", "tester3", "testing3"): ("test", "tester3", ["reader"]),
         ("admin", "admin", "admin"): ("admin", "admin", ["admin", "member", "reader"]),
         ("proj", "alice", "pw"): ("0123abcd", "a1b2", ["member", "reader"])}


def v1_login(stub, user, key):
    req = Request.blank("/auth/v1.0", headers={"X-Auth-User": user, "X-Auth-Key": key,
                                               "Host": "proxy.example:8080"})
    return handle_identity_auth(req, IdentityLogin("http://identity", "Default", FERNET, stub),
                                SECRET, 86400, "AUTH_", "", ADMINS)


def test_v1_auth_against_the_identity_store():
    stub = StubIdentity(USERS)
    answer = v1_login(stub, "proj:alice", "pw")
    assert answer.status_int == 200
    assert answer.headers["X-Storage-Url"] == "http://proxy.example:8080/v1/AUTH_0123abcd"
    assert int(answer.headers["X-Auth-Token-Expires"]) <= 600  # the Keystone token's life
    info = verify_token(answer.headers["X-Auth-Token"], SECRET)
    assert (info.account, info.user, info.user_id, info.roles) == \
        ("0123abcd", "alice", "a1b2", (".admin",))
    assert info.project_roles == ("member", "reader")
    assert stub.calls == [("POST", "http://identity/v3/auth/tokens?nocatalog")]
    admin = verify_token(v1_login(stub, "admin:admin", "admin").headers["X-Auth-Token"], SECRET)
    assert admin.roles == (".admin", ".reseller_admin")
    reader = verify_token(v1_login(stub, "test:tester3", "testing3").headers["X-Auth-Token"],
                          SECRET)
    assert reader.roles == () and reader.account == "test"


@pytest.mark.parametrize("user,key", [("proj:alice", "wrong"), ("proj:bob", "pw"),
                                      ("alice", "pw"), ("proj:", "pw"), (":alice", "pw"),
                                      ("proj:alice", ""), ("", "")])
def test_v1_auth_refuses_bad_credentials_with_401(user, key):
    answer = v1_login(StubIdentity(USERS), user, key)
    assert answer.status_int == 401 and "X-Auth-Token" not in answer.headers


@pytest.mark.parametrize("status", [500, 503, 302])
def test_v1_auth_is_503_when_the_identity_service_cannot_say(status):
    answer = v1_login(StubIdentity(USERS, status), "proj:alice", "pw")
    assert answer.status_int == 503 and "X-Auth-Token" not in answer.headers


def test_v1_auth_is_503_when_the_keys_differ():
    class Foreign(StubIdentity):
        def request(self, *args, **kwargs):
            answer = super().request(*args, **kwargs)
            answer.headers["X-Subject-Token"] = encode_token(
                TokenClaims("u", ("password",), "project", "p", time.time(),
                            time.time() + 60, ("a",), ("member",)),
                fernet_of([key_from_secret("another secret")]))
            return answer

    assert v1_login(Foreign(USERS), "proj:alice", "pw").status_int == 503


def test_a_store_issued_v1_token_dies_with_its_users_revocation(proxy_app):
    token = v1_login(StubIdentity(USERS), "proj:alice", "pw").headers["X-Auth-Token"]
    assert call(proxy_app, "PUT", "/v1/AUTH_0123abcd/c", token).status_int in (201, 202)
    auth_layer(proxy_app).tokens.revocations.add([RevocationEvent(time.time(), user_id="a1b2")])
    assert call(proxy_app, "GET", "/v1/AUTH_0123abcd/c", token).status_int == 401


def test_names_and_flags():
    assert split_login("p:u:x") == ("p", "u:x")
    assert split_login("p" * 300 + ":u") is None
    assert v1_flags(["admin"], "other", ADMINS) == (".admin",)
    assert v1_flags(["admin"], "service", ADMINS) == (".admin", ".reseller_admin")
    assert v1_flags(["reader"], "admin", ADMINS) == ()


class StubDirectory:
    """Answers `GET /v3/{projects,users}/{id}` as the identity service does."""

    def __init__(self, records, status=200):
        self.records = records  # id -> (name, domain id)
        self.status = status
        self.calls = 0

    def request(self, method, url, headers=None, max_body=None):
        import json
        from types import SimpleNamespace

        self.calls += 1
        assert headers["X-Auth-Token"] == "service-token"
        kind, entity_id = url.rsplit("/", 2)[-2:]
        if self.status != 200 or entity_id not in self.records:
            return SimpleNamespace(status=self.status if self.status != 200 else 404)
        name, domain = self.records[entity_id]
        doc = {kind[:-1]: {"id": entity_id, "name": name, "domain_id": domain}}
        return SimpleNamespace(status=200, json=lambda: json.loads(json.dumps(doc)))


def test_acls_may_name_default_domain_projects_and_users():
    from common.token_check import Requester, with_implied
    from proxy.callers import caller_of
    from proxy.identity_names import IdentityNames

    stub = StubDirectory({"p-id": ("sales", "default"), "u-id": ("bob", "default"),
                          "q-id": ("ops", "other"), "v-id": ("eve", "other")})
    names = IdentityNames("http://identity", lambda: "service-token", client=stub)
    bob = names.named(caller_of(Requester("u-id", "p-id", with_implied(["member"])), ADMINS))
    assert {"sales:bob", "sales:*", "*:bob", "p-id:bob", "sales:u-id", "p-id:u-id"} \
        <= bob.groups and bob.named
    assert names.named(bob) is bob
    calls = stub.calls
    names.named(caller_of(Requester("u-id", "p-id", frozenset()), ADMINS))
    assert stub.calls == calls  # remembered
    eve = names.named(caller_of(Requester("v-id", "q-id", frozenset()), ADMINS))
    assert "ops:eve" not in eve.groups and "q-id:v-id" in eve.groups  # not the default domain
    down = IdentityNames("http://identity", lambda: "service-token",
                         client=StubDirectory({}, status=503))
    alone = down.named(caller_of(Requester("u-id", "p-id", frozenset()), ADMINS))
    assert "p-id:u-id" in alone.groups and "sales:bob" not in alone.groups
