"""Fixtures for the compute tests, all on the session cluster's REAL image service and proxy
tokens: its settings, public test images uploaded through the image service, a client of the
cluster's own compute API, and an in-process ComputeAPI (temp SQLite database, synchronous
orchestration) for the API tests that need no agents."""
from __future__ import annotations

import json

import pytest
from webob import Request

from compute.api.app import ComputeAPI, build_core
from compute.config import load_api_config
from compute.service_auth import API_TARGET, sign_headers
from tests.compute.support import CloudSettings, ClusterCompute, free_port


@pytest.fixture(scope="session")
def cloud_settings(cluster) -> CloudSettings:
    return CloudSettings.of(cluster)


@pytest.fixture(scope="session")
def images(cloud_settings) -> dict[str, str]:
    """{"active", "queued", "big"} -> image id, public images in the real image service."""
    return cloud_settings.test_images()


@pytest.fixture(scope="session")
def cloud(cloud_settings, images) -> ClusterCompute:
    return ClusterCompute(cloud_settings, images["active"])


class InProcessAPI:
    """Calls a ComputeAPI through webob, as a client would over HTTP."""

    def __init__(self, app: ComputeAPI, service_secret: str, image_id: str):
        self.app = app
        self.core = app.core
        self.service_secret = service_secret
        self.image_id = image_id
        self.closed_port = free_port()

    def call(self, method, path, tok=None, body=None, raw=None):
        request = Request.blank(path, method=method)
        if tok:
            request.headers["X-Auth-Token"] = tok
        if raw is not None or body is not None:
            request.body = raw if raw is not None else json.dumps(body).encode()
            request.content_type = "application/json"
        response = request.get_response(self.app)
        return response.status_int, (response.json if response.body else None)

    def signed(self, method, path, body, secret=None, target=API_TARGET, headers=None):
        """A request signed as an agent signs it (or with `headers` as given instead)."""
        raw = json.dumps(body).encode()
        request = Request.blank(path, method=method, body=raw)
        request.headers.update(headers or sign_headers(secret or self.service_secret, method,
                                                       target, path, raw))
        response = request.get_response(self.app)
        return response.status_int, (response.json if response.body else None)

    def register(self, name, boot_id="boot-1", instances=None, building=(), az="nova",
                 memory_mb=2048, vcpus=4, local_gb=40, **report):
        return self.signed("PUT", f"/internal/v1/hosts/{name}", {
            "availability_zone": az, "agent_url": f"http://127.0.0.1:{self.closed_port}",
            "boot_id": boot_id, "hypervisor_type": "TEST", "vcpus": vcpus,
            "memory_mb": memory_mb, "local_gb": local_gb, "instances": instances or {},
            "building": list(building), **report,
        })

    def boot(self, tok, name="vm", flavor="1", image=None, **extra):
        return self.call("POST", "/v2.1/servers", tok, {"server": {
            "name": name, "imageRef": image or self.image_id, "flavorRef": flavor, **extra}})


def _in_process_api(tmp_path, cloud_settings, images, extra: str = ""):
    conf_path = tmp_path / "compute-api.conf"
    conf_path.write_text(
        "[compute-api]\n"
        f"db_path = {tmp_path / 'compute.db'}\n"
        f"token_secret = {cloud_settings.token_secret}\n"
        "service_secret = in-process-service-secret\n"
        f"image_url = {cloud_settings.image_url}\n"
        "heartbeat_window = 30\n"
        "max_build_retries = 2\n"
        "default_quota_instances = 5\n"
        + extra
    )
    conf = load_api_config(str(conf_path))
    core = build_core(conf, spawn=lambda fn, *args: fn(*args))
    return InProcessAPI(ComputeAPI(core), "in-process-service-secret", images["active"])


@pytest.fixture
def api(tmp_path, cloud_settings, images):
    app = _in_process_api(tmp_path, cloud_settings, images)
    yield app
    app.core.db.close()


@pytest.fixture
def net_api(tmp_path, cloud_settings, images, cluster):
    """The in-process API with the session cluster's real network service."""
    app = _in_process_api(tmp_path, cloud_settings, images,
                          f"network_url = {cluster.network_url}\n")
    yield app
    app.core.db.close()


@pytest.fixture
def user(cloud_settings):
    return cloud_settings.token("demo", "alice")


@pytest.fixture
def other_user(cloud_settings):
    return cloud_settings.token("other", "bob")


@pytest.fixture
def admin(cloud_settings):
    return cloud_settings.token("admin", "admin", admin=True)
