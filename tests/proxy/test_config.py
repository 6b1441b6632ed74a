"""The proxy's config: the sample loads, and every mistake is one clear line."""
from __future__ import annotations

import os
import shutil

import pytest

from common.config import ConfigError
from proxy.middleware.auth import AuthMiddleware
from proxy.pipeline import load_pipeline
from tests.proxy.cluster import ROOT

SAMPLE = os.path.join(ROOT, "etc", "proxy-server.conf")
RINGS = dict.fromkeys(("account", "container", "object"))  # not consulted while building


def load_settings(path):
    """(the app's settings, the auth middleware's settings) of a built pipeline."""
    pipeline = load_pipeline(path, {"rings": RINGS})
    auth = next(layer for layer in pipeline.layers if isinstance(layer, AuthMiddleware))
    return pipeline.app.settings, auth


def sample_in(tmp_path, text=None):
    """The sample (or `text`) with its conf_dir in tmp_path (holding etc/brume.conf)."""
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir(exist_ok=True)
    shutil.copy(os.path.join(ROOT, "etc", "brume.conf"), conf_dir / "brume.conf")
    if text is None:
        with open(SAMPLE) as handle:
            text = handle.read()
    path = tmp_path / "proxy.conf"
    path.write_text(text.replace("conf_dir = /etc/brume", f"conf_dir = {conf_dir}"))
    return str(path)


def test_sample_config_loads_with_dev_users(tmp_path):
    settings, auth = load_settings(sample_in(tmp_path))
    assert auth.token_secret == "brume-dev-token-secret"
    assert settings.proxy["object_chunk_size"] == 65536
    users = auth.users
    assert users["test:tester"].roles == (".admin",)
    assert users["test:tester3"].roles == ()
    assert users["admin:admin"].roles == (".admin", ".reseller_admin")
    assert users["service:brume"].key == "brume-dev-service-secret"
    assert users["test2:tester2"].key == "testing2"


def variant(tmp_path, old, new):
    with open(SAMPLE) as handle:
        text = handle.read()
    assert old in text
    return sample_in(tmp_path, text.replace(old, new))


@pytest.mark.parametrize("old,new,expected", [
    ("token_secret = brume-dev-token-secret", "", "token_secret"),
    ("node_timeout = 10", "node_timeout = soon", "node_timeout"),
    ("conn_timeout = 0.5", "conn_timeout = -1", "conn_timeout"),
    ("put_queue_depth = 10", "put_queue_depth = 10\nbogus_option = 1", "bogus_option"),
    ("test:tester3 = testing3", "test:tester3 = testing3 .superuser", ".superuser"),
    ("test:tester3 = testing3", "tester3 = testing3", "account:user"),
    ("public_url =", "public_url = storage.example.com", "public_url"),
    ("[users]", "[people]", "[users]"),
    ("auth copy slo dlo object_versioning proxy-server", "auth nosuch proxy-server", "nosuch"),
    ("[app:proxy-server]", "[app:elsewhere]", "[app:proxy-server]"),
    ("pipeline = catch_errors", "pipeline_typo = catch_errors", "pipeline"),
    ("use = egg:brume#proxy", "use = egg:brume#nope", "egg:brume#nope"),
    ("use = egg:brume#slo", "use = egg:other#slo", "egg:other#slo"),
    ("use = egg:brume#dlo", "paste.filter_factory = no_such_module:factory", "no_such_module"),
    ("use = egg:brume#dlo", "paste.filter_factory = proxy.middleware.dlo:nope", "nope"),
    ("max_manifest_segments = 1000", "max_manifest_segments = many", "max_manifest_segments"),
])
def test_bad_config_is_one_clear_line(tmp_path, old, new, expected):
    with pytest.raises(ConfigError) as excinfo:
        load_settings(variant(tmp_path, old, new))
    message = str(excinfo.value)
    assert expected in message and "\n" not in message


def test_runner_refuses_dev_secrets_off_loopback(tmp_path):
    from common.wsgi_server import build

    path = variant(tmp_path, "bind_ip = 127.0.0.1", "bind_ip = 10.1.2.3")
    with pytest.raises(ConfigError) as excinfo:
        build(path)
    assert "development default" in str(excinfo.value)
