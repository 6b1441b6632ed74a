"""Compute faults with REAL processes: a host that fails builds, an agent killed mid-boot,
and the reconciliation when it comes back, an API restart.

These need agent and API settings the session cluster does not have (a 3 s heartbeat
window, slow builds), so the module runs its own compute API and agents; images are looked
up in the session cluster's real image service, with tokens signed by its proxy secret."""
from __future__ import annotations

import json
import os
import sqlite3
import urllib.error
import urllib.request

import pytest

from compute import service_http
from compute.service_auth import agent_target, sign_headers
from tests.compute.support import ComputeCluster, wait_until

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def cloud(tmp_path_factory, cloud_settings, images):
    """A private compute API (3 s heartbeat window) and three agents, using the session
    cluster's real image service and tokens."""
    root = str(tmp_path_factory.mktemp("compute-faults"))
    cluster = ComputeCluster(root, cloud_settings, images["active"],
                             api={"heartbeat_window": 3.0})
    try:
        # hvbad cannot create instance directories (its instances_dir is a file), and is the
        # roomiest host of its zone, so the spread weigher tries it first.
        bad_dir = os.path.join(root, "not-a-directory")
        with open(bad_dir, "w", encoding="utf-8") as handle:
            handle.write("x")
        cluster.add_agents({
            "hvbad": {"availability_zone": "flaky", "instances_dir": bad_dir,
                      "memory_mb": 8192},
            "hvgood": {"availability_zone": "flaky"},
            "hvslow": {"availability_zone": "slow", "test_spawn_seconds": 2.5},
        })
        yield cluster
    finally:
        cluster.stop()


def attempted_hosts(cloud, server_id):
    with sqlite3.connect(os.path.join(cloud.root, "compute.db")) as conn:
        row = conn.execute("SELECT attempted_hosts FROM servers WHERE id = ?",
                           (server_id,)).fetchone()
    return json.loads(row[0])


def agent_instances(cloud, name):
    """The agent's own view ({"instances", "building"}), asked with the service signature."""
    return service_http.call(cloud.agent_urls[name], "GET", "/v1/instances",
                             cloud.settings.service_secret, target=agent_target(name))


def raw_agent_get(url: str, path: str, headers: dict) -> tuple[int, str]:
    request = urllib.request.Request(url + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_real_agents_refuse_replays_and_requests_signed_for_another_agent(cloud):
    secret, path = cloud.settings.service_secret, "/v1/instances"
    captured = sign_headers(secret, "GET", agent_target("hvgood"), path, b"")
    assert raw_agent_get(cloud.agent_urls["hvgood"], path, captured)[0] == 200
    status, body = raw_agent_get(cloud.agent_urls["hvgood"], path, captured)
    assert status == 401 and "replayed" in body
    for_hvgood = sign_headers(secret, "GET", agent_target("hvgood"), path, b"")
    status, body = raw_agent_get(cloud.agent_urls["hvslow"], path, for_hvgood)
    assert status == 401 and "another target" in body
    assert raw_agent_get(cloud.agent_urls["hvgood"], path, for_hvgood)[0] == 200


@pytest.fixture(scope="module")
def admin(cloud):
    return cloud.settings.token("admin", "admin", admin=True)


def test_a_host_that_fails_the_build_is_retried_elsewhere(cloud, admin):
    tok = cloud.settings.token("retry")
    status, body = cloud.boot(tok, "retried", availability_zone="flaky")
    assert status == 202
    server = cloud.wait_status(admin, body["server"]["id"], "ACTIVE")
    assert server["OS-EXT-SRV-ATTR:host"] == "hvgood"
    assert attempted_hosts(cloud, server["id"]) == ["hvbad", "hvgood"]
    assert cloud.hypervisor("hvbad", admin)["running_vms"] == 0
    assert cloud.delete(f"/v2.1/servers/{server['id']}", tok)[0] == 204


def test_agent_killed_mid_boot_then_reconciled_on_restart(cloud, admin):
    tok = cloud.settings.token("faulty")
    instances = os.path.join(cloud.root, "hvslow", "instances")
    kept = cloud.boot(tok, "kept", availability_zone="slow")[1]["server"]["id"]
    doomed = cloud.boot(tok, "deleted-while-away", availability_zone="slow")[1]["server"]["id"]
    cloud.wait_status(tok, kept, "ACTIVE")
    cloud.wait_status(tok, doomed, "ACTIVE")
    assert os.path.isdir(os.path.join(instances, doomed))

    building = cloud.boot(tok, "mid-boot", availability_zone="slow")[1]["server"]["id"]
    wait_until(lambda: building in agent_instances(cloud, "hvslow")["building"],
               what="build accepted by the agent")
    cloud.kill("hvslow")

    # Deleted while the agent is away: finishes locally.
    assert cloud.delete(f"/v2.1/servers/{doomed}", tok)[0] == 204
    wait_until(lambda: cloud.server(tok, doomed) is None, what="local delete")
    # The BUILD server goes to ERROR once the heartbeat window (3 s) has passed.
    failed = cloud.wait_status(tok, building, "ERROR", timeout=15)
    assert "hvslow" in failed["fault"]["message"]
    assert cloud.hypervisor("hvslow", admin)["state"] == "down"
    assert cloud.server(tok, kept)["status"] == "ACTIVE"

    cloud.start("hvslow")
    # Reconciliation: the deleted server's domain and files are removed; the server whose
    # domain did not survive running is reported SHUTOFF.
    wait_until(lambda: not os.path.exists(os.path.join(instances, doomed)),
               what="deleted server removed from the hypervisor")
    cloud.wait_status(tok, kept, "SHUTOFF")
    assert cloud.hypervisor("hvslow", admin)["state"] == "up"
    assert cloud.post(f"/v2.1/servers/{kept}/action", tok, {"os-start": None})[0] == 202
    cloud.wait_status(tok, kept, "ACTIVE")
    assert cloud.server(tok, building)["status"] == "ERROR"


def test_api_restart_loses_nothing(cloud):
    tok = cloud.settings.token("restart")
    settled = cloud.boot(tok, "settled", availability_zone="flaky")[1]["server"]["id"]
    cloud.wait_status(tok, settled, "ACTIVE")
    in_flight = cloud.boot(tok, "in-flight", availability_zone="slow")[1]["server"]["id"]
    wait_until(lambda: in_flight in agent_instances(cloud, "hvslow")["building"],
               what="build accepted by the agent")
    cloud.kill("api")  # the agent's build_done is retried until the API is back
    cloud.start("api")
    assert cloud.server(tok, settled)["status"] == "ACTIVE"
    cloud.wait_status(tok, in_flight, "ACTIVE", timeout=25)
    assert cloud.post(f"/v2.1/servers/{settled}/action", tok, {"os-stop": None})[0] == 202
    cloud.wait_status(tok, settled, "SHUTOFF")
    for server_id in (settled, in_flight):
        assert cloud.delete(f"/v2.1/servers/{server_id}", tok)[0] == 204
    wait_until(lambda: cloud.get("/v2.1/servers", tok)[1]["servers"] == [])
