"""The compute configs: the samples load, and mistakes are one clear line."""
from __future__ import annotations

import os

import pytest

from common.config import ConfigError
from compute.config import load_agent_config, load_api_config

ETC = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "etc")


def test_samples_load_with_documented_defaults():
    api = load_api_config(os.path.join(ETC, "compute-api.conf"))
    assert api["scheduler_weigher"] == "spread" and api["heartbeat_window"] == 30.0
    agent = load_agent_config(os.path.join(ETC, "compute-agent.conf"))
    assert agent["virt_type"] == "test" and agent["agent_url"] == "http://127.0.0.1:8775"


@pytest.mark.parametrize("body, fragment", [
    ("[compute-api]\ndb_path = x\nservice_secret = s\n", "missing required option 'token_secret'"),
    ("[compute-api]\ndb_path = x\ntoken_secret = t\nservice_secret = s\n"
     "scheduler_weigher = best\n", "bad value for 'scheduler_weigher'"),
    ("[compute-api]\ndb_path = x\ntoken_secret = t\nservice_secret = s\n"
     "heartbeat_window = -1\n", "bad value for 'heartbeat_window'"),
    ("[compute-api]\ndb_path = x\ntoken_secret = t\nservice_secret = s\nbogus = 1\n",
     "unknown option 'bogus'"),
])
def test_api_config_errors_are_one_line(tmp_path, body, fragment):
    path = tmp_path / "api.conf"
    path.write_text(body)
    with pytest.raises(ConfigError) as info:
        load_api_config(str(path))
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_agent_config_refuses_test_virt_type_on_a_real_uri(tmp_path):
    path = tmp_path / "agent.conf"
    path.write_text("[server]\napp = compute.agent_server:make_app\nbind_port = 1\n"
                    "[compute-agent]\nhost = h\napi_url = http://x\nservice_secret = s\n"
                    "instances_dir = /tmp/x\nlibvirt_uri = qemu:///system\nvirt_type = test\n")
    with pytest.raises(ConfigError, match="virt_type test needs a test:// uri"):
        load_agent_config(str(path))
