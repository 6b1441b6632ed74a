"""The dashboard's actions in-process, with the services as a stand-in HTTP client: temporary
URLs (the account key read, or set once when missing; a signature the object store's
tempurl rules accept), and the page actions that go through `/api/<service>/...` (image
sharing, container ACLs, networks, floating IPs, security group rules, volumes and their
attachment): CSRF required, the body and allowed headers forwarded, the token added."""
from __future__ import annotations

import dataclasses
import json
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from webob import Request

from common.http_client import HTTPClientError
from dashboard import temp_urls
from dashboard.app import build
from dashboard.config import DashboardConfig
from proxy.hmac_signatures import decode_signature, matching_key
from tests.dashboard.test_app import TOKEN, FakeIdentity, call, logged_in

ACCOUNT = "http://127.0.0.1:8080/v1/AUTH_test"


class Headers(dict):
    def get(self, name, default=None):
        return next((v for k, v in self.items() if k.lower() == name.lower()), default)


class Answer:
    def __init__(self, status, body=b"", headers=None):
        self.status, self.body = status, body
        self.headers = Headers(headers or {})
        self.ok = 200 <= status < 300

    def json(self):
        return json.loads(self.body or b"null")

    def iter_chunks(self):
        yield self.body

    def close(self):
        pass


class FakeHTTP:
    def __init__(self):
        self.calls = []
        self.key = None
        self.refuse = None

    def request(self, method, url, headers=None, body=None, **_options):
        if hasattr(body, "read"):
            body = body.read()
        self.calls.append((method, url, dict(headers or {}), body))
        if self.refuse:
            return Answer(self.refuse)
        if url == ACCOUNT and method == "HEAD":
            return Answer(204, headers={temp_urls.KEY_HEADER: self.key} if self.key else {})
        if url == ACCOUNT and method == "POST":
            self.key = headers[temp_urls.KEY_HEADER]
            return Answer(204)
        return Answer(202, b'{"ok": true}', {"Content-Type": "application/json"})


@pytest.fixture
def env(tmp_path):
    identity = FakeIdentity()
    http = FakeHTTP()
    config = DashboardConfig(identity_url="http://127.0.0.1:5000",
                             session_db=str(tmp_path / "s.db"))
    app = build(config, identity=identity, clock=lambda: identity.now, http=http)
    cookie, csrf, _ = logged_in(app)
    return app, http, cookie, csrf


def check_signature(url: str, key: str, method: str = "GET") -> None:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    signature = decode_signature(query["temp_url_sig"][0], ("sha256",))
    message = f"{method}\n{query['temp_url_expires'][0]}\n{unquote(parts.path)}".encode()
    assert signature is not None and signature[0] == "sha256"
    assert matching_key([(key.encode(), "account")], message, *signature) is not None
    assert matching_key([(b"another", "account")], message, *signature) is None


def test_a_temp_url_sets_the_account_key_once_and_is_signed_with_it(env):
    app, http, cookie, csrf = env
    body = {"container": "photos", "object": "2026/<b>cat</b>.jpg", "seconds": 600}
    first = call(app, "/api/tempurl", "POST", body, cookie=cookie, csrf=csrf)
    assert first.status_int == 200, first.body
    assert [c[0] for c in http.calls] == ["HEAD", "POST"] and http.key
    url = first.json["url"]
    assert url.startswith(ACCOUNT + "/photos/2026/%3Cb%3Ecat%3C/b%3E.jpg?temp_url_sig=")
    assert first.json["expires"] == 1_000_000 + 600
    check_signature(url, http.key)
    assert TOKEN not in url
    again = call(app, "/api/tempurl", "POST", {**body, "method": "PUT"}, cookie=cookie,
                 csrf=csrf)
    assert [c[0] for c in http.calls] == ["HEAD", "POST", "HEAD"]  # the key is kept
    check_signature(again.json["url"], http.key, "PUT")


@pytest.mark.parametrize("body", [
    {"container": "c"}, {"object": "o"}, {"container": "a/b", "object": "o"},
    {"container": "c", "object": "o", "method": "DELETE"},
    {"container": "c", "object": "o", "seconds": 0},
    {"container": "c", "object": "o", "seconds": "60"},
    {"container": "c", "object": "o", "seconds": True},
    {"container": "c", "object": "o", "seconds": temp_urls.MAX_SECONDS + 1},
])
def test_bad_temp_url_requests_are_400_and_change_nothing(env, body):
    app, http, cookie, csrf = env
    answer = call(app, "/api/tempurl", "POST", body, cookie=cookie, csrf=csrf)
    assert answer.status_int == 400 and answer.json["error"]["message"]
    assert http.calls == []


