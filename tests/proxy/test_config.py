"""The proxy's config: the sample loads, and every mistake is one clear line."""
from __future__ import annotations

import os

import pytest

from common.config import ConfigError
from proxy.settings import load_settings
from tests.proxy.cluster import ROOT

SAMPLE = os.path.join(ROOT, "etc", "proxy-server.conf")


def test_sample_config_loads_with_dev_users():
    settings = load_settings(SAMPLE)
    assert settings.auth["token_secret"] == "brume-dev-token-secret"
    assert settings.proxy["object_chunk_size"] == 65536
    users = settings.users
    assert users["test:tester"].roles == (".admin",)
    assert users["test:tester3"].roles == ()
    assert users["admin:admin"].roles == (".admin", ".reseller_admin")
    assert users["service:brume"].key == "brume-dev-service-secret"
    assert users["test2:tester2"].key == "testing2"


def variant(tmp_path, old, new):
    with open(SAMPLE) as handle:
        text = handle.read()
    assert old in text
    path = tmp_path / "proxy.conf"
    path.write_text(text.replace(old, new))
    return str(path)


@pytest.mark.parametrize("old,new,expected", [
    ("token_secret = brume-dev-token-secret", "", "token_secret"),
    ("node_timeout = 10", "node_timeout = soon", "node_timeout"),
    ("conn_timeout = 0.5", "conn_timeout = -1", "conn_timeout"),
    ("put_queue_depth = 10", "put_queue_depth = 10\nbogus_option = 1", "bogus_option"),
    ("test:tester3 = testing3", "test:tester3 = testing3 .superuser", ".superuser"),
    ("test:tester3 = testing3", "tester3 = testing3", "account:user"),
    ("public_url =", "public_url = storage.example.com", "public_url"),
    ("[users]", "[people]", "[users]"),
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
