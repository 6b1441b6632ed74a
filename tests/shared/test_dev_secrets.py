"""Secure by default: every service bound off loopback refuses development secrets.

What counts is the value each service ends up with, not only what its file says: a secret
left out of the config falls back to a development default, and that is refused too. Each
refusal is a real process (`python -m common.wsgi_server` / `storage.daemons.runner`) that
exits 2 with one line naming the option, before it listens. The address is TEST-NET-1
(192.0.2.10, never assigned to this machine), or 0.0.0.0 for the proxy: a service that
failed to refuse could not listen on the first, and the wildcard is refused like any other.
The accepted cases (real secrets) are built in process, so nothing ever listens off loopback.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from common.config import ConfigError
from compute.config import load_agent_config, load_api_config
from imagesvc.config import load_image_config
from proxy.pipeline import make_app as make_proxy_pipeline
from storage import SERVER_APPS
from storage.daemons.runner import load as load_daemons
from storage.databases.account_server import make_app as make_account_app
from storage.databases.container_server import make_app as make_container_app
from storage.objects.server import make_app as make_object_app

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OFF_LOOPBACK = "192.0.2.10"
REAL_CLUSTER = ("[cluster]\nhash_path_prefix = real-prefix\nhash_path_suffix = real-suffix\n"
                "backend_secret = a-real-backend-secret\n")
# The backend secret left out: its code default is the development one.
CLUSTER_WITHOUT_BACKEND_SECRET = "[cluster]\nhash_path_prefix = p1\nhash_path_suffix = s1\n"


def server_section(app: str, conf_dir, bind_ip: str = OFF_LOOPBACK) -> str:
    return f"[server]\napp = {app}\nbind_ip = {bind_ip}\nbind_port = 6299\nconf_dir = {conf_dir}\n"


def storage_conf(kind, conf_dir, devices, bind_ip=OFF_LOOPBACK):
    return (server_section(SERVER_APPS[kind], conf_dir, bind_ip)
            + f"\n[{kind}-server]\ndevices = {devices}\n")


def proxy_conf(conf_dir, bind_ip="0.0.0.0", token="token_secret = a-real-token-secret\n",
               users="test:tester = a-real-key .admin\n"):
    return (server_section("proxy.pipeline:make_app", conf_dir, bind_ip)
            + "\n[pipeline:main]\npipeline = auth proxy-server\n"
            + "\n[app:proxy-server]\nuse = egg:brume#proxy\n"
            + f"\n[filter:auth]\nuse = egg:brume#auth\n{token}\n[users]\n{users}")


def image_conf(tmp_path, lines, bind_ip=OFF_LOOPBACK):
    return (server_section("imagesvc.server:make_app", tmp_path, bind_ip)
            + f"\n[image-api]\nregistry_db = {tmp_path}/registry.db\n{lines}")


def api_conf(tmp_path, lines, bind_ip=OFF_LOOPBACK):
    return (server_section("compute.api.app:make_app", tmp_path, bind_ip)
            + f"\n[compute-api]\ndb_path = {tmp_path}/compute.db\n{lines}")


def agent_conf(tmp_path, lines, bind_ip=OFF_LOOPBACK):
    return (server_section("compute.agent_server:make_app", tmp_path, bind_ip)
            + f"\n[compute-agent]\nhost = hv9\napi_url = http://127.0.0.1:1\n"
            f"instances_dir = {tmp_path}/instances\n{lines}")


@pytest.fixture
def dirs(tmp_path):
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    devices = tmp_path / "devices"
    (devices / "sda").mkdir(parents=True)
    return tmp_path, conf_dir, devices


def run(module: str, conf_text: str, tmp_path, *extra: str) -> subprocess.CompletedProcess:
    conf = tmp_path / "service.conf"
    conf.write_text(conf_text)
    return subprocess.run([sys.executable, "-m", module, str(conf), *extra],
                          capture_output=True, text=True, timeout=60, cwd=REPO)


def assert_refused(result, option: str, address: str = OFF_LOOPBACK) -> None:
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert f"refusing to bind {address} with the development default for " in line
    assert f"'{option}" in line, line
    assert "Traceback" not in result.stderr


WSGI = "common.wsgi_server"


@pytest.mark.parametrize("kind", ["object", "container", "account"])
def test_storage_servers_refuse_an_omitted_backend_secret(dirs, kind):
    tmp_path, conf_dir, devices = dirs
    (conf_dir / "brume.conf").write_text(CLUSTER_WITHOUT_BACKEND_SECRET)
    result = run(WSGI, storage_conf(kind, conf_dir, devices), tmp_path)
    assert_refused(result, f"[cluster] backend_secret in {conf_dir}/brume.conf")


@pytest.mark.parametrize("kind", ["object", "container", "account"])
def test_storage_servers_refuse_a_written_dev_hash_salt(dirs, kind):
    tmp_path, conf_dir, devices = dirs
    (conf_dir / "brume.conf").write_text(REAL_CLUSTER.replace("real-suffix", "brume-dev-suffix"))
    result = run(WSGI, storage_conf(kind, conf_dir, devices), tmp_path)
    assert_refused(result, "[cluster] hash_path_suffix")


def test_storage_servers_with_real_secrets_build_off_loopback(dirs):
    tmp_path, conf_dir, devices = dirs
    (conf_dir / "brume.conf").write_text(REAL_CLUSTER)
    for kind, make in (("object", make_object_app), ("container", make_container_app),
                       ("account", make_account_app)):
        path = tmp_path / f"{kind}.conf"
        path.write_text(storage_conf(kind, conf_dir, devices))
        assert make(str(path)).backend_auth is not None


@pytest.mark.parametrize("case, option", [
    ("cluster", "[cluster] backend_secret"),
    ("token", "[filter:auth] token_secret"),
    ("user key", "[users] test:tester"),
])
def test_proxy_refuses_dev_secrets(dirs, case, option):
    tmp_path, conf_dir, _ = dirs
    (conf_dir / "brume.conf").write_text(
        CLUSTER_WITHOUT_BACKEND_SECRET if case == "cluster" else REAL_CLUSTER)
    kwargs = {}
    if case == "token":
        kwargs["token"] = "token_secret = brume-dev-token-secret\n"
    if case == "user key":
        kwargs["users"] = "test:tester = testing .admin\n"
    result = run(WSGI, proxy_conf(conf_dir, **kwargs), tmp_path)
    assert_refused(result, option, "0.0.0.0")


def test_proxy_with_real_secrets_loads_off_loopback(dirs):
    tmp_path, conf_dir, _ = dirs
    (conf_dir / "brume.conf").write_text(REAL_CLUSTER)
    path = tmp_path / "proxy.conf"
    path.write_text(proxy_conf(conf_dir))
    rings = dict.fromkeys(("account", "container", "object"))  # not consulted at build
    auth = make_proxy_pipeline(str(path), rings).layers[0]
    assert auth.token_secret == "a-real-token-secret"
    path.write_text(proxy_conf(conf_dir, bind_ip="127.0.0.1",
                               token="token_secret = brume-dev-token-secret\n"))
    make_proxy_pipeline(str(path), rings)  # on loopback the development secrets are fine


@pytest.mark.parametrize("lines, option", [
    ("token_secret = a-real-token-secret\n", "[image-api] service_key"),  # omitted
    ("service_key = a-real-key\n", "[image-api] token_secret"),  # omitted
    ("service_key = a-real-key\ntoken_secret = brume-dev-token-secret\n",
     "[image-api] token_secret"),  # written
])
def test_image_api_refuses_dev_secrets(dirs, lines, option):
    tmp_path, _, _ = dirs
    assert_refused(run(WSGI, image_conf(tmp_path, lines), tmp_path), option)


def test_image_api_with_real_secrets_loads_off_loopback(dirs):
    tmp_path, _, _ = dirs
    path = tmp_path / "image.conf"
    path.write_text(image_conf(tmp_path, "service_key = k\ntoken_secret = t\n"))
    assert load_image_config(str(path)).service_key == "k"


@pytest.mark.parametrize("lines, fragment", [
    ("token_secret = a-real-token-secret\nservice_secret = brume-dev-service-secret\n",
     "development default for '[compute-api] service_secret'"),
    ("token_secret = brume-dev-token-secret\nservice_secret = a-real-one\n",
     "development default for '[compute-api] token_secret'"),
    # the API's secrets have no default: left out, the option is missing (and named)
    ("token_secret = a-real-token-secret\n", "missing required option 'service_secret'"),
])
def test_compute_api_refuses_dev_secrets(dirs, lines, fragment):
    tmp_path, _, _ = dirs
    result = run(WSGI, api_conf(tmp_path, lines), tmp_path)
    assert result.returncode == 2 and fragment in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_compute_api_with_real_secrets_loads_off_loopback(dirs):
    tmp_path, _, _ = dirs
    path = tmp_path / "api.conf"
    path.write_text(api_conf(tmp_path, "token_secret = t\nservice_secret = s\n"))
    assert load_api_config(str(path))["service_secret"] == "s"


@pytest.mark.parametrize("lines, option", [
    ("service_secret = a-real-one\n", "[compute-agent] service_key"),  # omitted
    ("service_secret = brume-dev-service-secret\nservice_key = k\n",
     "[compute-agent] service_secret"),  # written
])
def test_compute_agent_refuses_dev_secrets(dirs, lines, option):
    tmp_path, _, _ = dirs
    assert_refused(run(WSGI, agent_conf(tmp_path, lines), tmp_path), option)


def test_compute_agent_with_real_secrets_loads_off_loopback(dirs):
    tmp_path, _, _ = dirs
    path = tmp_path / "agent.conf"
    path.write_text(agent_conf(tmp_path, "service_secret = s\nservice_key = k\n"))
    assert load_agent_config(str(path))["service_key"] == "k"


def daemons_conf(conf_dir, devices, node_ips=""):
    line = f"node_ips = {node_ips}\n" if node_ips else ""
    return f"[daemons]\ndevices = {devices}\nconf_dir = {conf_dir}\n{line}"


def test_daemons_of_an_off_loopback_node_refuse_an_omitted_backend_secret(dirs):
    tmp_path, conf_dir, devices = dirs
    (conf_dir / "brume.conf").write_text(CLUSTER_WITHOUT_BACKEND_SECRET)
    result = run("storage.daemons.runner", daemons_conf(conf_dir, devices, OFF_LOOPBACK),
                 tmp_path, "--once", "object-updater")
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert (f"refusing to run for node {OFF_LOOPBACK} with the development default for "
            f"'[cluster] backend_secret") in line


def test_daemons_judge_their_node_by_the_rings_without_node_ips(dirs):
    from ring.builder import RingBuilder

    tmp_path, conf_dir, devices = dirs
    (conf_dir / "brume.conf").write_text(REAL_CLUSTER.replace("real-prefix", "brume-dev-prefix"))
    builder = RingBuilder(4, 1, 1, seed=1)
    builder.add_dev(region=1, zone=1, ip=OFF_LOOPBACK, port=6200, device="sda", weight=1)
    builder.rebalance(seed=1)
    builder.write_ring(str(conf_dir / "object.ring.gz"))
    conf = tmp_path / "daemons.conf"
    conf.write_text(daemons_conf(conf_dir, devices))
    with pytest.raises(ConfigError, match=r"run for node 192\.0\.2\.10 .*hash_path_prefix"):
        load_daemons(str(conf))
    (conf_dir / "brume.conf").write_text(REAL_CLUSTER)
    node, _daemons = load_daemons(str(conf))
    assert node.conf_dir == str(conf_dir)
    conf.write_text(daemons_conf(conf_dir, devices, "127.0.0.1"))  # node_ips decides
    (conf_dir / "brume.conf").write_text(CLUSTER_WITHOUT_BACKEND_SECRET)
    load_daemons(str(conf))
