"""Issue 13's networking commands through the real, unmodified `openstack` CLI against the
session cluster, logged in through Brume's Keystone: `network create`, `subnet create`,
`keypair create`, `server create --network --key-name --user-data --config-drive`,
`floating ip create`, `server add floating ip`, `security group rule create`, and what they
leave behind (the server's fixed and floating addresses, the floating IP on the server's
port, the rule in the group's listing, a private key printed once).

Everything happens in a project the admin makes for this test with the CLI (so the shared
projects' networks, which decide where a server without `--network` goes, stay as they
were). The compute agents are the test driver's: this is about the APIs' shapes; the real
datapath is tests/vm/test_vm_networking.py's.
"""
from __future__ import annotations

import ipaddress
import os
import random
import uuid

import pytest

from tests.integration.test_keystone_everywhere import openstack

pytestmark = pytest.mark.cluster


@pytest.fixture
def member(cluster, tmp_path):
    """(run, project) where run(*args) is the openstack CLI as a member of a new project."""
    tag = uuid.uuid4().hex[:8]
    admin_password = cluster.credentials["admin:admin"]

    def admin(*args):
        return openstack(cluster, tmp_path, "admin", admin_password, "admin", *args)

    project = admin("project", "create", f"osnet-{tag}", "-f", "json")
    admin("user", "create", "--password", f"pw-{tag}", "--project", project["id"],
          f"osnet-user-{tag}", "-f", "json")
    admin("role", "add", "--project", project["id"], "--user", f"osnet-user-{tag}", "member")

    def run(*args, check=True):
        return openstack(cluster, tmp_path, f"osnet-user-{tag}", f"pw-{tag}", project["name"],
                         *args, check=check)

    yield run, project, admin
    admin("project", "set", "--disable", project["id"])


def test_openstack_cli_networks_servers_floating_ips_rules_keypairs(member, tmp_path):
    run, project, admin = member
    tag = uuid.uuid4().hex[:6]
    octet = random.randrange(1, 250)

    # The cloud admin's external network, floating IPs' source.
    public = admin("network", "create", "--external", f"pub-{tag}", "-f", "json")
    assert public["router:external"] is True
    admin("subnet", "create", "--network", public["id"], "--no-dhcp", "--subnet-range",
          f"198.19.{octet}.0/28", f"pub-sub-{tag}", "-f", "json")

    network = run("network", "create", f"net-{tag}", "-f", "json")
    assert network["project_id"] == project["id"] and network["status"] == "ACTIVE"
    cidr = f"10.{octet}.{random.randrange(1, 250)}.0/24"
    subnet = run("subnet", "create", "--network", f"net-{tag}", "--subnet-range", cidr,
                 f"sub-{tag}", "-f", "json")
    assert subnet["network_id"] == network["id"] and subnet["cidr"] == cidr
    assert subnet["enable_dhcp"] is True
    assert subnet["gateway_ip"] == str(ipaddress.ip_network(cidr)[1])

    # keypair create prints the private key once; the keypair never shows it again.
    created = run("keypair", "create", f"key-{tag}")
    assert created.stdout.startswith("-----BEGIN") and "PRIVATE KEY-----" in created.stdout
    shown = run("keypair", "show", f"key-{tag}", "-f", "json")
    assert shown["name"] == f"key-{tag}" and not shown.get("private_key")
    assert shown["fingerprint"].count(":") == 15
    listed = run("keypair", "list", "-f", "json")
    assert [k["Fingerprint"] for k in listed if k["Name"] == f"key-{tag}"] == [
        shown["fingerprint"]]

    image_file = tmp_path / "tiny.img"
    image_file.write_bytes(os.urandom(64 * 1024))
    run("image", "create", "--disk-format", "raw", "--container-format", "bare", "--file",
        str(image_file), f"img-{tag}", "-f", "json")
    user_data = tmp_path / "user-data.sh"
    user_data.write_text("#!/bin/sh\necho hello from user data\n")
    server = run("server", "create", "--image", f"img-{tag}", "--flavor", "m1.tiny",
                 "--network", f"net-{tag}", "--key-name", f"key-{tag}", "--user-data",
                 str(user_data), "--config-drive", "True", "--wait", f"vm-{tag}", "-f",
                 "json")
    assert server["status"] == "ACTIVE" and server["key_name"] == f"key-{tag}", server
    [fixed] = server["addresses"][f"net-{tag}"]
    assert ipaddress.ip_address(fixed) in ipaddress.ip_network(cidr)
    [port] = run("port", "list", "--server", server["id"], "-f", "json")
    assert [f["ip_address"] for f in port["Fixed IP Addresses"]] == [fixed]

    # A floating IP of the external network, then on the server.
    fip = run("floating", "ip", "create", f"pub-{tag}", "-f", "json")
    address = fip["floating_ip_address"]
    assert ipaddress.ip_address(address) in ipaddress.ip_network(f"198.19.{octet}.0/28")
    assert fip["port_id"] is None and fip["floating_network_id"] == public["id"]
    run("server", "add", "floating", "ip", f"vm-{tag}", address)
    shown = run("floating", "ip", "show", fip["id"], "-f", "json")
    assert shown["port_id"] == port["ID"] and shown["fixed_ip_address"] == fixed, shown
    shown = run("server", "show", f"vm-{tag}", "-f", "json")
    assert shown["addresses"] == {f"net-{tag}": [fixed, address]}, shown["addresses"]

    # An ingress rule on the project's default group, listed with its port range.
    port_number = random.randrange(1024, 60000)
    rule = run("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port",
               str(port_number), "--remote-ip", "0.0.0.0/0", "--ingress", "default", "-f",
               "json")
    assert (rule["direction"], rule["protocol"], rule["port_range_min"],
            rule["port_range_max"], rule["remote_ip_prefix"], rule["ether_type"]) == (
        "ingress", "tcp", port_number, port_number, "0.0.0.0/0", "IPv4")
    rules = run("security", "group", "rule", "list", "default", "-f", "json")
    assert [(r["IP Protocol"], r["Port Range"], r["IP Range"]) for r in rules
            if r["ID"] == rule["id"]] == [("tcp", f"{port_number}:{port_number}",
                                           "0.0.0.0/0")]
    duplicate = run("security", "group", "rule", "create", "--protocol", "tcp",
                    "--dst-port", str(port_number), "--remote-ip", "0.0.0.0/0", "default",
                    check=False)
    assert duplicate.returncode != 0 and "409" in duplicate.stderr + duplicate.stdout

    # Undo: the floating IP leaves the server, then everything goes.
    run("server", "remove", "floating", "ip", f"vm-{tag}", address)
    shown = run("server", "show", f"vm-{tag}", "-f", "json")
    assert shown["addresses"] == {f"net-{tag}": [fixed]}
    run("server", "delete", "--wait", f"vm-{tag}")
    assert run("port", "list", "--network", f"net-{tag}", "-f", "json") == []
    run("floating", "ip", "delete", fip["id"])
    run("security", "group", "rule", "delete", rule["id"])
    run("keypair", "delete", f"key-{tag}")
    run("subnet", "delete", f"sub-{tag}")
    run("network", "delete", f"net-{tag}")
    admin("network", "delete", public["id"])
