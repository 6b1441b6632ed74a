"""The real identity and network services (`python -m common.wsgi_server`, loopback sockets,
real SQLite, one shared Fernet key file) driven by the unmodified OpenStack clients:
openstacksdk's network proxy and the `openstack` CLI (each skipped when not installed); a
token revoked at the identity service is refused by the network service after a poll."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.identity.conftest import BOOTSTRAP
from tests.identity.conftest import write_conf as write_identity_conf
from tests.integration.support import free_port
from tests.network.conftest import write_conf as write_network_conf

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def start(conf: str, log_path, url: str):
    log = open(log_path, "ab")
    proc = subprocess.Popen([sys.executable, "-m", "common.wsgi_server", conf], cwd=REPO,
                            stdout=log, stderr=subprocess.STDOUT)
    log.close()
    deadline = time.time() + 20
    while True:
        if proc.poll() is not None:
            raise AssertionError(log_path.read_text())
        try:
            with urllib.request.urlopen(url + "/healthcheck", timeout=2) as answer:
                if answer.status == 200:
                    return proc
        except OSError:
            if time.time() > deadline:
                proc.terminate()
                raise
            time.sleep(0.1)


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    root = tmp_path_factory.mktemp("network-live")
    keys = str(root / "fernet-keys")
    id_port, net_port = free_port(), free_port()
    identity_url, network_url = f"http://127.0.0.1:{id_port}", f"http://127.0.0.1:{net_port}"
    id_conf = write_identity_conf(root, id_port, identity={"token_key_file": keys},
                                  catalog={"network": network_url},
                                  bootstrap={**BOOTSTRAP, "test2:tester2": "testing2 member"})
    net_conf = write_network_conf(root, net_port, network={
        "token_key_file": keys, "token_secret": "", "auth_url": identity_url,
        "revocation_url": identity_url, "revocation_user": "brume",
        "revocation_password": "servicepass", "revocation_poll_interval": "0.3"})
    procs = [start(id_conf, root / "identity.log", identity_url)]
    try:
        procs.append(start(net_conf, root / "network.log", network_url))
        yield identity_url, network_url
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)
    for name in ("identity.log", "network.log"):
        assert "Traceback" not in (root / name).read_text()


def connect(identity_url: str, user: str, password: str, project: str):
    openstack = pytest.importorskip("openstack")
    return openstack.connect(auth_url=identity_url + "/v3", project_name=project,
                             username=user, password=password, user_domain_name="Default",
                             project_domain_name="Default", region_name="RegionOne",
                             load_yaml_config=False, load_envvars=False)


def test_discovery_and_401_over_http(services):
    _, network_url = services
    with urllib.request.urlopen(network_url + "/", timeout=5) as answer:
        versions = json.loads(answer.read())["versions"]
    assert versions[0]["id"] == "v2.0"
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(network_url + "/v2.0/networks", timeout=5)
    assert caught.value.code == 401
    assert json.loads(caught.value.read())["NeutronError"]["type"] == "HTTPUnauthorized"


def test_a_token_revoked_at_the_identity_service_is_refused_within_a_poll(services):
    identity_url, network_url = services
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "tester", "domain": {"name": "Default"}, "password": "testing"}}},
        "scope": {"project": {"name": "test", "domain": {"name": "Default"}}}}}
    request = urllib.request.Request(identity_url + "/v3/auth/tokens",
                                     data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        token = answer.headers["X-Subject-Token"]

    def networks_status() -> int:
        try:
            with urllib.request.urlopen(urllib.request.Request(
                    network_url + "/v2.0/networks", headers={"X-Auth-Token": token}),
                    timeout=10) as answer:
                return answer.status
        except urllib.error.HTTPError as exc:
            return exc.code

    assert networks_status() == 200
    revoke = urllib.request.Request(identity_url + "/v3/auth/tokens", method="DELETE",
                                    headers={"X-Auth-Token": token, "X-Subject-Token": token})
    with urllib.request.urlopen(revoke, timeout=10) as answer:
        assert answer.status == 204
    deadline = time.time() + 10
    while networks_status() != 401:
        assert time.time() < deadline, "the revoked token is still accepted"
        time.sleep(0.2)


def test_openstacksdk(services):
    from openstack import exceptions

    identity_url, _ = services
    admin = connect(identity_url, "admin", "adminpass", "admin")
    public = admin.network.create_network(name="sdk-public", is_router_external=True)
    admin.network.create_subnet(network_id=public.id, cidr="203.0.113.0/29", ip_version=4,
                                name="sdk-public-subnet", is_dhcp_enabled=False)
    conn = connect(identity_url, "tester", "testing", "test")
    net = conn.network.create_network(name="sdk-net")
    assert net.project_id == "test" and net.mtu == 1500
    subnet = conn.network.create_subnet(network_id=net.id, cidr="10.20.0.0/24", ip_version=4,
                                        name="sdk-subnet", dns_nameservers=["10.20.0.53"],
                                        allocation_pools=[{"start": "10.20.0.10",
                                                           "end": "10.20.0.20"}])
    assert subnet.gateway_ip == "10.20.0.1"
    assert conn.network.find_network("sdk-net").id == net.id
    port = conn.network.create_port(network_id=net.id, name="sdk-port")
    assert port.fixed_ips[0]["ip_address"] == "10.20.0.10"
    assert port.mac_address.startswith("fa:16:3e:")
    fixed = conn.network.create_port(network_id=net.id,
                                     fixed_ips=[{"subnet_id": subnet.id,
                                                 "ip_address": "10.20.0.99"}])
    assert fixed.fixed_ips == [{"subnet_id": subnet.id, "ip_address": "10.20.0.99"}]
    with pytest.raises(exceptions.ConflictException):
        conn.network.create_port(network_id=net.id,
                                 fixed_ips=[{"ip_address": "10.20.0.99"}])
    groups = list(conn.network.security_groups())
    default = next(group for group in groups if group.name == "default")
    assert port.security_group_ids == [default.id]
    web = conn.network.create_security_group(name="web")
    rule = conn.network.create_security_group_rule(
        security_group_id=web.id, direction="ingress", protocol="tcp", port_range_min=80,
        port_range_max=80, remote_ip_prefix="0.0.0.0/0", ethertype="IPv4")
    assert rule.port_range_min == 80
    conn.network.update_port(port, security_groups=[default.id, web.id])
    assert set(conn.network.get_port(port.id).security_group_ids) == {default.id, web.id}
    fip = conn.network.create_ip(floating_network_id=public.id)
    assert fip.floating_ip_address.startswith("203.0.113.")
    fip = conn.network.update_ip(fip, port_id=port.id)
    assert fip.fixed_ip_address == "10.20.0.10"
    assert [ip.id for ip in conn.network.ips(port_id=port.id)] == [fip.id]
    fip = conn.network.update_ip(fip, port_id=None)
    assert fip.port_id is None
    conn.network.delete_ip(fip)
    names = [p.name for p in conn.network.ports(network_id=net.id)]
    assert sorted(names) == ["", "sdk-port"]
    # Another project sees nothing of this one.
    other = connect(identity_url, "tester2", "testing2", "test2")
    with pytest.raises(exceptions.NotFoundException):
        other.network.get_network(net.id)
    with pytest.raises(exceptions.NotFoundException):
        other.network.create_port(network_id=net.id)
    assert [n.id for n in other.network.networks()] == [public.id]
    with pytest.raises(exceptions.ConflictException):
        conn.network.delete_network(net)
    for each in (port, fixed):
        conn.network.delete_port(each)
    conn.network.delete_security_group(web)
    conn.network.delete_network(net)
    assert conn.network.find_network("sdk-net") is None


def test_openstack_cli(services, tmp_path):
    cli = shutil.which("openstack")
    # A test dependency (setup.py's `test` extra): missing, it is a broken install, not a skip.
    assert cli is not None, "the openstack CLI is missing: ./install.sh --dev installs it"
    identity_url, _ = services
    env = {key: value for key, value in os.environ.items() if not key.startswith("OS_")}
    env.update({"OS_AUTH_URL": identity_url + "/v3", "OS_IDENTITY_API_VERSION": "3",
                "OS_USERNAME": "admin", "OS_PASSWORD": "adminpass",
                "OS_PROJECT_NAME": "admin", "OS_USER_DOMAIN_NAME": "Default",
                "OS_PROJECT_DOMAIN_NAME": "Default", "OS_REGION_NAME": "RegionOne",
                "HOME": str(tmp_path)})
    member = {"OS_USERNAME": "tester", "OS_PASSWORD": "testing", "OS_PROJECT_NAME": "test"}

    def run(*args, ok=True, **extra):
        done = subprocess.run([cli, *args], env={**env, **extra}, capture_output=True,
                              text=True, timeout=120)
        if ok:
            assert done.returncode == 0, (args, done.stdout, done.stderr)
            return json.loads(done.stdout) if "json" in args else done.stdout
        assert done.returncode != 0, (args, done.stdout)
        return done.stderr

    run("network", "create", "--external", "cli-public", "-f", "json")
    run("subnet", "create", "--network", "cli-public", "--subnet-range", "198.51.100.0/28",
        "--no-dhcp", "cli-public-subnet", "-f", "json")
    net = run("network", "create", "cli-net", "-f", "json", **member)
    assert net["name"] == "cli-net"
    subnet = run("subnet", "create", "--network", "cli-net", "--subnet-range",
                 "10.30.0.0/24", "--dns-nameserver", "10.30.0.53", "cli-subnet", "-f", "json",
                 **member)
    assert subnet["gateway_ip"] == "10.30.0.1"
    overlap = run("subnet", "create", "--network", "cli-net", "--subnet-range",
                  "10.30.0.128/25", "cli-overlap", ok=False, **member)
    assert "overlaps" in overlap
    bad = run("subnet", "create", "--network", "cli-net", "--subnet-range", "10.30.0/33",
              "cli-bad", ok=False, **member)
    assert "cidr" in bad.lower() or "subnet" in bad.lower()
    port = run("port", "create", "--network", "cli-net", "cli-port", "-f", "json", **member)
    assert "10.30.0.2" in str(port["fixed_ips"])
    rule = run("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port",
               "22:22", "--ingress", "default", "-f", "json", **member)
    assert rule["port_range_min"] == 22
    fip = run("floating", "ip", "create", "cli-public", "-f", "json", **member)
    assert fip["floating_ip_address"].startswith("198.51.100.")
    run("floating", "ip", "set", "--port", "cli-port", fip["id"], **member)
    shown = run("floating", "ip", "show", fip["id"], "-f", "json", **member)
    assert shown["fixed_ip_address"] == "10.30.0.2"
    listed = run("network", "list", "-f", "json", **member)
    assert {"cli-net", "cli-public"} <= {n["Name"] for n in listed}
    run("floating", "ip", "delete", fip["id"], **member)
    run("port", "delete", "cli-port", **member)
    run("subnet", "delete", "cli-subnet", **member)
    run("network", "delete", "cli-net", **member)
