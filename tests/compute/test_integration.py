"""The issue's integration tests on `brume up` (the session cluster: compute API and agents
hv1/hv2 on libvirt's test driver, the real image service with image bytes in the real object
store, tokens signed with the proxy's secret)."""
from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.compute.support import http, read_ini, wait_until

pytestmark = pytest.mark.cluster

HOSTS = ("hv1", "hv2")
USAGE_KEYS = ("vcpus_used", "memory_mb_used", "local_gb_used", "running_vms")


@pytest.fixture(scope="module")
def admin(cloud):
    return cloud.settings.token("admin", "admin", admin=True)


def usage(cloud, admin) -> dict:
    """(host, counter) -> value for both agents of the cluster."""
    hypervisors = {h: cloud.hypervisor(h, admin) for h in HOSTS}
    return {(h, k): hypervisors[h][k] for h in HOSTS for k in USAGE_KEYS}


def test_twenty_concurrent_boots_spread_over_both_agents(cloud, admin):
    before = usage(cloud, admin)
    tok = cloud.settings.token("spread")
    cloud.put("/v2.1/os-quota-sets/spread", admin, {"quota_set": {"instances": 20}})
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda i: cloud.boot(tok, f"spread-{i}"), range(20)))
    assert [status for status, _ in answers] == [202] * 20
    ids = [body["server"]["id"] for _, body in answers]
    hosts = [cloud.wait_status(admin, sid, "ACTIVE")["OS-EXT-SRV-ATTR:host"] for sid in ids]
    assert sorted(set(hosts)) == ["hv1", "hv2"]
    assert abs(hosts.count("hv1") - hosts.count("hv2")) <= 2  # spread weigher
    now = usage(cloud, admin)
    assert sum(now[(h, "running_vms")] - before[(h, "running_vms")] for h in HOSTS) == 20
    assert sum(now[(h, "memory_mb_used")] - before[(h, "memory_mb_used")]
               for h in HOSTS) == 20 * 128
    with ThreadPoolExecutor(20) as pool:
        assert set(pool.map(lambda s: cloud.delete(f"/v2.1/servers/{s}", tok)[0], ids)) == {204}
    wait_until(lambda: cloud.get("/v2.1/servers", tok)[1]["servers"] == [], what="deletes")
    wait_until(lambda: usage(cloud, admin) == before, what="resources freed")


def test_quota_exceeded_under_concurrency_boots_exactly_the_allowed_number(cloud, admin):
    tok = cloud.settings.token("quota")
    assert cloud.put("/v2.1/os-quota-sets/quota", admin,
                     {"quota_set": {"instances": 5}})[0] == 200
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda i: cloud.boot(tok, f"q-{i}"), range(12)))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [202] * 5 + [403] * 7
    listed = cloud.get("/v2.1/servers", tok)[1]["servers"]
    assert len(listed) == 5
    for server in listed:
        cloud.wait_status(tok, server["id"], "ACTIVE")
    quota = cloud.get("/v2.1/os-quota-sets/quota?usage=true", tok)[1]["quota_set"]
    assert quota["instances"] == {"limit": 5, "in_use": 5, "reserved": 0}
    assert cloud.boot(tok, "one-too-many")[0] == 403
    for server in listed:
        assert cloud.delete(f"/v2.1/servers/{server['id']}", tok)[0] == 204
    wait_until(lambda: cloud.get("/v2.1/servers", tok)[1]["servers"] == [])


def test_flavor_larger_than_any_host_goes_to_error_no_valid_host(cloud, admin):
    tok = cloud.settings.token("huge")
    cloud.put("/v2.1/os-quota-sets/huge", admin,
              {"quota_set": {"instances": -1, "cores": -1, "ram": -1}})
    largest = max(cloud.hypervisor(h, admin)["memory_mb"] for h in HOSTS)
    flavor_id = f"huge-{uuid.uuid4().hex[:8]}"
    status, _ = cloud.post("/v2.1/flavors", admin, {"flavor": {
        "name": flavor_id, "id": flavor_id, "vcpus": 1, "ram": largest * 4, "disk": 1}})
    assert status == 200
    try:
        status, body = cloud.boot(tok, "too-big", flavor=flavor_id)
        assert status == 202
        server = cloud.wait_status(tok, body["server"]["id"], "ERROR")
        assert "No valid host" in server["fault"]["message"]
        assert cloud.delete(f"/v2.1/servers/{server['id']}", tok)[0] == 204
        wait_until(lambda: cloud.server(tok, server["id"]) is None, what="ERROR server deleted")
    finally:
        cloud.delete(f"/v2.1/flavors/{flavor_id}", admin)


