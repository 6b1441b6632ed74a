"""The compute API in process (webob), on a real SQLite file, looking images up in the
session cluster's real image service (hence `cluster`)."""
from __future__ import annotations

import json
import time
from urllib.parse import quote

import pytest

from compute import states
from compute.service_auth import API_TARGET, agent_target, sign_headers

pytestmark = pytest.mark.cluster


def server_of(api, tok, server_id):
    status, body = api.call("GET", f"/v2.1/servers/{server_id}", tok)
    assert status == 200, body
    return body["server"]


def test_version_discovery_needs_no_token(api):
    status, body = api.call("GET", "/")
    assert status == 200 and body["versions"][0]["id"] == "v2.1"
    status, body = api.call("GET", "/v2.1")
    assert status == 200 and body["version"]["status"] == "CURRENT"


def test_token_required(api):
    assert api.call("GET", "/v2.1/servers")[0] == 401
    assert api.call("GET", "/v2.1/servers", "BRM_forged.sig")[0] == 401


def test_default_flavors_and_admin_flavor_management(api, user, admin):
    status, body = api.call("GET", "/v2.1/flavors/detail", user)
    names = {f["name"]: f for f in body["flavors"]}
    assert names["m1.tiny"]["vcpus"] == 1 and names["m1.tiny"]["ram"] == 128
    assert names["m1.small"]["ram"] == 256 and names["m1.medium"]["vcpus"] == 2
    assert api.call("GET", "/v2.1/flavors/1", user)[1]["flavor"]["name"] == "m1.tiny"
    assert api.call("GET", "/v2.1/flavors/nope", user)[0] == 404
    spec = {"flavor": {"name": "x1.big", "ram": 4096, "vcpus": 2, "disk": 10, "id": "big"}}
    assert api.call("POST", "/v2.1/flavors", user, spec)[0] == 403
    status, body = api.call("POST", "/v2.1/flavors", admin, spec)
    assert status == 200 and body["flavor"]["ram"] == 4096
    assert api.call("POST", "/v2.1/flavors", admin, spec)[0] == 409
    bad = {"flavor": {"name": "x", "ram": -1, "vcpus": 1, "disk": 1}}
    assert api.call("POST", "/v2.1/flavors", admin, bad)[0] == 400
    assert api.call("DELETE", "/v2.1/flavors/big", user)[0] == 403
    assert api.call("DELETE", "/v2.1/flavors/big", admin)[0] == 202
    assert api.call("GET", "/v2.1/flavors/big", user)[0] == 404


def test_bad_boot_requests_get_4xx_and_create_nothing(api, user, images):
    cases = [
        (api.call("POST", "/v2.1/servers", user, raw=b"{not json"), 400),
        (api.call("POST", "/v2.1/servers", user, raw=b"[1, 2]"), 400),
        (api.call("POST", "/v2.1/servers", user, {"name": "x"}), 400),
        (api.boot(user, name=""), 400),
        (api.boot(user, name=" padded"), 400),
        (api.boot(user, name="a" * 256), 400),
        (api.boot(user, name="bad\x00name"), 400),
        (api.boot(user, name=12), 400),
        (api.boot(user, flavor="no-such-flavor"), 400),
        (api.boot(user, image="44444444-4444-4444-8444-444444444444"), 400),
        (api.boot(user, image="not-an-id"), 400),
        (api.boot(user, image=images["queued"]), 400),
        (api.boot(user, image=images["big"]), 400),
        (api.boot(user, metadata={"k": 5}), 400),
        (api.boot(user, availability_zone="nowhere"), 400),
    ]
    for (status, body), expected in cases:
        assert status == expected, body
    assert api.call("GET", "/v2.1/servers/detail?deleted=true", user)[1]["servers"] == []
    assert api.core.quotas.usage("demo") == {"instances": 0, "cores": 0, "ram": 0}


def test_no_hosts_means_error_no_valid_host(api, user):
    status, body = api.boot(user)
    assert status == 202 and "adminPass" not in body["server"]
    server = server_of(api, user, body["server"]["id"])
    assert server["status"] == "ERROR"
    assert "No valid host was found" in server["fault"]["message"]
    assert server["fault"]["code"] == 500 and server["fault"]["created"]


