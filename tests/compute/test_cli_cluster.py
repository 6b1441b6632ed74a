"""`brume server|flavor|hypervisor|quota|usage` against the all-in-one cluster (`brume up`
with the test driver): real proxy auth, real image service, real compute API and agents."""
from __future__ import annotations

import json
import os

import pytest

from tests.integration.support import brume

pytestmark = pytest.mark.cluster


def run(cluster, *args, user="test:tester", check=True):
    creds = ["--auth-url", cluster.auth_url, "--user", user,
             "--key", cluster.credentials[user], "--image-url", cluster.image_url,
             "--compute-url", cluster.compute_url]
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
