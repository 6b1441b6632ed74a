"""Fixtures for the storage servers' in-process tests.

Object-server fixtures (`object_env`) build a temp conf dir with a brume.conf, a devices root
with one device `sda`, an object-server.conf, and the app from `make_app`. The temp dirs live
under pytest's tmp_path (on this machine's ext4 root filesystem, so real xattrs apply).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from webob import Request

from common.timestamp import Timestamp
from common.wsgi_server import runner_layers
from storage.objects.server import make_app
from tests.storage import signing


@dataclass
class ObjectEnv:
    app: object
    devices: str
    conf_dir: str
    conf_path: str

    def request(self, path, method="GET", body=None, headers=None, **kwargs):
        """An in-process request, signed with the cluster's backend secret."""
        req = Request.blank(path, method=method, headers=headers or {}, **kwargs)
        if body is not None:
            req.body = body
        return self.send(req)

    def send(self, req):
        """Sign a prepared webob request and run it through the app."""
        signed = signing.sign(req, self.app.backend_auth)
        return signed.get_response(runner_layers(self.app), catch_exc_info=True)

    def put(self, path="/sda/1/a/c/o", body=b"hello", headers=None, timestamp=None):
        hdrs = {"X-Timestamp": (timestamp or Timestamp.now()).normal,
                "Content-Type": "text/plain"}
        hdrs.update(headers or {})
        return self.request(path, "PUT", body=body, headers=hdrs)

    def files(self, device="sda"):
        """Every file under the device (relative paths), sorted, once the unlinks the
        server started after its answers are done."""
        for manager in self.app.policy_diskfiles.values():
            if manager.background is not None:
                manager.background.wait_all()
        root = os.path.join(self.devices, device)
        found = []
        for dirpath, _dirs, names in os.walk(root):
            for name in names:
                found.append(os.path.relpath(os.path.join(dirpath, name), root))
        return sorted(found)


def write_object_conf(tmp_path, node_timeout: float = 2.0) -> tuple[str, str, str]:
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    (conf_dir / "brume.conf").write_text(
        "[cluster]\nhash_path_prefix = test-prefix\nhash_path_suffix = test-suffix\n"
    )
    devices = tmp_path / "devices"
    (devices / "sda").mkdir(parents=True)
    conf_path = tmp_path / "object-server.conf"
    conf_path.write_text(
        "[server]\napp = storage.objects.server:make_app\nbind_port = 6200\n"
        f"conf_dir = {conf_dir}\n\n[object-server]\ndevices = {devices}\n"
        f"conn_timeout = 0.5\nnode_timeout = {node_timeout}\n"
    )
    return str(conf_dir), str(devices), str(conf_path)


@pytest.fixture
def object_env(tmp_path) -> ObjectEnv:
    conf_dir, devices, conf_path = write_object_conf(tmp_path)
    return ObjectEnv(make_app(conf_path), devices, conf_dir, conf_path)