def test_failing_hosts_are_retried_then_error(api, user, admin):
    for name in ("h1", "h2", "h3", "h4"):
        assert api.register(name)[0] == 200
    status, body = api.boot(user)
    server_id = body["server"]["id"]
    server = api.core.repo.get_server(server_id)
    # Agents are unreachable: tried on 1 + max_build_retries (2) distinct hosts.
    assert server["vm_state"] == states.ERROR
    assert len(server["attempted_hosts"]) == 3 == len(set(server["attempted_hosts"]))
    assert "retries exhausted" in server["fault_message"]


def test_build_done_event_makes_server_active_and_is_signed(api, user, admin):
    api.register("h1")
    server_id = api.boot(user)[1]["server"]["id"]
    # The unreachable agent failed the build: start again with a host that "accepted" it.
    api.core.repo.update_server(server_id, vm_state=states.BUILDING,
                                task_state=states.SPAWNING, host="h1", fault_message=None)
    path = f"/internal/v1/servers/{server_id}/events"
    event = {"host": "h1", "event": "build_done", "power_state": states.RUNNING}
    assert api.signed("POST", path, event, secret="wrong")[0] == 401
    assert api.signed("POST", path, {**event, "host": "h2"})[0] == 200  # not its host
    assert server_of(api, user, server_id)["status"] == "BUILD"
    assert api.signed("POST", path, event)[0] == 200
    server = server_of(api, admin, server_id)
    assert server["status"] == "ACTIVE" and server["OS-EXT-SRV-ATTR:host"] == "h1"
    assert "OS-EXT-SRV-ATTR:host" not in server_of(api, user, server_id)


def make_active(api, tok, host="h1", name="vm"):
    server_id = api.boot(tok, name=name)[1]["server"]["id"]
    api.core.repo.update_server(server_id, vm_state=states.ACTIVE, task_state=None,
                                host=host, power_state=states.RUNNING, fault_message=None)
    return server_id


def test_other_projects_server_is_404(api, user, other_user, admin):
    api.register("h1")
    server_id = make_active(api, user)
    assert api.call("GET", f"/v2.1/servers/{server_id}", other_user)[0] == 404
    assert api.call("DELETE", f"/v2.1/servers/{server_id}", other_user)[0] == 404
    assert api.call("POST", f"/v2.1/servers/{server_id}/action", other_user,
                    {"os-stop": None})[0] == 404
    assert api.call("GET", "/v2.1/servers", other_user)[1]["servers"] == []
    assert api.call("GET", f"/v2.1/servers/{server_id}", admin)[0] == 200


def test_list_filters_and_paging(api, user):
    ids = [api.boot(user, name=f"web-{i}")[1]["server"]["id"] for i in range(3)]
    ids.append(api.boot(user, name="db-0")[1]["server"]["id"])
    status, body = api.call("GET", "/v2.1/servers?name=web", user)
    assert len(body["servers"]) == 3
    assert len(api.call("GET", "/v2.1/servers?name=^db", user)[1]["servers"]) == 1
    assert len(api.call("GET", "/v2.1/servers/detail?status=ERROR", user)[1]["servers"]) == 4
    assert api.call("GET", "/v2.1/servers/detail?status=ACTIVE", user)[1]["servers"] == []
    assert api.call("GET", "/v2.1/servers?status=BOGUS", user)[0] == 400
    seen = []
    path = "/v2.1/servers?limit=3"
    while path:
        body = api.call("GET", path, user)[1]
        seen += [s["id"] for s in body["servers"]]
        links = body.get("servers_links")
        path = links[0]["href"].split("localhost", 1)[-1].replace("http://", "") if links else None
    assert sorted(seen) == sorted(ids) and len(seen) == 4
    assert api.call("GET", "/v2.1/servers?marker=nope", user)[0] == 400


