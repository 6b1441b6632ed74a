"""Fixtures for the identity service's tests: a config in a temp dir (real SQLite store,
cheap Argon2 costs), the app built from it the way the runner builds it, and a small
in-process client that logs in and calls the API."""
from __future__ import annotations

import json

import pytest
from webob import Request

BOOTSTRAP = {
    "admin:admin": "adminpass admin",
    "test:tester": "testing member",
    "test:tester3": "testing3 reader",
    "service:brume": "servicepass admin",
}


def write_conf(path, port: int = 5000, identity: dict | None = None,
               catalog: dict | None = None, bootstrap: dict | None = None,
               server: dict | None = None) -> str:
    base = f"http://127.0.0.1:{port}"
    options = {"db_path": str(path / "identity.db"), "token_secret": "test-token-secret",
               "public_url": base, "password_hash_time_cost": "1",
               "password_hash_memory_kib": "64"}
    options.update(identity or {})
    endpoints = {"identity": f"{base}/v3",
                 "object-store": "http://127.0.0.1:8080/v1/AUTH_$(project_id)s",
                 "image": "http://127.0.0.1:9292", "compute": "http://127.0.0.1:8774/v2.1"}
    endpoints.update(catalog or {})
    sections = {
        "server": {"app": "identity.app:make_app", "bind_port": str(port), **(server or {})},
        "identity": options,
        "catalog": endpoints,
        "bootstrap": BOOTSTRAP if bootstrap is None else bootstrap,
    }
    lines = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {value}" for key, value in values.items()]
        lines.append("")
    conf = path / "identity-api.conf"
    conf.write_text("\n".join(lines))
    return str(conf)


class Client:
    """Calls the app in-process; `login` returns a token, `call` (status, headers, doc)."""

    def __init__(self, app):
        self.app = app

    def call(self, method, path, token=None, body=None, raw=None, headers=None):
        req = Request.blank(path, method=method)
        if token:
            req.headers["X-Auth-Token"] = token
        for name, value in (headers or {}).items():
            req.headers[name] = value
        if body is not None:
            raw = json.dumps(body).encode()
        if raw is not None:
            req.body = raw
            req.content_type = "application/json"
        resp = req.get_response(self.app)
        doc = json.loads(resp.body) if resp.body and resp.content_type == \
            "application/json" else None
        return resp.status_int, resp.headers, doc

    def auth(self, user, password, project=None, domain="Default", scope=None):
        user_ref = {"name": user, "domain": {"name": domain}, "password": password}
        body = {"auth": {"identity": {"methods": ["password"],
                                      "password": {"user": user_ref}}}}
        if scope is not None:
            body["auth"]["scope"] = scope
        elif project is not None:
            body["auth"]["scope"] = {"project": {"name": project,
                                                 "domain": {"id": "default"}}}
        return self.call("POST", "/v3/auth/tokens", body=body)

    def login(self, user, password, project=None, **kwargs) -> str:
        status, headers, doc = self.auth(user, password, project, **kwargs)
        assert status == 201, (status, doc)
        return headers["X-Subject-Token"]


@pytest.fixture
def conf(tmp_path):
    return write_conf(tmp_path)


@pytest.fixture
def app(conf):
    from identity.app import make_app

    return make_app(conf)


@pytest.fixture
def client(app):
    return Client(app)


@pytest.fixture
def admin(client):
    return client.login("admin", "adminpass", "admin")


@pytest.fixture
def member(client):
    return client.login("tester", "testing", "test")
