"""The dashboard's WSGI app in-process: login, sessions, CSRF, cookies, escaping, headers.

The identity service is a stand-in here (`FakeIdentity`, the same three calls as
`dashboard.keystone.IdentityClient`); the real one is logged in to by the browser test on
the all-in-one cluster. Sessions are a real SQLite store in a temp dir.
"""
from __future__ import annotations

import json
import os
import re

import pytest
from webob import Request

from dashboard import forwarding, guard, overview
from dashboard.app import build
from dashboard.config import DashboardConfig
from dashboard.keystone import LoginError, grant_from
from dashboard.sessions import Grant, SessionStore

TOKEN = "gAAAAA-secret-token-never-in-the-browser"
CATALOG = [{"type": "compute", "endpoints": [
    {"interface": "public", "url": "http://127.0.0.1:8774/v2.1"}]},
    {"type": "object-store", "endpoints": [
        {"interface": "public", "url": "http://127.0.0.1:8080/v1/AUTH_test"}]}]


class FakeIdentity:
    def __init__(self):
        self.now = 1_000_000.0
        self.revoked = []

    def grant(self, project: str, token: str = TOKEN) -> Grant:
        return Grant(token + project, self.now + 3600, "tester", "tester", project,
                     f"<script>alert('{project}')</script>", CATALOG)

    def login(self, user, password, domain="Default", project=""):
        if (user, password) != ("tester", "testing"):
            raise LoginError("wrong user name, password or project", 401)
        return self.grant(project or "test")

    def rescope(self, token, project_id):
        if project_id not in ("test", "other"):
            raise LoginError("wrong user name, password or project", 401)
        return self.grant(project_id)

    def revoke(self, token):
        self.revoked.append(token)

    def projects(self, token):
        return [{"id": "test", "name": "test"}, {"id": "other", "name": "<b>other</b>"}]


@pytest.fixture
def app(tmp_path):
    identity = FakeIdentity()
    config = DashboardConfig(identity_url="http://127.0.0.1:5000",
                             session_db=str(tmp_path / "sessions.db"))
    return build(config, identity=identity, clock=lambda: identity.now)


def call(app, path, method="GET", body=None, cookie=None, csrf=None, content_type=None):
    req = Request.blank(path, method=method)
    if body is not None:
        req.body = json.dumps(body).encode()
        req.content_type = content_type or "application/json"
    if cookie:
        req.headers["Cookie"] = cookie
    if csrf:
        req.headers["X-CSRF-Token"] = csrf
    return req.get_response(app)


def logged_in(app):
    answer = call(app, "/auth/login", "POST", {"user": "tester", "password": "testing"})
    assert answer.status_int == 200, answer.body
    cookie = answer.headers["Set-Cookie"].split(";")[0]
    return cookie, answer.json["csrf_token"], answer


def test_login_sets_only_an_httponly_strict_session_cookie(app):
    cookie, csrf, answer = logged_in(app)
    flags = [part.strip() for part in answer.headers["Set-Cookie"].split(";")]
    assert "HttpOnly" in flags and "SameSite=Strict" in flags and "Path=/" in flags
    assert "Secure" not in flags  # plain http on loopback
    assert TOKEN not in answer.text and TOKEN not in answer.headers["Set-Cookie"]
    assert answer.json["user"]["name"] == "tester" and answer.json["project"]["id"] == "test"
    session = call(app, "/api/session", cookie=cookie)
    assert session.status_int == 200 and session.json["csrf_token"] == csrf
    assert TOKEN not in session.text


def test_secure_cookie_when_configured(tmp_path):
    identity = FakeIdentity()
    config = DashboardConfig(identity_url="http://127.0.0.1:5000", session_db=":memory:",
                             secure_cookies=True)
    app = build(config, identity=identity, clock=lambda: identity.now)
    _cookie, _csrf, answer = logged_in(app)
    assert "Secure" in [p.strip() for p in answer.headers["Set-Cookie"].split(";")]