def test_quota_show_set_and_enforced(api, user, admin):
    status, body = api.call("GET", "/v2.1/os-quota-sets/demo", user)
    assert body["quota_set"]["instances"] == 5
    assert api.call("GET", "/v2.1/os-quota-sets/other", user)[0] == 403
    assert api.call("PUT", "/v2.1/os-quota-sets/demo", user,
                    {"quota_set": {"instances": 50}})[0] == 403
    assert api.call("PUT", "/v2.1/os-quota-sets/demo", admin,
                    {"quota_set": {"bogus": 1}})[0] == 400
    status, body = api.call("PUT", "/v2.1/os-quota-sets/demo", admin,
                            {"quota_set": {"instances": 2, "ram": 1000}})
    assert status == 200 and body["quota_set"]["instances"] == 2
    assert api.boot(user)[0] == 202
    assert api.boot(user)[0] == 202
    status, body = api.boot(user)
    assert status == 403 and "Quota exceeded for instances" in body["forbidden"]["message"]
    usage = api.call("GET", "/v2.1/os-quota-sets/demo?usage=true", user)[1]["quota_set"]
    assert usage["instances"] == {"limit": 2, "in_use": 2, "reserved": 0}


def test_hypervisors_and_services_admin_only_and_disable(api, user, admin):
    api.register("h1")
    assert api.call("GET", "/v2.1/os-hypervisors", user)[0] == 403
    status, body = api.call("GET", "/v2.1/os-hypervisors/detail", admin)
    hv = body["hypervisors"][0]
    assert hv["state"] == "up" and hv["status"] == "enabled" and hv["vcpus"] == 4
    service = api.call("GET", "/v2.1/os-services", admin)[1]["services"][0]
    status, body = api.call("PUT", f"/v2.1/os-services/{service['id']}", admin,
                            {"status": "disabled", "disabled_reason": "maintenance"})
    assert status == 200 and body["service"]["disabled_reason"] == "maintenance"
    hv = api.call("GET", "/v2.1/os-hypervisors/detail", admin)[1]["hypervisors"][0]
    assert hv["status"] == "disabled"
    server_id = api.boot(user)[1]["server"]["id"]
    assert "No valid host" in server_of(api, user, server_id)["fault"]["message"]
    status, body = api.call("PUT", "/v2.1/os-services/enable", admin,
                            {"host": "h1", "binary": "nova-compute"})
    assert status == 200 and body["service"]["status"] == "enabled"
    assert api.call("PUT", "/v2.1/os-services/disable-log-reason", admin,
                    {"host": "nope", "binary": "nova-compute",
                     "disabled_reason": "x"})[0] == 404


def test_hypervisor_uptime_and_load_from_the_last_heartbeat(api, user, admin):
    api.register("h1")  # an agent that reports no load (older agents)
    hv_id = api.call("GET", "/v2.1/os-hypervisors", admin)[1]["hypervisors"][0]["id"]
    status, body = api.call("GET", f"/v2.1/os-hypervisors/{hv_id}/uptime", admin)
    assert status == 200 and body["hypervisor"]["uptime"] is None
    api.register("h1", uptime_seconds=2 * 86400 + 3 * 3600 + 4 * 60,
                 load_average=[0.5, 0.25, 1.0])
    status, body = api.call("GET", f"/v2.1/os-hypervisors/{hv_id}/uptime", admin)
    assert status == 200 and body["hypervisor"]["hypervisor_hostname"] == "h1"
    assert body["hypervisor"]["uptime"].endswith(
        " up 2 days,  3:04,  0 users,  load average: 0.50, 0.25, 1.00")
    detail = api.call("GET", "/v2.1/os-hypervisors/detail", admin)[1]["hypervisors"][0]
    assert detail["uptime"] == body["hypervisor"]["uptime"]
    assert api.call("GET", f"/v2.1/os-hypervisors/{hv_id}/uptime", user)[0] == 403
    assert api.call("GET", "/v2.1/os-hypervisors/999/uptime", admin)[0] == 404
    assert api.call("GET", "/v2.1/os-hypervisors/x/uptime", admin)[0] == 404
    # a malformed load is kept as unknown, the heartbeat itself is taken
    status, _ = api.register("h1", uptime_seconds="long", load_average=[1, "x", 2])
    assert status == 200
    assert api.call("GET", f"/v2.1/os-hypervisors/{hv_id}/uptime", admin)[1][
        "hypervisor"]["uptime"] is None


