"""Live pages in-process: `/api/live/<page>` answers one snapshot of the page's GETs, and
`/api/events/<page>` sends it again only when it changed (keep-alives otherwise), ends with
a `logout` event when the session is gone, and turns a service's refusal into its message.
The services are a stand-in HTTP client counting its calls (one round per interval)."""
from __future__ import annotations

import json

import pytest
from webob import Request

from common.http_client import HTTPClientError
from dashboard import live
from dashboard.app import build, service_message
from dashboard.config import DashboardConfig
from tests.dashboard.test_app import TOKEN, FakeIdentity, call, logged_in


class FakeAnswer:
    def __init__(self, status, body):
        self.status, self._body = status, body

    def json(self):
        return self._body


class FakeHTTP:
    """Answers by URL suffix; `servers` is what /servers/detail lists right now."""

    def __init__(self):
        self.servers = [{"id": "1", "name": "<script>x</script>", "status": "BUILD"}]
        self.calls = []
        self.down = False

    def request(self, method, url, headers=None, body=None, **_options):
        self.calls.append((method, url, (headers or {}).get("X-Auth-Token")))
        if self.down:
            raise HTTPClientError("connection refused")
        if url.endswith("/servers/detail"):
            return FakeAnswer(200, {"servers": list(self.servers)})
        if url == "http://127.0.0.1:8080/recon/cluster":  # the proxy's root, not the account
            return FakeAnswer(200, {"nodes": [], "rings": {}})
        if "/os-simple-tenant-usage/test?start=" in url:
            return FakeAnswer(200, {"tenant_usage": {"server_usages": [
                {"started_at": "1970-01-12T13:00:00.000000", "ended_at": None, "vcpus": 2,
                 "memory_mb": 1024, "name": "<script>x</script>"}]}})
        if url.endswith("/os-quota-sets/test?usage=true"):
            return FakeAnswer(200, {"quota_set": {"instances": {"limit": 10, "in_use": 1}}})
        if url.endswith("/os-hypervisors/detail"):
            return FakeAnswer(403, {"forbidden": {"code": 403, "message": "Policy forbids."}})
        return FakeAnswer(404, {"itemNotFound": {"message": "nope"}})


@pytest.fixture
def env(tmp_path):
    identity = FakeIdentity()
    http = FakeHTTP()
    slept = []
    config = DashboardConfig(identity_url="http://127.0.0.1:5000",
                             session_db=str(tmp_path / "s.db"), live_seconds=2.5)
    app = build(config, identity=identity, clock=lambda: identity.now, http=http,
                sleep=slept.append)
    return app, http, identity, slept