def test_stop_start_reboot_console_delete(cloud, admin, cluster):
    before = usage(cloud, admin)
    tok = cloud.settings.token("power")
    status, body = cloud.boot(tok, "power-vm", flavor="2")
    assert status == 202
    sid = body["server"]["id"]
    server = cloud.wait_status(admin, sid, "ACTIVE")
    host = server["OS-EXT-SRV-ATTR:host"]
    assert server["OS-EXT-STS:power_state"] == 1 and server["OS-EXT-STS:vm_state"] == "active"
    used = usage(cloud, admin)
    assert used[(host, "memory_mb_used")] - before[(host, "memory_mb_used")] == 256
    assert used[(host, "running_vms")] - before[(host, "running_vms")] == 1
    action = f"/v2.1/servers/{sid}/action"
    assert cloud.post(action, tok, {"os-stop": None})[0] == 202
    stopped = cloud.wait_status(tok, sid, "SHUTOFF")
    assert stopped["OS-EXT-STS:power_state"] == 4 and stopped["OS-EXT-STS:vm_state"] == "stopped"
    assert cloud.post(action, tok, {"os-stop": None})[0] == 409
    assert cloud.post(action, tok, {"os-start": None})[0] == 202
    cloud.wait_status(tok, sid, "ACTIVE")
    assert cloud.post(action, tok, {"reboot": {"type": "SOFT"}})[0] == 202
    cloud.wait_status(tok, sid, "ACTIVE")
    assert cloud.post(action, tok, {"reboot": {"type": "HARD"}})[0] == 202
    assert cloud.wait_status(tok, sid, "ACTIVE")["OS-EXT-STS:power_state"] == 1
    status, body = cloud.post(action, tok, {"os-getConsoleOutput": {"length": 2}})
    assert status == 200 and len(body["output"].splitlines()) == 2
    assert "rebooting" in body["output"]
    full = cloud.post(action, tok, {"os-getConsoleOutput": {}})[1]["output"]
    assert full.count("booting; power on") == 2  # first boot and the start
    status, body = cloud.get(f"/v2.1/servers/{sid}/diagnostics", tok)
    assert status == 200 and body["state"] == "RUNNING"
    assert cloud.delete(f"/v2.1/servers/{sid}", tok)[0] == 204
    wait_until(lambda: cloud.server(tok, sid) is None, what="deleted")
    deleted = cloud.get("/v2.1/servers/detail?deleted=true&all_tenants=1", admin)[1]["servers"]
    assert any(s["id"] == sid and s["status"] == "DELETED" for s in deleted)
    layout = cluster.layout
    agent_url = f"http://{layout.service_ip}:{layout.agent_port(host)}"
    assert http("GET", agent_url + "/v1/instances")[0] == 401  # only signed requests
    wait_until(lambda: usage(cloud, admin) == before, what="resources freed")


def test_another_projects_server_is_404(cloud):
    owner, stranger = cloud.settings.token("owner"), cloud.settings.token("stranger")
    sid = cloud.boot(owner, "private")[1]["server"]["id"]
    cloud.wait_status(owner, sid, "ACTIVE")
    assert cloud.get(f"/v2.1/servers/{sid}", stranger)[0] == 404
    assert cloud.delete(f"/v2.1/servers/{sid}", stranger)[0] == 404
    for action in ({"os-getConsoleOutput": {}}, {"os-stop": None}):
        assert cloud.post(f"/v2.1/servers/{sid}/action", stranger, action)[0] == 404
    assert cloud.get("/v2.1/servers/detail", stranger)[1]["servers"] == []
    assert cloud.server(owner, sid)["status"] == "ACTIVE"
    assert cloud.delete(f"/v2.1/servers/{sid}", owner)[0] == 204
    wait_until(lambda: cloud.server(owner, sid) is None, what="deleted")


