"""The compute API and two agents as REAL processes on libvirt's test driver."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.compute.support import (
    QUEUED_IMAGE,
    ComputeCluster,
    http,
    token,
    wait_until,
)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    # A roomy heartbeat window: nothing here waits for a host to go down.
    cluster = ComputeCluster(str(tmp_path_factory.mktemp("compute")),
                             api={"heartbeat_window": 10.0})
    try:
        cluster.add_agent("hv1")
        cluster.add_agent("hv2")
        yield cluster
    finally:
        cluster.stop()


ADMIN = token("admin", "admin", admin=True)


def usage_is_zero(cloud) -> bool:
    return all(cloud.hypervisor(h)["vcpus_used"] == 0 and cloud.hypervisor(h)[
        "memory_mb_used"] == 0 and cloud.hypervisor(h)["running_vms"] == 0
        for h in ("hv1", "hv2"))


def test_twenty_concurrent_boots_spread_over_both_agents(cloud):
    tok = token("spread")
    cloud.put("/v2.1/os-quota-sets/spread", ADMIN, {"quota_set": {"instances": 20}})
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda i: cloud.boot(tok, f"spread-{i}"), range(20)))
    assert [status for status, _ in answers] == [202] * 20
    ids = [body["server"]["id"] for _, body in answers]
    hosts = [cloud.wait_status(ADMIN, sid, "ACTIVE")["OS-EXT-SRV-ATTR:host"] for sid in ids]
    assert sorted(set(hosts)) == ["hv1", "hv2"]
    assert abs(hosts.count("hv1") - hosts.count("hv2")) <= 2  # spread weigher
    assert cloud.hypervisor("hv1")["running_vms"] + cloud.hypervisor("hv2")["running_vms"] == 20
    with ThreadPoolExecutor(20) as pool:
        assert set(pool.map(lambda s: cloud.delete(f"/v2.1/servers/{s}", tok)[0], ids)) == {204}
    wait_until(lambda: cloud.get("/v2.1/servers", tok)[1]["servers"] == [], what="deletes")
    wait_until(lambda: usage_is_zero(cloud), what="resources freed")


def test_quota_exceeded_under_concurrency_boots_exactly_the_allowed_number(cloud):
    tok = token("quota")
    assert cloud.put("/v2.1/os-quota-sets/quota", ADMIN,
                     {"quota_set": {"instances": 5}})[0] == 200
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda i: cloud.boot(tok, f"q-{i}"), range(12)))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [202] * 5 + [403] * 7
    listed = cloud.get("/v2.1/servers", tok)[1]["servers"]
    assert len(listed) == 5
    for server in listed:
        cloud.wait_status(tok, server["id"], "ACTIVE")
        assert cloud.delete(f"/v2.1/servers/{server['id']}", tok)[0] == 204
    wait_until(lambda: cloud.get("/v2.1/servers", tok)[1]["servers"] == [])


def test_flavor_larger_than_any_host_goes_to_error_no_valid_host(cloud):
    tok = token("huge")
    status, _ = cloud.post("/v2.1/flavors", ADMIN, {"flavor": {
        "name": "x1.huge", "id": "huge", "vcpus": 2, "ram": 16384, "disk": 1}})
    assert status == 200
    status, body = cloud.boot(tok, "too-big", flavor="huge")
    assert status == 202
    server = cloud.wait_status(tok, body["server"]["id"], "ERROR")
    assert "No valid host" in server["fault"]["message"]


def test_stop_start_reboot_console_delete(cloud):
    tok = token("power")
    status, body = cloud.boot(tok, "power-vm", flavor="2")
    sid = body["server"]["id"]
    server = cloud.wait_status(ADMIN, sid, "ACTIVE")
    host = server["OS-EXT-SRV-ATTR:host"]
    assert server["OS-EXT-STS:power_state"] == 1 and server["OS-EXT-STS:vm_state"] == "active"
    assert cloud.hypervisor(host)["memory_mb_used"] >= 256
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
    deleted = cloud.get("/v2.1/servers/detail?deleted=true&all_tenants=1", ADMIN)[1]["servers"]
    assert any(s["id"] == sid and s["status"] == "DELETED" for s in deleted)
    agent_view = http("GET", cloud.agent_urls[host] + "/v1/instances")
    assert agent_view[0] == 401  # agents only answer signed requests
    wait_until(lambda: cloud.hypervisor(host)["memory_mb_used"] == 0, what="freed")


def test_another_projects_server_is_404(cloud):
    owner, stranger = token("owner"), token("stranger")
    sid = cloud.boot(owner, "private")[1]["server"]["id"]
    cloud.wait_status(owner, sid, "ACTIVE")
    assert cloud.get(f"/v2.1/servers/{sid}", stranger)[0] == 404
    assert cloud.delete(f"/v2.1/servers/{sid}", stranger)[0] == 404
    assert cloud.post(f"/v2.1/servers/{sid}/action", stranger,
                      {"os-getConsoleOutput": {}})[0] == 404
    assert cloud.delete(f"/v2.1/servers/{sid}", owner)[0] == 204


def test_bad_requests_get_4xx_and_create_nothing(cloud):
    tok = token("clumsy")
    attempts = [
        cloud.post("/v2.1/servers", tok, raw=b'{"server": {'),
        cloud.boot(tok, "ok-name", flavor="nope"),
        cloud.boot(tok, "ok-name", image="55555555-5555-4555-8555-555555555555"),
        cloud.boot(tok, "ok-name", image=QUEUED_IMAGE),
        cloud.boot(tok, ""),
        cloud.boot(tok, "x" * 300),
        cloud.boot(tok, "tab\tname"),
    ]
    assert all(400 <= status < 500 for status, _ in attempts), attempts
    assert cloud.get("/v2.1/servers/detail?deleted=true", tok)[1]["servers"] == []
    quota = cloud.get("/v2.1/os-quota-sets/clumsy?usage=true", tok)[1]["quota_set"]
    assert quota["instances"]["in_use"] == 0
