"""Keystone tokens across the services of a real cluster: the image, compute and network
APIs accept the identity service's project-scoped tokens, give a `reader` read-only access,
and refuse a revoked token within seconds (each polls the revocation events); the `brume`
CLI logs in through v3 from clouds.yaml or the OS_* variables."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request

import pytest

from tests.integration.support import brume, wait_until

pytestmark = pytest.mark.cluster


def v3_token(cluster, user: str, password: str, project: str = "test") -> str:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"name": "Default"}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}}
    request = urllib.request.Request(
        cluster.identity_url + "/v3/auth/tokens?nocatalog", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.headers["X-Subject-Token"]


def call(method: str, url: str, token: str, body: dict | None = None) -> int:
    request = urllib.request.Request(
        url, method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"X-Auth-Token": token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            answer.read()
            return answer.status
    except urllib.error.HTTPError as exc:
        exc.read()
        return exc.code


def reads(cluster) -> dict[str, str]:
    return {"image": cluster.image_url + "/v2/images",
            "compute": cluster.compute_url + "/v2.1/servers",
            "network": cluster.network_url + "/v2.0/networks"}


def test_a_member_token_reads_and_writes_in_every_service(cluster, name):
    token = v3_token(cluster, "tester", "testing")
    for service, url in reads(cluster).items():
        assert call("GET", url, token) == 200, service
    image = name("ks-image")
    request = urllib.request.Request(
        cluster.image_url + "/v2/images", method="POST",
        data=json.dumps({"name": image, "disk_format": "raw",
                         "container_format": "bare"}).encode(),
        headers={"X-Auth-Token": token, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        created = json.loads(answer.read())
    assert created["owner"] == "test"
    assert call("DELETE", cluster.image_url + f"/v2/images/{created['id']}", token) == 204


def test_a_reader_reads_but_changes_nothing(cluster, name):
    token = v3_token(cluster, "tester3", "testing3")
    for service, url in reads(cluster).items():
        assert call("GET", url, token) == 200, service
    image = {"name": name("ro"), "disk_format": "raw", "container_format": "bare"}
    assert call("POST", cluster.image_url + "/v2/images", token, image) == 403
    server = {"server": {"name": name("ro"), "flavorRef": "1", "imageRef": "x"}}
    assert call("POST", cluster.compute_url + "/v2.1/servers", token, server) == 403
    assert call("POST", cluster.network_url + "/v2.0/networks", token,
                {"network": {"name": name("ro")}}) == 403
    member = v3_token(cluster, "tester", "testing")
    listing = urllib.request.Request(cluster.image_url + "/v2/images",
                                     headers={"X-Auth-Token": member})
    with urllib.request.urlopen(listing, timeout=30) as answer:
        names = {item["name"] for item in json.loads(answer.read())["images"]}
    assert image["name"] not in names


def test_a_revoked_token_is_refused_everywhere_within_seconds(cluster):
    token = v3_token(cluster, "tester", "testing")
    for service, url in reads(cluster).items():
        assert call("GET", url, token) == 200, service
    admin = v3_token(cluster, "tester", "testing")
    revoke = urllib.request.Request(cluster.identity_url + "/v3/auth/tokens", method="DELETE",
                                    headers={"X-Auth-Token": admin, "X-Subject-Token": token})
    with urllib.request.urlopen(revoke, timeout=30) as answer:
        assert answer.status == 204
    for service, url in reads(cluster).items():
        wait_until(lambda url=url: call("GET", url, token) == 401, timeout=60, interval=0.5,
                   what=f"the {service} service refusing a revoked token")
    fresh = v3_token(cluster, "tester", "testing")
    assert all(call("GET", url, fresh) == 200 for url in reads(cluster).values())


def test_the_brume_cli_logs_in_from_clouds_yaml_and_os_variables(cluster, tmp_path,
                                                                  monkeypatch):
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(
        "clouds:\n  brume:\n    region_name: RegionOne\n    auth:\n"
        f"      auth_url: {cluster.identity_url}\n      username: tester\n"
        "      password: testing\n      project_name: test\n"
        "      user_domain_name: Default\n      project_domain_name: Default\n")
    for variable in ("OS_CLOUD", "OS_AUTH_URL", "BRUME_AUTH_URL", "BRUME_USER", "BRUME_KEY",
                     "ST_AUTH", "ST_USER", "ST_KEY", "BRUME_IMAGE_URL", "BRUME_COMPUTE_URL"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds))
    listed = brume("image", "list", "--os-cloud", "brume")
    assert listed.returncode == 0, listed.stderr
    servers = brume("server", "list", "--os-cloud", "brume")
    assert servers.returncode == 0, servers.stderr
    monkeypatch.delenv("OS_CLIENT_CONFIG_FILE")
    monkeypatch.setenv("OS_AUTH_URL", cluster.identity_url + "/v3")
    monkeypatch.setenv("OS_USERNAME", "tester")
    monkeypatch.setenv("OS_PASSWORD", "wrong")
    monkeypatch.setenv("OS_PROJECT_NAME", "test")
    refused = brume("image", "list", check=False)
    assert refused.returncode != 0
    assert "authentication failed" in refused.stderr and "Traceback" not in refused.stderr
    monkeypatch.setenv("OS_PASSWORD", "testing")
    assert brume("image", "list").returncode == 0


def test_the_openstack_cli_lists_images_servers_and_networks(cluster, tmp_path):
    cli = shutil.which("openstack")
    assert cli is not None, "the openstack CLI is missing: ./install.sh --dev installs it"
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(
        "clouds:\n  brume:\n    region_name: RegionOne\n    auth:\n"
        f"      auth_url: {cluster.identity_url}/v3\n      username: tester\n"
        "      password: testing\n      project_name: test\n"
        "      user_domain_name: Default\n      project_domain_name: Default\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("OS_")}
    env.update({"OS_CLIENT_CONFIG_FILE": str(clouds), "HOME": str(tmp_path)})
    for what in (("image", "list"), ("server", "list"), ("flavor", "list"),
                 ("network", "list")):
        done = subprocess.run([cli, "--os-cloud", "brume", *what, "-f", "json"], env=env,
                              capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, (what, done.stdout, done.stderr)
        assert isinstance(json.loads(done.stdout), list), what
