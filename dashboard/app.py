"""The dashboard's WSGI app (`[server] app = dashboard.app:make_app`, port 8000).

Serves the page (`/`, `static/`: one HTML file, one script, one style sheet, no build
step), the login endpoints (`/auth/login`, `/auth/logout`) and a small JSON API:
`/api/session`, `/api/projects` (and POST to switch), `/api/overview`, the live pages'
snapshots and event streams (`/api/live/<page>`, `/api/events/<page>`: `dashboard.live`),
the serial console's WebSocket (`/api/console/<server id>`: `dashboard.console_relay`),
temporary URLs of objects (`POST /api/tempurl`: `dashboard.temp_urls`), and
`/api/<service>/<path>`, forwarded with the session's token to that service's endpoint in
the token's catalog (`dashboard.forwarding`), bodies streamed both ways (an image upload
goes to the image service chunk by chunk). Sessions live server-side
(`dashboard.sessions`); cookies, CSRF and security headers are `dashboard.guard`'s.
Errors are `{"error": {"code", "message"}}`.
"""
from __future__ import annotations

import json
import logging
import os
import time

from webob import Request, Response

from common import raw_connection, websocket
from common.green import eventlet
from common.http_client import HTTPClient, HTTPClientError
from common.http_errors import HTTPError, error_middleware
from common.routes import Router, request_path
from common.untrusted_json import UntrustedJSONError, parse_untrusted_json
from dashboard import console_relay, forwarding, guard, live, overview, temp_urls
from dashboard.config import DashboardConfig, load_dashboard_config
from dashboard.keystone import IdentityClient, LoginError
from dashboard.sessions import Session, SessionStore

log = logging.getLogger("brume.dashboard")

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
STATIC_FILES = {"app.js": "text/javascript; charset=utf-8",
                "app.css": "text/css; charset=utf-8"}
MAX_FORM = 64 * 1024


def render_error(error: HTTPError) -> Response:
    response = json_answer({"error": {"code": error.status, "message": error.first_line}},
                           error.status)
    for key, value in error.headers.items():
        response.headers[key] = value
    return response


def json_answer(body, status: int = 200, sort_keys: bool = False) -> Response:
    response = Response(status=status, content_type="application/json", charset=None)
    response.body = json.dumps(body, sort_keys=sort_keys).encode()
    return response


def read_json(req: Request) -> dict:
    """A small JSON object body; 415 unless sent as JSON (so no plain HTML form can post)."""
    if req.content_type != "application/json":
        raise HTTPError(415, "send JSON (Content-Type: application/json)")
    raw = req.body_file.read(MAX_FORM + 1)
    if len(raw) > MAX_FORM:
        raise HTTPError(413, "request body too large")
    try:
        body = parse_untrusted_json(raw)
    except UntrustedJSONError as exc:
        raise HTTPError(400, f"bad JSON: {exc}") from None
    if not isinstance(body, dict):
        raise HTTPError(400, "the body must be a JSON object")
    return body


def service_message(body, status: int) -> str:
    """The one-line reason of a service's error answer (any of the services' shapes)."""
    if isinstance(body, dict):
        for value in [body, *body.values()]:
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return value["message"].splitlines()[0][:300] if value["message"] else ""
    return f"the service answered {status}"


def text_field(body: dict, name: str, required: bool = True) -> str:
    value = body.get(name, "")
    if not isinstance(value, str) or len(value) > 255 or (required and not value):
        raise HTTPError(400, f"'{name}' must be a non-empty string of at most 255 characters"
                        if required else f"'{name}' must be a string")
    return value