def test_power_action_state_checks(api, user):
    api.register("h1")
    server_id = make_active(api, user)
    path = f"/v2.1/servers/{server_id}/action"
    assert api.call("POST", path, user, {"os-start": None})[0] == 409  # already ACTIVE
    assert api.call("POST", path, user, {"reboot": {"type": "GENTLE"}})[0] == 400
    assert api.call("POST", path, user, {"explode": None})[0] == 400
    assert api.call("POST", path, user, raw=b"nope")[0] == 400


def test_restart_reconciliation_and_stale_host_monitor(api, user):
    api.register("h1", boot_id="A")
    active = make_active(api, user, name="kept")
    vanished = make_active(api, user, name="vanished")
    building = api.boot(user, name="building")[1]["server"]["id"]
    api.core.repo.update_server(building, vm_state=states.BUILDING,
                                task_state=states.SPAWNING, host="h1", fault_message=None)
    stray = "99999999-9999-4999-8999-999999999999"
    status, body = api.register("h1", boot_id="B",
                                instances={active: states.SHUTDOWN, stray: states.RUNNING})
    assert body["delete"] == [stray]
    assert server_of(api, user, active)["status"] == "SHUTOFF"
    assert "vanished" in server_of(api, user, vanished)["fault"]["message"]
    assert "restarted" in server_of(api, user, building)["fault"]["message"]
    # A host that stops heartbeating: its BUILD servers go to ERROR after the window.
    api.register("h2", boot_id="C")
    slow = api.boot(user, name="slow")[1]["server"]["id"]
    api.core.repo.update_server(slow, vm_state=states.BUILDING, task_state=states.SPAWNING,
                                host="h2", fault_message=None)
    api.core.conductor.monitor_once(now=time.time() + 5)
    assert server_of(api, user, slow)["status"] == "BUILD"
    api.core.conductor.monitor_once(now=time.time() + 60)
    assert "stopped responding" in server_of(api, user, slow)["fault"]["message"]


def test_usage_report(api, user, admin):
    api.register("h1")
    server_id = make_active(api, user)
    now = time.time()
    api.core.repo.update_server(server_id, created_at=now - 7200)
    start = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now - 3600))
    status, body = api.call("GET", f"/v2.1/os-simple-tenant-usage/demo?start={start}", user)
    usage = body["tenant_usage"]
    assert 0.99 < usage["total_hours"] < 1.01
    assert 127 < usage["total_memory_mb_usage"] < 129
    assert usage["server_usages"][0]["instance_id"] == server_id
    assert api.call("GET", "/v2.1/os-simple-tenant-usage/demo?start=yesterday", user)[0] == 400
    assert api.call("GET", "/v2.1/os-simple-tenant-usage", user)[0] == 403
    status, body = api.call("GET", "/v2.1/os-simple-tenant-usage?detailed=1", admin)
    assert body["tenant_usages"][0]["tenant_id"] == "demo"


def test_agent_calls_are_refused_when_replayed_or_signed_for_another_target(api):
    body = {"availability_zone": "nova", "agent_url": "http://127.0.0.1:1", "boot_id": "b",
            "hypervisor_type": "TEST", "vcpus": 1, "memory_mb": 512, "local_gb": 1,
            "instances": {}, "building": []}
    path = "/internal/v1/hosts/h9"
    raw = json.dumps(body).encode()
    captured = sign_headers(api.service_secret, "PUT", API_TARGET, path, raw)
    assert api.signed("PUT", path, body, headers=captured)[0] == 200
    status, answer = api.signed("PUT", path, body, headers=captured)
    assert status == 401 and "replayed" in answer["unauthorized"]["message"]
    for_agent = sign_headers(api.service_secret, "PUT", agent_target("h9"), path, raw)
    status, answer = api.signed("PUT", path, body, headers=for_agent)
    assert status == 401 and "another target" in answer["unauthorized"]["message"]
    stale = sign_headers(api.service_secret, "PUT", API_TARGET, path, raw,
                         now=time.time() - 3600)
    assert api.signed("PUT", path, body, headers=stale)[0] == 401


