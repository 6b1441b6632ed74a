"""Container updates after PUT/DELETE: a real eventlet WSGI server on loopback plays the
container replica; failures leave async-pending records and never fail the client."""
from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from common.backend_auth import AUTH_HEADER, DEV_BACKEND_SECRET, BackendAuth
from common.green import eventlet
from common.timestamp import Timestamp
from storage.objects.async_pending import iter_async_pendings, read_async_pending
from storage.objects.server import make_app
from tests.storage.conftest import ObjectEnv, write_object_conf


class FakeContainer:
    """A container replica on 127.0.0.1: records requests, answers `status` (or stalls), and
    401 to requests not signed with `auth` (the test conf dir's backend secret) as a real
    container server would."""

    def __init__(self, status: int = 201, stall: threading.Event | None = None,
                 auth: BackendAuth | None = None):
        self.status = status
        self.stall = stall
        self.auth = auth or BackendAuth(DEV_BACKEND_SECRET)
        self.refusals: list[str] = []
        self.requests: list[tuple[str, str, dict]] = []
        self.stalls_ended = 0
        self.sock = eventlet.listen(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _app(self, environ, start_response):
        headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items()
                   if k.startswith("HTTP_")}
        self.requests.append((environ["REQUEST_METHOD"], environ["PATH_INFO"], headers))
        refused = self.auth.refusal(environ)
        if refused:
            self.refusals.append(refused)
            start_response("401 Unauthorized", [("Content-Length", "0")])
            return [b""]
        if self.stall is not None:
            self.stall.wait(60)
            self.stalls_ended += 1
        start_response(f"{self.status} X", [("Content-Length", "0")])
        return [b""]

    def _serve(self):
        eventlet.wsgi.server(self.sock, self._app, log_output=False, debug=False)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"


def closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def update_headers(host: str, device: str = "sdc", partition: str = "7") -> dict:
    return {"X-Container-Host": host, "X-Container-Device": device,
            "X-Container-Partition": partition}


def pendings(env):
    return [read_async_pending(p) for p in iter_async_pendings(os.path.join(env.devices, "sda"))]


@pytest.fixture
def fast_env(tmp_path):
    conf_dir, devices, conf_path = write_object_conf(tmp_path, node_timeout=0.3)
    return ObjectEnv(make_app(conf_path), devices, conf_dir, conf_path)


def test_put_and_delete_update_the_container(object_env):
    container = FakeContainer()
    stamp = Timestamp(time.time() - 1)
    resp = object_env.put("/sda/1/a/c/dir/obj%20%C3%A9", body=b"12345", timestamp=stamp,
                          headers={"Content-Type": "text/x", **update_headers(container.host)})
    assert resp.status_int == 201
    method, path, headers = container.requests[0]
    assert (method, path) == ("PUT", "/sdc/7/a/c/dir/obj é".encode().decode("latin-1"))
    assert headers["X-Timestamp"] == stamp.normal
    assert headers["X-Size"] == "5"
    assert headers["X-Content-Type"] == "text/x"
    assert headers["X-Etag"] == resp.headers["ETag"]
    del_ts = Timestamp.now()
    resp = object_env.request("/sda/1/a/c/dir/obj%20%C3%A9", "DELETE", headers={
        "X-Timestamp": del_ts.normal, **update_headers(container.host)})
    assert resp.status_int == 204
    method, _path, headers = container.requests[1]
    assert method == "DELETE" and headers["X-Timestamp"] == del_ts.normal
    assert container.refusals == []  # both updates were signed with the backend secret
    assert pendings(object_env) == []


def test_container_refusing_the_signature_leaves_an_unsigned_async_pending(object_env):
    container = FakeContainer(auth=BackendAuth("another cluster's secret"))
    resp = object_env.put(headers=update_headers(container.host))
    assert resp.status_int == 201
    assert container.refusals == ["bad X-Backend-Auth signature"]
    [record] = pendings(object_env)
    assert AUTH_HEADER not in record["headers"]  # the updater signs afresh when it retries


def test_unreachable_container_leaves_async_pending(object_env):
    host = f"127.0.0.1:{closed_port()}"
    stamp = Timestamp.now()
    resp = object_env.put(body=b"abc", timestamp=stamp, headers=update_headers(host))
    assert resp.status_int == 201
    [record] = pendings(object_env)
    assert record["op"] == "PUT"
    assert (record["account"], record["container"], record["obj"]) == ("a", "c", "o")
    assert record["headers"]["X-Timestamp"] == stamp.normal
    assert record["headers"]["X-Size"] == "3"
    assert record["container_node"] == {"host": host, "device": "sdc", "partition": "7"}
    [path] = iter_async_pendings(os.path.join(object_env.devices, "sda"))
    assert os.path.basename(path).endswith(f"-{stamp.normal}")
    assert object_env.request("/sda/1/a/c/o").body == b"abc"


def test_error_status_leaves_async_pending_for_delete(object_env):
    container = FakeContainer(status=503)
    resp = object_env.request("/sda/1/a/c/o", "DELETE", headers={
        "X-Timestamp": Timestamp.now().normal, **update_headers(container.host)})
    assert resp.status_int == 404
    [record] = pendings(object_env)
    assert record["op"] == "DELETE"


def test_slow_container_times_out_into_async_pending(fast_env):
    release = threading.Event()
    container = FakeContainer(stall=release)
    try:
        resp = fast_env.put(headers=update_headers(container.host))
        # The object server answered while the container was still stalled: it gave up
        # after its node_timeout instead of waiting for the container's answer.
        still_stalled = container.stalls_ended == 0 and len(container.requests) == 1
    finally:
        release.set()
    assert resp.status_int == 201
    assert still_stalled
    assert len(pendings(fast_env)) == 1


def test_several_container_replicas(object_env):
    good = FakeContainer()
    bad = f"127.0.0.1:{closed_port()}"
    resp = object_env.put(headers={"X-Container-Host": f"{good.host},{bad}",
                                   "X-Container-Device": "sdc,sdd",
                                   "X-Container-Partition": "7"})
    assert resp.status_int == 201
    assert len(good.requests) == 1
    [record] = pendings(object_env)
    assert record["container_node"]["device"] == "sdd"


def test_inconsistent_container_headers_are_400(object_env):
    resp = object_env.put(headers={"X-Container-Host": "127.0.0.1:1,127.0.0.1:2",
                                   "X-Container-Device": "sdc",
                                   "X-Container-Partition": "7"})
    assert resp.status_int == 400
    resp = object_env.put(headers=update_headers("nohost"))
    assert resp.status_int == 400
    assert [f for f in object_env.files() if f.endswith(".data")] == []
