"""The real-VM options of [compute-agent]: defaults, and no dev service key off loopback."""
from __future__ import annotations

import pytest

from common.config import ConfigError
from compute.config import load_agent_config


def _write(tmp_path, bind_ip: str, extra: str = "") -> str:
    path = tmp_path / "compute-agent.conf"
    path.write_text(
        "[server]\napp = compute.agent_server:make_app\n"
        f"bind_ip = {bind_ip}\nbind_port = 8775\n"
        "[compute-agent]\nhost = hv1\napi_url = http://127.0.0.1:8774\n"
        f"service_secret = a-real-secret\ninstances_dir = {tmp_path}/instances\n"
        "libvirt_uri = qemu:///system\n" + extra
    )
    return str(path)


def test_real_vm_defaults(tmp_path):
    conf = load_agent_config(_write(tmp_path, "127.0.0.1"))
    assert conf["virt_type"] == "qemu"
    assert conf["image_cache_dir"] == "" and conf["network"] == ""
    assert conf["image_cache_max_age"] == 86400.0
    assert conf["service_user"] == "service:brume"


def test_dev_service_key_is_refused_off_loopback(tmp_path):
    with pytest.raises(ConfigError, match="service_key"):
        load_agent_config(_write(tmp_path, "10.1.2.3"))
    conf = load_agent_config(_write(tmp_path, "10.1.2.3", "service_key = real-key\n"))
    assert conf["service_key"] == "real-key"


def test_bad_cache_age_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="image_cache_max_age"):
        load_agent_config(_write(tmp_path, "127.0.0.1", "image_cache_max_age = -5\n"))


def test_a_host_name_no_signature_could_name_is_one_clear_error(tmp_path):
    path = _write(tmp_path, "127.0.0.1")
    with open(path) as handle:
        text = handle.read()
    with open(path, "w") as handle:
        handle.write(text.replace("host = hv1", "host = hv 1"))
    with pytest.raises(ConfigError, match="host must be"):
        load_agent_config(path)