class Dashboard:
    def __init__(self, config: DashboardConfig, identity: IdentityClient, sessions: SessionStore,
                 http: HTTPClient, clock=time.time, sleep=eventlet.sleep):
        self.sleep = sleep
        self.config = config
        self.identity = identity
        self.sessions = sessions
        self.http = http
        self.clock = clock
        self.router = Router([
            ("GET", r"/", self.page),
            ("GET", r"/healthcheck", self.healthcheck),
            ("GET", r"/static/(?P<name>[a-z]+\.[a-z]+)", self.static),
            ("POST", r"/auth/login", self.login),
            ("POST", r"/auth/logout", self.logout),
            ("GET", r"/api/session", self.session_info),
            ("GET", r"/api/projects", self.projects),
            ("POST", r"/api/projects", self.switch_project),
            ("GET", r"/api/overview", self.overview),
            ("GET", r"/api/live/(?P<page>[a-z]+)", self.live_snapshot),
            ("GET", r"/api/events/(?P<page>[a-z]+)", self.live_events),
            ("GET", r"/api/console/(?P<server_id>[A-Za-z0-9-]{1,64})", self.console),
            ("POST", r"/api/tempurl", self.temp_url),
        ])

    def __call__(self, environ, start_response):
        req = Request(environ)
        path = request_path(req)
        parts = path.split("/", 3)
        if len(parts) >= 3 and parts[1] == "api" and parts[2] in forwarding.SERVICES:
            rest = "/" + parts[3] if len(parts) == 4 else ""
            return self.forward(req, parts[2], rest)(environ, start_response)
        handler, args = self.router.match(req.method, path)
        return handler(req, **args)(environ, start_response)

    # ----- sessions
    def session(self, req: Request, check_csrf: bool = True) -> Session:
        session = self.sessions.get(guard.session_id(req.headers.get("Cookie")), self.clock())
        if session is None:
            raise HTTPError(401, "not logged in")
        if check_csrf:
            guard.check_csrf(req.method, session.csrf, req.headers.get(guard.CSRF_HEADER))
        return session

    def session_json(self, session: Session) -> dict:
        grant = session.grant
        return {"user": {"id": grant.user_id, "name": grant.user_name},
                "project": {"id": grant.project_id, "name": grant.project_name},
                "csrf_token": session.csrf, "expires_at": session.expires_at}

    # ----- handlers
    def healthcheck(self, req):
        return Response(body=b"OK", content_type="text/plain", charset=None)

    def page(self, req):
        return self._file("index.html", "text/html; charset=utf-8")

    def static(self, req, name):
        if name not in STATIC_FILES:
            raise HTTPError(404, "no such file")
        return self._file(name, STATIC_FILES[name])

    def _file(self, name: str, content_type: str) -> Response:
        with open(os.path.join(STATIC_DIR, name), "rb") as handle:
            body = handle.read()
        return Response(body=body, content_type=content_type, charset=None)

    def login(self, req):
        body = read_json(req)
        try:
            grant = self.identity.login(text_field(body, "user"), text_field(body, "password"),
                                        text_field(body, "domain", False) or "Default",
                                        text_field(body, "project", False))
        except LoginError as exc:
            raise HTTPError(exc.status, str(exc)) from None
        old = guard.session_id(req.headers.get("Cookie"))
        if old:
            self.sessions.delete(old)
        self.sessions.purge(self.clock())
        session = self.sessions.create(grant, self.clock())
        response = json_answer(self.session_json(session))
        response.headers["Set-Cookie"] = guard.set_cookie(session.id,
                                                          self.config.secure_cookies)
        return response

    def logout(self, req):
        session = self.session(req)
        self.sessions.delete(session.id)
        try:
            self.identity.revoke(session.grant.token)
        except LoginError as exc:  # the session is gone anyway; the token expires on its own
            log.warning("could not revoke a token at logout: %s", exc)
        response = json_answer({"logged_out": True})
        response.headers["Set-Cookie"] = guard.clear_cookie(self.config.secure_cookies)
        return response

    def session_info(self, req):
        return json_answer(self.session_json(self.session(req)))

    def projects(self, req):
        session = self.session(req)
        try:
            found = self.identity.projects(session.grant.token)
        except LoginError as exc:
            raise HTTPError(exc.status, str(exc)) from None
        return json_answer({"projects": [{"id": str(p.get("id", "")),
                                          "name": str(p.get("name", ""))} for p in found],
                            "current": session.grant.project_id})

    def switch_project(self, req):
        session = self.session(req)
        project_id = text_field(read_json(req), "project_id")
        try:
            grant = self.identity.rescope(session.grant.token, project_id)
        except LoginError as exc:
            raise HTTPError(403 if exc.status == 401 else exc.status, str(exc)) from None
        return json_answer(self.session_json(self.sessions.rescope(session, grant,
                                                                   self.clock())))

    def call_service(self, session: Session, method: str, service: str, path: str,
                     query: str = "", body: dict | None = None,
                     root: bool = False) -> tuple[int, object]:
        """(status, decoded JSON or None) of one call with the session's token (`root`:
        `path` at the root of the service's host); HTTPError 502 when the service did not
        answer, 404 when the catalog lacks it."""
        url = forwarding.root_target(session.grant.catalog, service, path,
                                     self.config.interface) if root else forwarding.target(
            session.grant.catalog, service, path, query, self.config.interface)
        headers = {"X-Auth-Token": session.grant.token, "Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        try:
            answer = self.http.request(method, url, headers=headers, body=data, timeout=30.0)
        except HTTPClientError as exc:
            raise HTTPError(502, f"the {service} service did not answer ({exc})") from None
        try:
            return answer.status, answer.json()
        except HTTPClientError:
            return answer.status, None

    def overview(self, req):
        session = self.session(req)
        status, limits = self.call_service(session, "GET", "compute",
                                           f"/os-quota-sets/{session.grant.project_id}",
                                           "usage=true")
        start, end = overview.usage_window(self.clock())
        used_status, used = self.call_service(
            session, "GET", "compute", f"/os-simple-tenant-usage/{session.grant.project_id}",
            f"start={start}&end={end}")
        return json_answer({"quotas": overview.quota_rows(limits if status == 200 else {}),
                            "usage": overview.usage_series(used if used_status == 200 else {},
                                                           self.clock())})

    # ----- temporary URLs
    def temp_url(self, req):
        session = self.session(req)
        container, obj, method, seconds = temp_urls.request_fields(read_json(req))
        account = forwarding.endpoint(session.grant.catalog, "object-store",
                                      self.config.interface)
        headers = {"X-Auth-Token": session.grant.token}
        try:
            answer = self.http.request("HEAD", account, headers=headers, timeout=30.0)
            key = answer.headers.get(temp_urls.KEY_HEADER) if answer.ok else None
            if answer.status in (401, 403):
                raise HTTPError(403, "the object store refused to show this account's key")
            if not answer.ok:
                raise HTTPError(502, f"the object store answered {answer.status}")
            if not key:
                key = temp_urls.new_key()
                made = self.http.request("POST", account, headers={
                    **headers, temp_urls.KEY_HEADER: key}, timeout=30.0)
                if not made.ok:
                    raise HTTPError(403 if made.status in (401, 403) else 502,
                                    f"could not set the account's temporary URL key "
                                    f"({made.status})")
        except HTTPClientError as exc:
            raise HTTPError(502, f"the object-store service did not answer ({exc})") from None
        expires = int(self.clock()) + seconds
        return json_answer({"url": temp_urls.make_url(account, container, obj, key, method,
                                                      expires),
                            "method": method, "expires": expires})

    # ----- live pages
    def snapshot(self, session: Session, page: str) -> dict:
        result = {}
        for name, source in live.PAGES[page].items():
            try:
                status, body = self.call_service(session, "GET", source.service, source.path,
                                                 source.query, root=source.root)
            except HTTPError as exc:
                status, body = exc.status, {"error": {"message": exc.first_line}}
            if status >= 400:
                body = {"error": {"message": service_message(body, status)}}
            result[name] = {"status": status, "body": body}
        return result

    def live_snapshot(self, req, page):
        if page not in live.PAGES:
            raise HTTPError(404, "no such live page")
        return json_answer(self.snapshot(self.session(req), page), sort_keys=True)

    def live_events(self, req, page):
        if page not in live.PAGES:
            raise HTTPError(404, "no such live page")
        session = self.session(req)
        req.environ["eventlet.minimum_write_chunk_size"] = 0  # each event as it comes
        response = Response(content_type="text/event-stream", charset=None)
        response.headers["X-Accel-Buffering"] = "no"
        response.app_iter = self.event_stream(session.id, page)
        return response

    def event_stream(self, session_id: str, page: str):
        """The SSE body: a snapshot whenever it changed, rounds `live_seconds` apart."""
        last = None
        started = self.clock()
        yield b"retry: 3000\n\n"
        while self.clock() - started < live.STREAM_SECONDS:
            session = self.sessions.get(session_id, self.clock())
            if session is None:
                yield live.event("logout", {})
                return
            fresh, last = live.changed(last, snapshot := self.snapshot(session, page))
            yield live.event("update", snapshot) if fresh else live.KEEPALIVE
            self.sleep(self.config.live_seconds)

    # ----- the serial console
    def console(self, req, server_id):
        session = self.session(req, check_csrf=False)
        try:
            answer = websocket.server_handshake(req.headers)
        except websocket.WebSocketError as exc:
            raise HTTPError(400, f"not a console request: {exc}") from None
        if not console_relay.same_origin(req.headers.get("Origin"), req.host, req.scheme):
            raise HTTPError(403, "a console is opened from the dashboard's own pages only")
        try:
            client = raw_connection.take_over(req.environ)
        except RuntimeError:
            raise HTTPError(501, "this server cannot relay a console") from None
        head = "HTTP/1.1 101 Switching Protocols\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in answer) + "\r\n"

        def console_url() -> str:
            try:
                status, body = self.call_service(
                    session, "POST", "compute", f"/servers/{server_id}/remote-consoles",
                    body={"remote_console": {"protocol": "serial", "type": "serial"}})
            except HTTPError as exc:
                raise console_relay.ConsoleError(exc.first_line) from None
            if status != 200:
                raise console_relay.ConsoleError(service_message(body, status))
            url = (body.get("remote_console") or {}).get("url") if isinstance(
                body, dict) else None
            if not isinstance(url, str):
                raise console_relay.ConsoleError("the compute service named no console URL")
            return url

        try:
            client.sendall(head.encode("ascii"))
        except OSError:
            client.close()
        else:
            console_relay.relay(client, session.csrf, console_url)
        return _Handled()

    # ----- forwarding
    def forward(self, req: Request, service: str, rest: str) -> Response:
        if req.method not in forwarding.METHODS:
            raise HTTPError(405, f"{req.method[:20]} is not allowed")
        session = self.session(req)
        url = forwarding.target(session.grant.catalog, service, rest, req.query_string,
                                self.config.interface)
        headers = forwarding.outgoing_headers(req.headers, session.grant.token)
        body = None
        if req.method in ("POST", "PUT", "PATCH"):
            body = req.body_file if req.content_length is not None else b""
            if req.content_length is None and req.headers.get("Transfer-Encoding"):
                body = req.body_file  # chunked upload: streamed on
        try:
            answer = self.http.request(req.method, url, headers=headers, body=body,
                                       stream=True, timeout=300.0, retries=0)
        except HTTPClientError as exc:
            raise HTTPError(502, f"the {service} service did not answer ({exc})") from None
        response = Response(status=answer.status, charset=None)
        response.headerlist = forwarding.returned_headers(service, req.method, rest,
                                                          answer.headers)
        if req.method == "HEAD":
            answer.close()
        else:
            response.app_iter = answer.iter_chunks()
        return response


class _Handled:
    """The WSGI answer of a request whose connection was taken over (nothing more to send)."""

    def __call__(self, environ, start_response):
        return raw_connection.handled()


def build(config: DashboardConfig, identity: IdentityClient | None = None,
          clock=time.time, http: HTTPClient | None = None, sleep=eventlet.sleep):
    """The wrapped app for `config` (tests inject the identity client, clock, HTTP client
    and sleep)."""
    http = http or HTTPClient(timeout=60.0)
    app = Dashboard(config, identity or IdentityClient(config.identity_url, http),
                    SessionStore(config.session_db, config.session_hours * 3600), http, clock,
                    sleep)
    wrapped = guard.with_security_headers(error_middleware(
        app, render_error, bug_log=log, bug_message="Unexpected error in the dashboard."))
    wrapped.dashboard = app
    return wrapped


def make_app(conf_path: str):
    """The WSGI app for `[dashboard]` in `conf_path` (raises ConfigError when wrong)."""
    return build(load_dashboard_config(conf_path))
