"""Fixtures for the volume service's in-process tests: a config in a temp dir (real SQLite
store, real volume files), the app built as the runner builds it but with jobs run at once
(no green threads) and a recording stand-in for the NBD exports (the qemu-nbd processes are
exercised by the integration and VM tests), tokens minted with the shared test secret, and
an in-process client."""
from __future__ import annotations

import json

import pytest
from webob import Request

from tests.network.conftest import mint

SECRET = "test-token-secret"


class RecordingExports:
    """What the service asked of its exports: {attachment id: (volume id, path, port)}."""

    def __init__(self, fail: bool = False):
        self.running_exports: dict[str, tuple] = {}
        self.stopped: list[str] = []
        self.fail = fail
        self.busy_ports: set[int] = set()  # held by "another program"

    def port_busy(self, port):
        return port in self.busy_ports

    def start(self, attachment_id, volume_id, path, port):
        from volume.exports import ExportError

        if self.fail:
            raise ExportError("qemu-nbd failed: refused for the test")
        self.running_exports[attachment_id] = (volume_id, path, port)

    def running(self, attachment_id, path=None):
        return attachment_id in self.running_exports

    def stop(self, attachment_id, timeout=30.0):
        self.running_exports.pop(attachment_id, None)
        self.stopped.append(attachment_id)


def write_conf(path, **volume) -> str:
    options = {"db_path": str(path / "volume.db"), "volumes_dir": str(path / "volumes"),
               "token_secret": SECRET, "public_url": "http://127.0.0.1:8776",
               "quota_volumes": "5", "quota_gigabytes": "20"}
    options.update({k: str(v) for k, v in volume.items()})
    lines = ["[server]", "app = volume.app:make_app", "bind_port = 8776", "", "[volume]"]
    lines += [f"{key} = {value}" for key, value in options.items()]
    conf = path / "volume-api.conf"
    conf.write_text("\n".join(lines) + "\n")
    return str(conf)


def build_app(conf: str, exports=None, object_store=None, images=None):
    from volume.app import wrap
    from volume.config import load_volume_config
    from volume.service import VolumeService

    service = VolumeService(load_volume_config(conf), lambda f, *a: f(*a), lambda s: None,
                            exports=exports or RecordingExports(), object_store=object_store,
                            images=images)
    return wrap(service)


class Client:
    def __init__(self, app, token):
        self.app, self.token = app, token

    def call(self, method, path, body=None, token=None, raw=None):
        req = Request.blank(path, method=method)
        req.headers["X-Auth-Token"] = token or self.token
        if body is not None:
            raw = json.dumps(body).encode()
        if raw is not None:
            req.body = raw
            req.content_type = "application/json"
        resp = req.get_response(self.app)
        doc = json.loads(resp.body) if resp.body and \
            resp.content_type == "application/json" else None
        return resp.status_int, doc

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body, **kw):
        return self.call("POST", path, body=body, **kw)

    def put(self, path, body, **kw):
        return self.call("PUT", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)


@pytest.fixture
def exports():
    return RecordingExports()


@pytest.fixture
def app(tmp_path, exports):
    return build_app(write_conf(tmp_path), exports)


@pytest.fixture
def member(app):
    return Client(app, mint("p1", secret=SECRET))


@pytest.fixture
def other(app):
    return Client(app, mint("p2", secret=SECRET))


@pytest.fixture
def reader(app):
    return Client(app, mint("p1", roles=("reader",), secret=SECRET))


@pytest.fixture
def admin(app):
    return Client(app, mint("admin", roles=("admin", "member", "reader"), secret=SECRET))
