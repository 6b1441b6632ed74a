"""`brume server|keypair|network|security-group|floating-ip|flavor|hypervisor|quota|usage`
against the all-in-one cluster (`brume up`
with the test driver): real proxy auth, real image service, real compute API and agents."""
from __future__ import annotations

import json
import os
import uuid

import pytest

from tests.integration.support import brume

pytestmark = pytest.mark.cluster


def run(cluster, *args, user="test:tester", check=True):
    creds = ["--auth-url", cluster.auth_url, "--user", user,
             "--key", cluster.credentials[user], "--image-url", cluster.image_url,
             "--compute-url", cluster.compute_url, "--network-url", cluster.network_url]
    return brume(*args, *creds, check=check)


def as_json(result):
    return json.loads(result.stdout)


def test_server_lifecycle_through_the_cli(cluster, tmp_path):
    image_file = tmp_path / "tiny.img"
    image_file.write_bytes(os.urandom(64 * 1024))
    run(cluster, "image", "upload", str(image_file), "--name", "cli-compute-img",
        "--disk-format", "raw", "--container-format", "bare")
    flavors = as_json(run(cluster, "flavor", "list", "--format", "json"))
    assert "m1.tiny" in {f["name"] for f in flavors}

    server = as_json(run(cluster, "server", "create", "--name", "cli-vm", "--image",
                         "cli-compute-img", "--flavor", "m1.tiny", "--wait",
                         "--format", "json"))
    assert server["status"] == "ACTIVE"
    sid = server["id"]
    table = run(cluster, "server", "list").stdout
    assert "cli-vm" in table and "ACTIVE" in table
    shown = as_json(run(cluster, "server", "show", "cli-vm", "--format", "json"))
    assert shown["id"] == sid and shown["diagnostics"]["state"] == "RUNNING"
    stopped = as_json(run(cluster, "server", "stop", sid, "--wait", "--format", "json"))
    assert stopped["status"] == "SHUTOFF"
    assert as_json(run(cluster, "server", "start", sid, "--wait", "--format",
                       "json"))["status"] == "ACTIVE"
    assert as_json(run(cluster, "server", "reboot", "--hard", sid, "--wait", "--format",
                       "json"))["status"] == "ACTIVE"
    console = run(cluster, "server", "console-log", sid, "--lines", "1").stdout
    assert len(console.splitlines()) == 1
    quota = as_json(run(cluster, "quota", "show", "--format", "json"))
    assert quota["instances"]["in_use"] >= 1
    hypervisors = as_json(run(cluster, "hypervisor", "list", "--format", "json",
                              user="admin:admin"))
    assert {"hv1", "hv2"} <= {h["hypervisor_hostname"] for h in hypervisors}
    assert "cli-vm" in run(cluster, "usage").stdout
    run(cluster, "server", "delete", sid, "--wait")
    assert "cli-vm" not in run(cluster, "server", "list").stdout


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_networking_through_the_cli(cluster, tmp_path):
    """The README quick start's network commands: an external network (admin), a network
    with its subnet, a keypair, a server on the network with the key, user_data and a
    config drive, a rule for port 80 on the default group, a floating IP on the server."""
    image_file = tmp_path / "tiny.img"
    image_file.write_bytes(os.urandom(64 * 1024))
    user_data = tmp_path / "user-data"
    user_data.write_bytes(b"#!/bin/sh\necho hi\n")
    image, net, public, key = name("img"), name("net"), name("pub"), name("key")
    run(cluster, "image", "upload", str(image_file), "--name", image, "--disk-format", "raw",
        "--container-format", "bare")
    made = []
    try:
        made.append(("admin:admin", public))
        assert as_json(run(cluster, "network", "create", public, "--external", "--subnet",
                           "203.0.113.0/28", "--no-dhcp", "--format", "json",
                           user="admin:admin"))["router:external"] is True
        made.append(("test:tester", net))
        network_id = run(cluster, "network", "create", net, "--subnet", "10.231.7.0/24",
                         "--format", "value").stdout.strip()
        listed = as_json(run(cluster, "network", "list", "--format", "json"))
        assert {(n["id"], n["name"]) for n in listed} >= {(network_id, net)}
        private_key = run(cluster, "keypair", "create", key).stdout
        assert private_key.startswith("-----BEGIN") and "PRIVATE KEY" in private_key
        assert key in run(cluster, "keypair", "list").stdout
        assert "already exists" in run(cluster, "keypair", "create", key, check=False).stderr
        server = as_json(run(cluster, "server", "create", "--name", name("vm"), "--image",
                             image, "--flavor", "m1.tiny", "--network", net, "--key-name",
                             key, "--user-data", str(user_data), "--config-drive", "--wait",
                             "--format", "json"))
        made.append(("server", server["id"]))
        [fixed] = server["addresses"][net]
        assert fixed["addr"].startswith("10.231.7.") and server["key_name"] == key
        assert server["config_drive"] == "True"
        rule = as_json(run(cluster, "security-group", "rule", "create", "default",
                           "--protocol", "tcp", "--port", "8080:8081", "--format", "json"))
        made.append(("rule", rule["id"]))
        assert (rule["port_range_min"], rule["port_range_max"], rule["remote_ip_prefix"]) \
            == (8080, 8081, "0.0.0.0/0")
        address = run(cluster, "floating-ip", "create", public, "--server", server["id"],
                      "--format", "value").stdout.strip()
        made.append(("fip", address))
        assert address.startswith("203.0.113.")
        shown = as_json(run(cluster, "server", "show", server["id"], "--format", "json"))
        assert [(a["addr"], a["OS-EXT-IPS:type"]) for a in shown["addresses"][net]] == [
            (fixed["addr"], "fixed"), (address, "floating")]
        bad_name = name("bad")
        bad = run(cluster, "network", "create", bad_name, "--subnet", "10.1.2.3/33",
                  check=False)
        assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1
        assert bad_name not in run(cluster, "network", "list").stdout  # nothing half-made
    finally:
        for kind, what in reversed(made):
            if kind == "server":
                run(cluster, "server", "delete", what, "--wait", check=False)
            elif kind == "rule":
                run(cluster, "security-group", "rule", "delete", what, check=False)
            elif kind == "fip":
                run(cluster, "floating-ip", "delete", what, check=False)
            else:
                run(cluster, "network", "delete", what, user=kind, check=False)
        run(cluster, "keypair", "delete", key, check=False)
    assert net not in run(cluster, "network", "list").stdout


