"""Fixtures for the network service's tests: a config in a temp dir (real SQLite store), the
app built from it as the runner builds it, tokens minted with the shared test secret (as the
identity service would issue them), and a small in-process client."""
from __future__ import annotations

import json
import time
import uuid

import pytest
from webob import Request

from common.token_format import TokenClaims, encode_token, fernet_of, key_from_secret

SECRET = "test-token-secret"


def write_conf(path, port: int = 9696, network: dict | None = None,
               server: dict | None = None) -> str:
    options = {"db_path": str(path / "network.db"), "token_secret": SECRET,
               "public_url": f"http://127.0.0.1:{port}"}
    options.update(network or {})
    sections = {"server": {"app": "network.app:make_app", "bind_port": str(port),
                           **(server or {})},
                "network": options}
    lines = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {value}" for key, value in values.items()]
        lines.append("")
    conf = path / "network-api.conf"
    conf.write_text("\n".join(lines))
    return str(conf)


def mint(project: str, roles=("member", "reader"), user: str | None = None,
         expires_in: float = 3600, secret: str = SECRET, scope_kind: str = "project") -> str:
    now = time.time()
    claims = TokenClaims(user or f"user-{project}", ("password",), scope_kind, project, now,
                         now + expires_in, (uuid.uuid4().hex[:22],), tuple(roles))
    return encode_token(claims, fernet_of([key_from_secret(secret)]))


class Client:
    """Calls the app in-process; `call` returns (status, headers, doc)."""

    def __init__(self, app, token=None):
        self.app = app
        self.token = token

    def as_(self, token) -> Client:
        return Client(self.app, token)

    def call(self, method, path, body=None, raw=None, token=None, headers=None):
        req = Request.blank(path, method=method)
        token = token or self.token
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

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body, **kw):
        return self.call("POST", path, body=body, **kw)

    def put(self, path, body, **kw):
        return self.call("PUT", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)

    def create(self, collection: str, key: str, **attrs) -> dict:
        status, _, doc = self.post(f"/v2.0/{collection}", {key: attrs})
        assert status == 201, (status, doc)
        return doc[key]


@pytest.fixture
def conf(tmp_path):
    return write_conf(tmp_path)


@pytest.fixture
def app(conf):
    from network.app import make_app

    return make_app(conf)


@pytest.fixture
def admin(app):
    return Client(app, mint("admin", ("admin", "member", "reader"), user="admin"))


@pytest.fixture
def alice(app):
    return Client(app, mint("alice"))


@pytest.fixture
def bob(app):
    return Client(app, mint("bob"))


@pytest.fixture
def alice_reader(app):
    return Client(app, mint("alice", ("reader",), user="alice-reader"))


def neutron_error(doc) -> str:
    assert set(doc) == {"NeutronError"}, doc
    assert set(doc["NeutronError"]) == {"type", "message", "detail"}
    return doc["NeutronError"]["type"]