def test_wrong_password_is_401_and_no_cookie(app):
    answer = call(app, "/auth/login", "POST", {"user": "tester", "password": "nope"})
    assert answer.status_int == 401 and "Set-Cookie" not in answer.headers
    assert answer.json["error"]["code"] == 401


@pytest.mark.parametrize("body,content_type,status", [
    ({"user": "tester"}, None, 400),
    ({"user": ["x"], "password": "y"}, None, 400),
    ({"user": "tester", "password": "testing"}, "text/plain", 415),
    ({"user": "tester", "password": "testing"}, "application/x-www-form-urlencoded", 415),
])
def test_bad_login_requests_are_4xx(app, body, content_type, status):
    assert call(app, "/auth/login", "POST", body, content_type=content_type).status_int == status


def test_not_json_login_is_400(app):
    req = Request.blank("/auth/login", method="POST", body=b"{nope",
                        content_type="application/json")
    assert req.get_response(app).status_int == 400


def test_state_changes_without_the_csrf_token_are_403(app):
    cookie, csrf, _ = logged_in(app)
    for path, body in (("/auth/logout", {}), ("/api/projects", {"project_id": "other"}),
                       ("/api/compute/servers", {"server": {}})):
        assert call(app, path, "POST", body, cookie=cookie).status_int == 403
        assert call(app, path, "POST", body, cookie=cookie, csrf="x" + csrf).status_int == 403
    assert call(app, "/api/object-store/c", "DELETE", cookie=cookie).status_int == 403
    assert call(app, "/api/session", cookie=cookie).status_int == 200  # still logged in


def test_logout_ends_the_session(app):
    cookie, csrf, _ = logged_in(app)
    answer = call(app, "/auth/logout", "POST", {}, cookie=cookie, csrf=csrf)
    assert answer.status_int == 200 and "Max-Age=0" in answer.headers["Set-Cookie"]
    assert call(app, "/api/session", cookie=cookie).status_int == 401
    assert app.dashboard.identity.revoked == [TOKEN + "test"]  # and its token revoked


def test_project_switch_keeps_the_session(app):
    cookie, csrf, _ = logged_in(app)
    listed = call(app, "/api/projects", cookie=cookie)
    assert [p["id"] for p in listed.json["projects"]] == ["test", "other"]
    switched = call(app, "/api/projects", "POST", {"project_id": "other"}, cookie=cookie,
                    csrf=csrf)
    assert switched.status_int == 200 and switched.json["project"]["id"] == "other"
    assert switched.json["csrf_token"] == csrf
    assert call(app, "/api/session", cookie=cookie).json["project"]["id"] == "other"
    refused = call(app, "/api/projects", "POST", {"project_id": "nope"}, cookie=cookie,
                   csrf=csrf)
    assert refused.status_int == 403


def test_session_expires(app):
    cookie, _csrf, _ = logged_in(app)
    app.dashboard.clock = lambda: 1_000_000.0 + 3601  # past the token's expiry
    assert call(app, "/api/session", cookie=cookie).status_int == 401


def test_api_needs_a_session(app):
    for path in ("/api/session", "/api/projects", "/api/overview", "/api/compute/servers"):
        assert call(app, path).status_int == 401
    assert call(app, "/api/session", cookie=f"{guard.COOKIE_NAME}=forged").status_int == 401


def test_page_has_no_inline_script_and_a_strict_policy(app):
    page = call(app, "/")
    assert page.status_int == 200
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert page.headers["X-Frame-Options"] == "DENY"
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)  # only external scripts
    assert not re.search(r"\son[a-z]+\s*=", page.text)  # no inline event handlers
    script = call(app, "/static/app.js")
    assert script.status_int == 200 and script.content_type == "text/javascript"
    assert "innerHTML" not in script.text and "insertAdjacentHTML" not in script.text
    assert call(app, "/static/secret.db").status_int == 404
    assert call(app, "/static/..%2fapp.py").status_int == 404


