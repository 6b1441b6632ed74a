"""Fixtures for the image API's in-process tests: a fake store on loopback, and the app."""
from __future__ import annotations

import pytest

from tests.imagesvc.fake_store import SECRET, FakeStore, serve

MIB = 1024 * 1024


@pytest.fixture(scope="session")
def store_server():
    store = FakeStore()
    serve(store)
    return store


@pytest.fixture
def store(store_server):
    store_server.objects.clear()
    store_server.manifests.clear()
    store_server.fail_put_after = None
    store_server.hold_until_active = 0
    store_server.max_active_puts = 0
    store_server.manifest_failures = 0
    return store_server


def write_conf(path, store_url: str, **overrides) -> str:
    options = {
        "registry_db": str(path / "registry.db"),
        "auth_url": f"{store_url}/auth/v1.0",
        "service_user": "service:brume",
        "service_key": "service-key",
        "store_account": "AUTH_images",
        "token_secret": SECRET,
        "slo_threshold": "2M",
        "segment_size": "1M",
        "upload_concurrency": "3",
        "segment_queue_chunks": "4",
    }
    options.update({k: str(v) for k, v in overrides.items()})
    conf = path / "image-api.conf"
    lines = ["[server]", "app = imagesvc.server:make_app", "bind_port = 9292", "",
             "[image-api]"] + [f"{k} = {v}" for k, v in options.items()]
    conf.write_text("\n".join(lines) + "\n")
    return str(conf)


@pytest.fixture
def app(tmp_path, store):
    from imagesvc.server import make_app

    return make_app(write_conf(tmp_path, store.url))


@pytest.fixture
def served_app(app):
    """The image API served over real HTTP on loopback (for CLI and glanceclient tests)."""
    from tests.imagesvc.fake_store import serve_app

    url, stop = serve_app(app)
    yield url
    stop()