def test_temp_url_refusals_are_messages(env):
    app, http, cookie, csrf = env
    body = {"container": "c", "object": "o"}
    assert call(app, "/api/tempurl", "POST", body, cookie=cookie).status_int == 403  # no CSRF
    assert call(app, "/api/tempurl", "POST", body).status_int == 401
    http.refuse = 403
    answer = call(app, "/api/tempurl", "POST", body, cookie=cookie, csrf=csrf)
    assert answer.status_int == 403 and "refused" in answer.json["error"]["message"]

    def down(*_args, **_kwargs):
        raise HTTPClientError("connection refused")

    http.request = down
    answer = call(app, "/api/tempurl", "POST", body, cookie=cookie, csrf=csrf)
    assert answer.status_int == 502 and "did not answer" in answer.json["error"]["message"]


# (method, dashboard path, JSON body or None, extra headers, the service URL it must reach)
ACTIONS = [
    ("POST", "/api/image/v2/images/i1/members", {"member": "<script>p</script>"}, {},
     "http://127.0.0.1:9292/v2/images/i1/members"),
    ("DELETE", "/api/image/v2/images/i1/members/p2", None, {},
     "http://127.0.0.1:9292/v2/images/i1/members/p2"),
    ("POST", "/api/object-store/photos", None,
     {"X-Container-Read": ".r:*,.rlistings", "X-Container-Write": "test2:*"},
     ACCOUNT + "/photos"),
    ("POST", "/api/network/v2.0/networks", {"network": {"name": "n"}}, {},
     "http://127.0.0.1:9696/v2.0/networks"),
    ("POST", "/api/network/v2.0/subnets", {"subnet": {"network_id": "n", "cidr": "10.0.0.0/24",
                                                      "ip_version": 4}}, {},
     "http://127.0.0.1:9696/v2.0/subnets"),
    ("POST", "/api/network/v2.0/floatingips", {"floatingip": {"floating_network_id": "x"}}, {},
     "http://127.0.0.1:9696/v2.0/floatingips"),
    ("DELETE", "/api/network/v2.0/floatingips/f1", None, {},
     "http://127.0.0.1:9696/v2.0/floatingips/f1"),
    ("POST", "/api/network/v2.0/security-group-rules", {"security_group_rule": {
        "security_group_id": "g", "direction": "ingress", "protocol": "tcp"}}, {},
     "http://127.0.0.1:9696/v2.0/security-group-rules"),
    ("DELETE", "/api/network/v2.0/security-group-rules/r1", None, {},
     "http://127.0.0.1:9696/v2.0/security-group-rules/r1"),
    ("POST", "/api/volume/volumes", {"volume": {"name": "v", "size": 1}}, {},
     "http://127.0.0.1:8776/v3/test/volumes"),
    ("DELETE", "/api/volume/volumes/v1", None, {}, "http://127.0.0.1:8776/v3/test/volumes/v1"),
    ("POST", "/api/compute/servers/s1/os-volume_attachments",
     {"volumeAttachment": {"volumeId": "v1"}}, {},
     "http://127.0.0.1:8774/v2.1/servers/s1/os-volume_attachments"),
    ("DELETE", "/api/compute/servers/s1/os-volume_attachments/v1", None, {},
     "http://127.0.0.1:8774/v2.1/servers/s1/os-volume_attachments/v1"),
]
FULL_CATALOG = [
    {"type": "compute", "endpoints": [{"interface": "public",
                                       "url": "http://127.0.0.1:8774/v2.1"}]},
    {"type": "object-store", "endpoints": [{"interface": "public", "url": ACCOUNT}]},
    {"type": "image", "endpoints": [{"interface": "public", "url": "http://127.0.0.1:9292"}]},
    {"type": "network", "endpoints": [{"interface": "public", "url": "http://127.0.0.1:9696"}]},
    {"type": "block-storage", "endpoints": [{"interface": "public",
                                             "url": "http://127.0.0.1:8776/v3/test"}]},
]


@pytest.mark.parametrize("method,path,body,headers,url", ACTIONS)
def test_page_actions_need_csrf_and_reach_their_service(env, method, path, body, headers, url):
    app, http, cookie, csrf = env
    session = app.dashboard.sessions.get(cookie.split("=", 1)[1], 1_000_000.0)
    app.dashboard.sessions.rescope(session, dataclasses.replace(session.grant,
                                                                catalog=FULL_CATALOG), 1_000_000.0)

    def send(with_csrf: bool):
        req = Request.blank(path, method=method, headers={"Cookie": cookie, **headers})
        if with_csrf:
            req.headers["X-CSRF-Token"] = csrf
        if body is not None:
            req.body = json.dumps(body).encode()
            req.content_type = "application/json"
        return req.get_response(app)

    assert send(False).status_int == 403 and http.calls == []
    answer = send(True)
    assert answer.status_int == 202
    sent_method, sent_url, sent_headers, sent_body = http.calls[-1]
    assert (sent_method, sent_url) == (method, url)
    assert sent_headers["X-Auth-Token"] == TOKEN + "test" and "Cookie" not in sent_headers
    for name, value in headers.items():
        assert sent_headers[name] == value
    if body is not None:
        assert json.loads(sent_body) == body
