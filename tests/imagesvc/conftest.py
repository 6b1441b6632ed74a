"""Fixtures for the image API's in-process tests: the app (webob, in-process) storing its
data in the REAL object store of the session cluster, each test in a store account of its
own; a view of that account through the proxy; and a fault-injecting pass-through for the few
store failures the real cluster cannot produce on demand (see fault_proxy.py)."""
from __future__ import annotations

import uuid

import pytest

from tests.imagesvc.store_view import StoreSettings, StoreView

MIB = 1024 * 1024


@pytest.fixture(scope="session")
def store_settings(cluster) -> StoreSettings:
    return StoreSettings.of_cluster(cluster)


@pytest.fixture(scope="session")
def _token_cache() -> dict:
    return {}


@pytest.fixture
def store(cluster, store_settings, _token_cache):
    """This test's own store account (AUTH_imgtest-<random>) on the real cluster."""
    view = StoreView(cluster, store_settings, f"AUTH_imgtest-{uuid.uuid4().hex[:12]}",
                     _token_cache)
    yield view
    view.remove_everything()


def write_conf(path, store: StoreView, auth_url: str | None = None, **overrides) -> str:
    settings = store.settings
    options = {
        "registry_db": str(path / "registry.db"),
        "auth_url": auth_url or settings.auth_url,
        "service_user": settings.service_user,
        "service_key": settings.service_key,
        "store_account": store.account,
        "token_secret": settings.token_secret,
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

    return make_app(write_conf(tmp_path, store))


@pytest.fixture
def faults(store_settings):
    """A pass-through to the real proxy that injects failures (see fault_proxy.py)."""
    from tests.imagesvc.fault_proxy import FaultProxy

    proxy = FaultProxy(store_settings.proxy_url).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def faulty_app(tmp_path, store, faults):
    """The app talking to the real store through `faults`."""
    from imagesvc.server import make_app

    return make_app(write_conf(tmp_path, store, auth_url=f"{faults.url}/auth/v1.0"))


@pytest.fixture
def served_app(app):
    """The image API served over real HTTP on loopback (for CLI and glanceclient tests)."""
    from tests.imagesvc.loopback import serve_app

    url, stop = serve_app(app)
    yield url
    stop()