def test_bad_requests_get_4xx_and_create_nothing(cloud, images, admin):
    tok = cloud.settings.token("clumsy")
    own_private = cloud.settings.create_image(
        cloud.settings.token("someone-else"), "not-shared", b"\0" * 2048)
    deactivated = cloud.settings.create_image(tok, "deactivated", b"\1" * 2048)
    assert http("POST", f"{cloud.settings.image_url}/v2/images/{deactivated}/actions/"
                "deactivate", admin)[0] == 204
    attempts = [
        cloud.post("/v2.1/servers", tok, raw=b'{"server": {'),
        cloud.post("/v2.1/servers", tok, raw=b"\xff\xfe"),
        cloud.boot(tok, "ok-name", flavor="nope"),
        cloud.boot(tok, "ok-name", image=str(uuid.uuid4())),
        cloud.boot(tok, "ok-name", image=own_private),  # another project's private image
        cloud.boot(tok, "ok-name", image=images["queued"]),
        cloud.boot(tok, "ok-name", image=deactivated),
        cloud.boot(tok, "ok-name", image=images["big"]),
        cloud.boot(tok, ""),
        cloud.boot(tok, "x" * 300),
        cloud.boot(tok, "tab\tname"),
    ]
    assert [status for status, _ in attempts] == [400] * len(attempts), attempts
    messages = [body["badRequest"]["message"] for _, body in attempts]
    assert "could not be found" in messages[3] and "could not be found" in messages[4]
    assert "not active" in messages[5] and "not active" in messages[6]
    everything = "/v2.1/servers/detail?deleted=true&project_id=clumsy"
    assert cloud.get(everything, admin)[1]["servers"] == []
    quota = cloud.get("/v2.1/os-quota-sets/clumsy?usage=true", tok)[1]["quota_set"]
    assert quota["instances"]["in_use"] == 0


def test_agent_killed_and_restarted_reconciles_with_the_database(cloud, admin, cluster):
    """`brume up`'s own agent: SIGKILL it, delete a server while it is away, restart it.
    (The kill mid-boot with ERROR after a short heartbeat window is in test_faults.py.)"""
    before = usage(cloud, admin)
    tok = cloud.settings.token("reconcile")
    ids = [cloud.boot(tok, f"rec-{i}")[1]["server"]["id"] for i in range(3)]
    hosts = {sid: cloud.wait_status(admin, sid, "ACTIVE")["OS-EXT-SRV-ATTR:host"]
             for sid in ids}
    host = max(HOSTS, key=list(hosts.values()).count)  # three servers: two share a host
    kept, doomed = [sid for sid in ids if hosts[sid] == host][:2]
    agent_conf = read_ini(os.path.join(cluster.conf_dir, host, "compute-agent.conf"))
    instances = agent_conf.get("compute-agent", "instances_dir")
    assert os.path.isdir(os.path.join(instances, doomed))
    cluster.kill_service(f"agent-{host}")
    try:
        # Deleted while the agent is away: the API cannot reach it and deletes locally.
        assert cloud.delete(f"/v2.1/servers/{doomed}", tok)[0] == 204
        wait_until(lambda: cloud.server(tok, doomed) is None, what="local delete")
    finally:
        cluster.start_service(f"agent-{host}")
    # The restarted agent's domains did not survive it: the kept server reads SHUTOFF, and
    # the deleted server's domain and files are removed.
    cloud.wait_status(tok, kept, "SHUTOFF")
    wait_until(lambda: not os.path.exists(os.path.join(instances, doomed)),
               what="deleted server removed from the hypervisor")
    assert cloud.post(f"/v2.1/servers/{kept}/action", tok, {"os-start": None})[0] == 202
    cloud.wait_status(tok, kept, "ACTIVE")
    for sid in ids:
        if sid != doomed:
            assert cloud.delete(f"/v2.1/servers/{sid}", tok)[0] == 204
    wait_until(lambda: cloud.get("/v2.1/servers", tok)[1]["servers"] == [], what="deletes")
    wait_until(lambda: usage(cloud, admin) == before, what="resources freed")