def test_every_answer_has_the_security_headers(app):
    cookie, _csrf, _ = logged_in(app)
    for answer in (call(app, "/nope"), call(app, "/api/session"),
                   call(app, "/api/session", cookie=cookie),
                   call(app, "/auth/login", "POST", {"user": "x", "password": "y"})):
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in answer.headers["Content-Security-Policy"]
        assert answer.headers["Cache-Control"] == "no-store"


def test_bad_input_is_4xx_never_500(app):
    cookie, csrf, _ = logged_in(app)
    assert call(app, "/api/projects", "POST", {"project_id": 5}, cookie=cookie,
                csrf=csrf).status_int == 400
    assert call(app, "/api/projects", "POST", [1], cookie=cookie, csrf=csrf).status_int == 400
    big = {"user": "x" * 70000, "password": "y"}
    assert call(app, "/auth/login", "POST", big).status_int == 413
    deep = Request.blank("/auth/login", method="POST", body=b"[" * 5000 + b"]" * 5000,
                         content_type="application/json")
    assert deep.get_response(app).status_int == 400
    odd = Request.blank("/api/session")
    odd.headers["Cookie"] = 'brume_dashboard="\\x"; ;;=;'
    assert odd.get_response(app).status_int == 401
    bad_path = Request.blank("/")
    bad_path.environ["PATH_INFO"] = "/api/\udcff".encode("utf-8", "surrogateescape").decode(
        "latin-1")
    assert bad_path.get_response(app).status_int in (400, 404)
    # Forwarded to 127.0.0.1:8774: nothing there (502), or another cluster's compute API
    # refusing this test's token (401); never a 500.
    assert call(app, "/api/compute/servers?x=%0a", cookie=cookie).status_int in (400, 401, 502)


def test_unknown_paths_and_methods(app):
    assert call(app, "/nope").status_int == 404
    assert call(app, "/auth/login").status_int == 405
    cookie, csrf, _ = logged_in(app)
    assert call(app, "/api/nope/x", cookie=cookie).status_int == 404
    assert call(app, "/api/compute/../identity", cookie=cookie).status_int in (400, 404)
    assert call(app, "/api/compute/%2e%2e/x", cookie=cookie).status_int == 400


def test_no_token_in_any_answer(app):
    cookie, csrf, login = logged_in(app)
    answers = [login, call(app, "/api/session", cookie=cookie), call(app, "/", cookie=cookie),
               call(app, "/api/projects", cookie=cookie),
               call(app, "/static/app.js", cookie=cookie)]
    for answer in answers:
        assert TOKEN not in answer.text
        assert all(TOKEN not in value for _name, value in answer.headerlist)


def test_healthcheck(app):
    assert call(app, "/healthcheck").text == "OK"


# ----- the logic below the app


def test_session_store_ids_are_random_and_rows_expire(tmp_path):
    store = SessionStore(str(tmp_path / "s.db"), idle_seconds=60)
    grant = Grant("tok", 10_000.0, "u", "u", "p", "p", [])
    one, two = store.create(grant, 0.0), store.create(grant, 0.0)
    assert one.id != two.id and one.csrf != two.csrf and len(one.id) >= 40
    assert store.get(one.id, 59.0).grant.token == "tok"
    assert store.get(one.id, 118.0) is not None  # renewed at 59
    assert store.get(one.id, 500.0) is None
    assert store.get(None, 0.0) is None
    assert store.purge(1_000.0) == 1  # two
    for name in os.listdir(tmp_path):  # tokens inside: the owner's only
        assert os.stat(tmp_path / name).st_mode & 0o077 == 0, name


def test_forwarding_targets_stay_under_the_endpoint():
    assert forwarding.target(CATALOG, "compute", "/servers/detail", "limit=5") == \
        "http://127.0.0.1:8774/v2.1/servers/detail?limit=5"
    assert forwarding.target(CATALOG, "object-store", "/c/a%20b", "") == \
        "http://127.0.0.1:8080/v1/AUTH_test/c/a%20b"
    for rest in ("/../AUTH_other", "/c/./x", "/%2E%2E/x"):
        with pytest.raises(Exception) as caught:
            forwarding.target(CATALOG, "object-store", rest, "")
        assert caught.value.status == 400
    with pytest.raises(Exception) as caught:
        forwarding.target(CATALOG, "network", "/v2.0/networks", "")
    assert caught.value.status == 404
    assert forwarding.root_target(CATALOG, "object-store", "/recon/cluster") == \
        "http://127.0.0.1:8080/recon/cluster"