def test_cli_errors_are_one_line(cluster):
    result = run(cluster, "server", "create", "--name", "x", "--image", "no-such-image",
                 "--flavor", "m1.tiny", check=False)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "no-such-image" in result.stderr
    result = run(cluster, "quota", "set", "--instances", "99", check=False)
    assert result.returncode == 1 and "Policy" in result.stderr


def test_boot_from_an_image_without_data_is_refused(cluster):
    from tests.compute.support import http

    tok = cluster.token()
    status, image = http("POST", cluster.image_url + "/v2/images", tok, body={
        "name": "never-uploaded", "disk_format": "raw", "container_format": "bare"})
    assert status == 201 and image["status"] == "queued"
    status, body = http("POST", cluster.compute_url + "/v2.1/servers", tok, body={"server": {
        "name": "from-queued", "imageRef": image["id"], "flavorRef": "1"}})
    assert status == 400 and "not active" in body["badRequest"]["message"]
    status, body = http("GET", cluster.compute_url + "/v2.1/servers?name=from-queued", tok)
    assert status == 200 and body["servers"] == []


def test_day2_actions_through_the_cli(cluster, tmp_path):
    """Snapshot, shelve/unshelve, resize with confirm and revert, rebuild and the
    instance actions, each one `brume server` command (test driver's guests)."""
    image_file = tmp_path / "tiny.img"
    image_file.write_bytes(os.urandom(64 * 1024))
    image, vm = name("day2-img"), name("day2-vm")
    run(cluster, "image", "upload", str(image_file), "--name", image,
        "--disk-format", "raw", "--container-format", "bare")
    sid = as_json(run(cluster, "server", "create", "--name", vm, "--image", image,
                      "--flavor", "m1.tiny", "--wait", "--format", "json"))["id"]
    snap = name("snap")
    image_id = run(cluster, "server", "snapshot", vm, "--name", snap).stdout.strip()
    assert len(image_id) == 36
    images = as_json(run(cluster, "image", "list", "--format", "json"))
    assert snap in {i["name"] for i in images}
    done = as_json(run(cluster, "server", "snapshot", vm, "--name", name("snap2"), "--wait",
                       "--format", "json"))
    assert done["status"] == "ACTIVE" and not done["OS-EXT-STS:task_state"]
    assert as_json(run(cluster, "server", "shelve", vm, "--wait", "--format",
                       "json"))["status"] == "SHELVED_OFFLOADED"
    assert as_json(run(cluster, "server", "unshelve", vm, "--wait", "--format",
                       "json"))["status"] == "ACTIVE"
    resized = as_json(run(cluster, "server", "resize", vm, "--flavor", "m1.small", "--wait",
                          "--format", "json"))
    assert resized["status"] == "VERIFY_RESIZE"
    reverted = as_json(run(cluster, "server", "resize-revert", vm, "--wait", "--format",
                           "json"))
    assert reverted["status"] == "ACTIVE" and reverted["flavor"]["id"] == "1"
    run(cluster, "server", "resize", vm, "--flavor", "m1.small", "--wait")
    confirmed = as_json(run(cluster, "server", "resize-confirm", vm, "--wait", "--format",
                            "json"))
    assert confirmed["status"] == "ACTIVE" and confirmed["flavor"]["id"] != "1"
    rebuilt = as_json(run(cluster, "server", "rebuild", vm, "--image", image_id, "--wait",
                          "--format", "json"))
    assert rebuilt["status"] == "ACTIVE" and rebuilt["image"]["id"] == image_id
    actions = [a["action"] for a in as_json(run(cluster, "server", "actions", vm,
                                                "--format", "json"))]
    for action in ("create", "createImage", "shelve", "unshelve", "resize", "revertResize",
                   "confirmResize", "rebuild"):
        assert action in actions, actions
    # bad input: a clear one-line message, nothing changed
    result = run(cluster, "server", "resize", vm, "--flavor", "no-such-flavor", check=False)
    assert result.returncode == 1 and "no flavor" in result.stderr
    assert "Traceback" not in result.stderr
    result = run(cluster, "server", "migrate", vm, check=False)  # a member is not an admin
    assert result.returncode == 1 and "Traceback" not in result.stderr
    run(cluster, "server", "delete", sid, "--wait")
