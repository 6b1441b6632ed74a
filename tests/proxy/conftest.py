"""Fixtures for the proxy tests: one real 4-node storage cluster per module, and proxies."""
from __future__ import annotations

import pytest
from webob import Request

from proxy.server import make_app
from ring.ring import Ring
from tests.proxy.cluster import Cluster, free_port, write_proxy_conf


@pytest.fixture(scope="package")
def storage_cluster(tmp_path_factory):
    cluster = Cluster(str(tmp_path_factory.mktemp("proxy-cluster")))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def rings_for(conf_dir: str) -> dict:
    return {name: Ring(conf_dir, name) for name in ("account", "container", "object")}


@pytest.fixture(scope="package")
def proxy_app(storage_cluster):
    conf = write_proxy_conf(storage_cluster.base, storage_cluster.conf_dir, free_port())
    return make_app(conf, rings_for(storage_cluster.conf_dir))


class Client:
    """Calls the in-process proxy as a WSGI app with a user's token."""

    def __init__(self, app, user: str | None = None, key: str | None = None):
        self.app = app
        self.token = None
        self.account = None
        if user is not None:
            resp = self.call("GET", "/auth/v1.0",
                             headers={"X-Auth-User": user, "X-Auth-Key": key})
            assert resp.status_int == 200, resp.status
            self.token = resp.headers["X-Auth-Token"]
            self.account = resp.headers["X-Storage-Url"].rsplit("/", 1)[1]

    def call(self, method: str, path: str, body: bytes | None = None, headers=None,
             token: str | None = None):
        headers = dict(headers or {})
        use_token = token if token is not None else self.token
        if use_token and "X-Auth-Token" not in headers:
            headers["X-Auth-Token"] = use_token
        req = Request.blank(path, method=method, headers=headers)
        if body is not None:
            req.body = body
        elif method in ("PUT", "POST") and "Content-Length" not in headers \
                and "Transfer-Encoding" not in headers:
            req.body = b""
        return req.get_response(self.app)

    def __call__(self, method: str, rel: str = "", body=None, headers=None):
        path = f"/v1/{self.account}" + (f"/{rel}" if rel else "")
        return self.call(method, path, body, headers)


@pytest.fixture(scope="package")
def tester(proxy_app):
    return Client(proxy_app, "test:tester", "testing")


@pytest.fixture(scope="package")
def tester2(proxy_app):
    return Client(proxy_app, "test2:tester2", "testing2")


@pytest.fixture(scope="package")
def tester3(proxy_app):
    return Client(proxy_app, "test:tester3", "testing3")


@pytest.fixture(scope="package")
def admin(proxy_app):
    return Client(proxy_app, "admin:admin", "admin")


@pytest.fixture(scope="package")
def anonymous(proxy_app):
    client = Client(proxy_app)
    client.account = "AUTH_test"
    return client
