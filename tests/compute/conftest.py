"""Fixtures for the in-process compute API tests: a real image double on a loopback HTTP
server, and a ComputeAPI built on a temp SQLite database with synchronous orchestration."""
from __future__ import annotations

import json
import threading
import wsgiref.simple_server

import pytest
from webob import Request

from compute.api.app import ComputeAPI, build_core
from compute.config import load_api_config
from compute.service_auth import sign_headers
from tests.compute.image_double import ImageDouble
from tests.compute.support import IMAGES, SERVICE_SECRET, TOKEN_SECRET, free_port, token


class QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def image_url():
    server = wsgiref.simple_server.make_server(
        "127.0.0.1", 0, ImageDouble(IMAGES, TOKEN_SECRET), handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


class InProcessAPI:
    """Calls a ComputeAPI through webob, as a client would over HTTP."""

    def __init__(self, app: ComputeAPI):
        self.app = app
        self.core = app.core

    def call(self, method, path, tok=None, body=None, raw=None):
        request = Request.blank(path, method=method)
        if tok:
            request.headers["X-Auth-Token"] = tok
        if raw is not None or body is not None:
            request.body = raw if raw is not None else json.dumps(body).encode()
            request.content_type = "application/json"
        response = request.get_response(self.app)
        return response.status_int, (response.json if response.body else None)

    def signed(self, method, path, body, secret=SERVICE_SECRET):
        raw = json.dumps(body).encode()
        request = Request.blank(path, method=method, body=raw)
        request.headers.update(sign_headers(secret, method, path, raw))
        response = request.get_response(self.app)
        return response.status_int, (response.json if response.body else None)

    def register(self, name, boot_id="boot-1", instances=None, building=(), az="nova",
                 memory_mb=2048, vcpus=4, local_gb=40):
        return self.signed("PUT", f"/internal/v1/hosts/{name}", {
            "availability_zone": az, "agent_url": f"http://127.0.0.1:{self.closed_port}",
            "boot_id": boot_id, "hypervisor_type": "TEST", "vcpus": vcpus,
            "memory_mb": memory_mb, "local_gb": local_gb, "instances": instances or {},
            "building": list(building),
        })

    def boot(self, tok, name="vm", flavor="1", image=None, **extra):
        return self.call("POST", "/v2.1/servers", tok, {"server": {
            "name": name, "imageRef": image or next(iter(IMAGES)), "flavorRef": flavor,
            **extra}})


@pytest.fixture
def api(tmp_path, image_url):
    conf_path = tmp_path / "compute-api.conf"
    conf_path.write_text(
        "[compute-api]\n"
        f"db_path = {tmp_path / 'compute.db'}\n"
        f"token_secret = {TOKEN_SECRET}\n"
        f"service_secret = {SERVICE_SECRET}\n"
        f"image_url = {image_url}\n"
        "heartbeat_window = 30\n"
        "max_build_retries = 2\n"
        "default_quota_instances = 5\n"
    )
    conf = load_api_config(str(conf_path))
    core = build_core(conf, spawn=lambda fn, *args: fn(*args))
    client = InProcessAPI(ComputeAPI(core))
    client.closed_port = free_port()
    yield client
    core.db.close()


@pytest.fixture
def user():
    return token("demo", "alice")


@pytest.fixture
def other_user():
    return token("other", "bob")


@pytest.fixture
def admin():
    return token("admin", "admin", admin=True)