def test_forwarding_headers():
    sent = forwarding.outgoing_headers({"Cookie": "x=1", "Content-Type": "application/json",
                                        "X-Auth-Token": "forged", "Range": "bytes=0-1"}, "tok")
    assert sent == {"Content-Type": "application/json", "Range": "bytes=0-1",
                    "X-Auth-Token": "tok"}
    back = dict(forwarding.returned_headers(
        "object-store", "GET", "/c/dir/<b>x.html",
        {"Content-Type": "text/html", "Set-Cookie": "a=b", "X-Subject-Token": "t",
         "X-Object-Meta-Color": "blue"}))
    assert "Set-Cookie" not in back and "X-Subject-Token" not in back
    assert back["X-Object-Meta-Color"] == "blue"
    assert back["Content-Disposition"] == "attachment; filename*=UTF-8''%3Cb%3Ex.html"


def test_quota_rows():
    rows = overview.quota_rows({"quota_set": {
        "id": "test", "cores": {"limit": -1, "in_use": 2, "reserved": 0},
        "instances": {"limit": 10, "in_use": 3, "reserved": 0}, "bogus": {"limit": 1}}})
    assert rows == [{"label": "Instances", "used": 3, "limit": 10, "percent": 30},
                    {"label": "vCPUs", "used": 2, "limit": None, "percent": None}]
    assert overview.quota_rows({"nope": 1}) == [] and overview.quota_rows([]) == []


def test_usage_series_cut_lives_into_buckets():
    now = 1_800_057_600.0  # 2027-01-16T00:00Z, on the hour and the day: the last buckets
    # start now
    usage = {"tenant_usage": {"server_usages": [
        {"started_at": "2027-01-15T06:30:00", "ended_at": "2027-01-15T07:30:00Z",
         "vcpus": 4, "memory_mb": 2048},
        {"started_at": "2027-01-14T00:00:00", "ended_at": None, "vcpus": 1, "memory_mb": 512},
        {"started_at": "not a time", "vcpus": 1}, "junk"]}}
    series = overview.usage_series(usage, now)
    hours, days = series["hours"], series["days"]
    assert hours["start"][-1] == now and days["start"][-1] == now
    assert hours["start"][0] == now - 23 * 3600 and days["start"][0] == now - 13 * 86400
    assert hours["instances"][-1] == 0  # the bucket starting now: nothing yet
    assert hours["instances"][-19:-17] == [1.5, 1.5]  # the 15th, 06:00-07:00 and 07:00-08:00
    assert hours["vcpus"][-19:-17] == [3.0, 3.0]
    assert hours["instances"][-20] == 1.0
    assert days["instances"][-3:] == [24.0, 25.0, 0.0]
    assert days["ram_gib"][-2] == 24 * 0.5 + 1 * 2
    assert overview.usage_series({}, now)["days"]["instances"] == [0.0] * 14
    assert overview.usage_window(now) == ("2027-01-03T00:00:00Z", "2027-01-17T00:00:00Z")


def test_grant_from_identity_answers():
    body = {"token": {"expires_at": "2030-01-01T00:00:00.000000Z",
                      "user": {"id": "u1", "name": "tester"},
                      "project": {"id": "p1", "name": "test"}, "catalog": CATALOG}}
    grant = grant_from("tok", body)
    assert grant.project_id == "p1" and grant.expires > 1.8e9 and grant.catalog == CATALOG
    with pytest.raises(LoginError) as caught:
        grant_from("tok", {"token": {"expires_at": "x", "user": {"id": "u"}}})
    assert caught.value.status == 502