@pytest.mark.parametrize("name", ["h\U000275e9", "h 1", "h\x01", "x" * 256])
def test_a_host_name_a_signature_header_cannot_carry_is_refused(api, name):
    """The API signs its calls to an agent for `agent:<host>`: a host reported under a name
    no HTTP header can carry would make every call to it fail (found by the fuzz test)."""
    status, answer = api.register(quote(name, safe=""))
    assert status == 400 and "host name" in json.dumps(answer)
    assert api.core.hosts.get_host(name) is None
    assert api.register("hv-7.rack_2")[0] == 200


def test_build_failed_without_retry_goes_straight_to_error(api, user):
    api.register("h1")
    api.register("h2")
    server_id = api.boot(user)[1]["server"]["id"]
    api.core.repo.update_server(server_id, vm_state=states.BUILDING,
                                task_state=states.SPAWNING, host="h1", fault_message=None,
                                attempted_hosts=["h1"])
    event = {"host": "h1", "event": "build_failed", "retry": False,
             "message": "image checksum mismatch"}
    assert api.signed("POST", f"/internal/v1/servers/{server_id}/events", event)[0] == 200
    server = api.core.repo.get_server(server_id)
    assert server["vm_state"] == states.ERROR and server["attempted_hosts"] == ["h1"]
    assert "image checksum mismatch" in server["fault_message"]


def test_private_flavors_are_for_admins_only(api, user, admin):
    spec = {"flavor": {"name": "p1.secret", "id": "secret", "ram": 128, "vcpus": 1, "disk": 1,
                       "os-flavor-access:is_public": False}}
    status, body = api.call("POST", "/v2.1/flavors", admin, spec)
    assert status == 200 and body["flavor"]["os-flavor-access:is_public"] is False
    bad = {"flavor": {**spec["flavor"], "id": "x", "name": "x",
                      "os-flavor-access:is_public": "no"}}
    assert api.call("POST", "/v2.1/flavors", admin, bad)[0] == 400
    for path in ("/v2.1/flavors", "/v2.1/flavors/detail"):
        assert "secret" not in {f["id"] for f in api.call("GET", path, user)[1]["flavors"]}
        assert "secret" in {f["id"] for f in api.call("GET", path, admin)[1]["flavors"]}
    assert api.call("GET", "/v2.1/flavors/secret", user)[0] == 404
    assert api.call("GET", "/v2.1/flavors/secret", admin)[0] == 200
    private_only = api.call("GET", "/v2.1/flavors?is_public=false", admin)[1]["flavors"]
    assert [f["id"] for f in private_only] == ["secret"]
    public_only = api.call("GET", "/v2.1/flavors?is_public=true", admin)[1]["flavors"]
    assert "secret" not in {f["id"] for f in public_only} and len(public_only) >= 4
    assert api.call("GET", "/v2.1/flavors?is_public=false", user)[1]["flavors"] != []
    assert api.call("GET", "/v2.1/flavors?is_public=maybe", admin)[0] == 400
    status, body = api.boot(user, flavor="secret")
    assert status == 400 and "could not be found" in body["badRequest"]["message"]
    assert api.call("GET", "/v2.1/servers/detail", user)[1]["servers"] == []
    assert api.boot(admin, flavor="secret")[0] == 202


def test_name_filter_is_a_safe_regex(api, user):
    for name in ("web-1", "web-22", "db-0", "a" * 255):
        assert api.boot(user, name=name)[0] == 202

    def listed(query):
        servers = api.call("GET", f"/v2.1/servers?{query}", user)[1]["servers"]
        return sorted(s["name"] for s in servers)

    assert listed("name=%5Eweb-%5Cd%2B%24") == ["web-1", "web-22"]  # ^web-\d+$
    assert listed("name=db%7C22") == ["db-0", "web-22"]  # db|22
    # Patterns that make a backtracking engine take forever answer at once here.
    assert listed("name=%28a%2B%29%2B%24") == ["a" * 255]  # (a+)+$
    assert listed("name=%28a%7Ca%29%2A%21") == []  # (a|a)*!
    for bad in ("%28", "%5C1", "%28%3F%3Da%29", "a%7B999%7D", "x" * 256):
        status, body = api.call("GET", f"/v2.1/servers?name={bad}", user)
        assert status == 400 and "Invalid name filter" in body["badRequest"]["message"]