def events(app, cookie, page="instances"):
    """(status, headers, the body's iterator)."""
    seen = {}

    def start(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, dict(headers)

    environ = Request.blank(f"/api/events/{page}", headers={"Cookie": cookie}).environ
    body = iter(app(environ, start))
    seen["environ"] = environ
    return seen, body


def parse(chunk: bytes):
    lines = chunk.decode().strip().split("\n")
    if lines[0].startswith(":"):
        return "keep-alive", None
    return lines[0].removeprefix("event: "), json.loads(lines[1].removeprefix("data: "))


def test_a_snapshot_carries_each_answer_and_refusals_as_messages(env):
    app, http, _identity, _slept = env
    cookie, _csrf, _ = logged_in(app)
    answer = call(app, "/api/live/instances", cookie=cookie)
    assert answer.status_int == 200
    assert answer.json["servers"] == {"status": 200, "body": {"servers": http.servers}}
    assert http.calls[-1] == ("GET", "http://127.0.0.1:8774/v2.1/servers/detail",
                              TOKEN + "test")
    admin = call(app, "/api/live/admin", cookie=cookie).json
    assert admin["hypervisors"] == {"status": 403, "body": {"error": {
        "message": "Policy forbids."}}}
    assert admin["storage"] == {"status": 200, "body": {"nodes": [], "rings": {}}}
    # The image service is not in this catalog: a message, not an exception.
    assert call(app, "/api/live/images", cookie=cookie).json["images"]["status"] == 404
    http.down = True
    down = call(app, "/api/live/instances", cookie=cookie).json["servers"]
    assert down["status"] == 502 and "did not answer" in down["body"]["error"]["message"]
    assert call(app, "/api/live/nope", cookie=cookie).status_int == 404
    assert call(app, "/api/live/instances").status_int == 401
    assert call(app, "/api/events/instances").status_int == 401
    assert TOKEN not in answer.text


def test_the_stream_sends_only_changes(env):
    app, http, _identity, slept = env
    cookie, csrf, _ = logged_in(app)
    seen, body = events(app, cookie)
    assert seen["status"].startswith("200")
    assert seen["headers"]["Content-Type"] == "text/event-stream"
    assert seen["environ"]["eventlet.minimum_write_chunk_size"] == 0  # no buffering
    assert next(body).startswith(b"retry:")
    kind, data = parse(next(body))
    assert kind == "update" and data["servers"]["body"]["servers"][0]["status"] == "BUILD"
    assert parse(next(body)) == ("keep-alive", None)  # nothing changed: no data sent
    assert parse(next(body)) == ("keep-alive", None)
    http.servers = [{**http.servers[0], "status": "ACTIVE"}]
    kind, data = parse(next(body))
    assert kind == "update" and data["servers"]["body"]["servers"][0]["status"] == "ACTIVE"
    assert slept == [2.5, 2.5, 2.5]  # one round of GETs per interval, one GET per round
    assert len([c for c in http.calls if c[1].endswith("/servers/detail")]) == 4
    # The session ends (logout elsewhere): the stream says so and stops.
    call(app, "/auth/logout", "POST", {}, cookie=cookie, csrf=csrf)
    assert parse(next(body)) == ("logout", {})
    with pytest.raises(StopIteration):
        next(body)


def test_a_stream_ends_after_its_time(env):
    app, _http, identity, _slept = env
    cookie, _csrf, _ = logged_in(app)
    _seen, body = events(app, cookie)
    next(body), next(body)
    identity.now += live.STREAM_SECONDS + 1  # the session is still live: the idle limit
    app.dashboard.sessions.idle_seconds = 10 * live.STREAM_SECONDS  # is longer than that
    with pytest.raises(StopIteration):
        next(body)


def test_service_messages():
    assert service_message({"conflictingRequest": {"message": "busy\nmore"}}, 409) == "busy"
    assert service_message({"NeutronError": {"message": "no"}}, 400) == "no"
    assert service_message({"message": "flat"}, 400) == "flat"
    assert service_message(None, 500) == "the service answered 500"
    assert service_message(["x"], 502) == "the service answered 502"


def test_events_are_one_line_of_json():
    chunk = live.event("update", {"name": "a\nb<script>"})
    assert chunk.count(b"\n") == 3 and chunk.endswith(b"\n\n")
    assert live.changed(None, {"a": 1})[0] and not live.changed(
        live.fingerprint({"a": 1}), {"a": 1})[0]


def test_the_overview_has_quotas_and_usage_over_time(env):
    app, http, _identity, _slept = env
    cookie, _csrf, _ = logged_in(app)
    # identity.now is 1_000_000 s: 1970-01-12T13:46:40Z; the server started at 13:00.
    answer = call(app, "/api/overview", cookie=cookie)
    assert answer.status_int == 200
    assert answer.json["quotas"] == [{"label": "Instances", "used": 1, "limit": 10,
                                      "percent": 10}]
    hours, days = answer.json["usage"]["hours"], answer.json["usage"]["days"]
    assert len(hours["start"]) == 24 and len(days["start"]) == 14
    assert hours["instances"][-1] == round((1_000_000 - 997_200) / 3600, 3)  # 13:00 → now
    assert hours["vcpus"][-1] == 2 * hours["instances"][-1]
    assert sum(hours["instances"][:-1]) == 0 and days["ram_gib"][-1] == hours["instances"][-1]
    query = next(url for _m, url, _t in http.calls if "tenant-usage" in url)
    assert "start=1969-12-30T00:00:00Z&end=1970-01-13T00:00:00Z" in query
    http.down = True
    assert call(app, "/api/overview", cookie=cookie).status_int == 502
