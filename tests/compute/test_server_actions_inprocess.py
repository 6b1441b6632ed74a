"""Day-2 server actions through the in-process compute API (real SQLite, the session
cluster's real image service; the agents are unreachable, so every operation that reaches
one fails there): 400s for bad input, 403s for policy, 409s for the wrong state, failures
that leave the server where it was (and no image behind), and the instance actions."""
from __future__ import annotations

import time

import pytest

from compute import states
from tests.compute.support import http
from tests.compute.test_api_inprocess import make_active, server_of

pytestmark = pytest.mark.cluster


def act(api, tok, server_id, body):
    return api.call("POST", f"/v2.1/servers/{server_id}/action", tok, body)


def test_bad_input_is_400_and_policy_403(api, user, admin):
    api.register("h1")
    server_id = make_active(api, user)
    cases = [
        {"createImage": None},
        {"createImage": {}},
        {"createImage": {"name": "x", "metadata": {"k": 1}}},
        {"createBackup": {"name": "b", "backup_type": "daily"}},
        {"createBackup": {"name": "b", "backup_type": "daily", "rotation": -1}},
        {"createBackup": {"name": "b", "backup_type": "", "rotation": 1}},
        {"createBackup": {"name": "b", "backup_type": "daily", "rotation": True}},
        {"rebuild": {}},
        {"rebuild": {"imageRef": "not-an-id"}},
        {"rebuild": {"imageRef": "44444444-4444-4444-8444-444444444444"}},
        {"resize": {}},
        {"resize": {"flavorRef": "no-such-flavor"}},
        {"resize": {"flavorRef": "1"}},  # the same flavor
        {"unshelve": "zone"},
    ]
    for body in cases:
        status, answer = act(api, user, server_id, body)
        assert status == 400, (body, status, answer)
    assert act(api, user, server_id, {"migrate": None})[0] == 403
    assert act(api, user, server_id, {"evacuate": {}})[0] == 403
    assert act(api, admin, server_id, {"migrate": {"host": "nowhere"}})[0] == 400
    assert act(api, admin, server_id, {"migrate": {"host": "h1"}})[0] == 400
    assert act(api, admin, server_id, {"evacuate": {"host": "nowhere"}})[0] == 400
    # its host is alive: nothing to evacuate
    assert act(api, admin, server_id, {"evacuate": {}})[0] == 400
    assert server_of(api, user, server_id)["status"] == "ACTIVE"


def test_wrong_state_is_409(api, user, admin):
    api.register("h1")
    server_id = make_active(api, user)
    for body in ({"confirmResize": None}, {"revertResize": None}, {"unshelve": None},
                 {"shelveOffload": None}):
        status, answer = act(api, user, server_id, body)
        assert status == 409, (body, answer)
        assert "conflictingRequest" in answer
    api.core.repo.update_server(server_id, task_state=states.IMAGE_SNAPSHOT)
    for body in ({"createImage": {"name": "x"}}, {"shelve": None}, {"os-stop": None},
                 {"resize": {"flavorRef": "2"}}):
        assert act(api, user, server_id, body)[0] == 409, body
    api.core.repo.update_server(server_id, task_state=None, vm_state=states.SHELVED_OFFLOADED,
                                host=None, shelved_image_id=None)
    assert act(api, user, server_id, {"unshelve": None})[0] == 409  # no shelved image
    assert act(api, user, server_id, {"createImage": {"name": "x"}})[0] == 409
    assert act(api, admin, server_id, {"migrate": None})[0] == 409
    assert server_of(api, user, server_id)["status"] == "SHELVED_OFFLOADED"


def test_failed_snapshot_and_shelve_leave_the_server_and_no_image(api, user, cloud_settings):
    api.register("h1")
    server_id = make_active(api, user, name="snap-me")
    status, answer = api.call("POST", f"/v2.1/servers/{server_id}/action", user,
                              {"createImage": {"name": "doomed-snap"}})
    assert status == 202, answer
    image_url = api.core.conf["image_url"]
    # the API answered the image's URL; the agent could not be reached: image gone again
    status, listing = http("GET", f"{image_url}/v2/images?name=doomed-snap", user)
    assert status == 200 and listing["images"] == [], listing
    assert act(api, user, server_id, {"shelve": None})[0] == 202
    status, listing = http("GET", f"{image_url}/v2/images?name=snap-me-shelved", user)
    assert listing["images"] == []
    server = server_of(api, user, server_id)
    assert server["status"] == "ACTIVE" and server["OS-EXT-STS:task_state"] is None
    actions = api.call("GET", f"/v2.1/servers/{server_id}/os-instance-actions",
                       user)[1]["instanceActions"]
    assert [a["action"] for a in actions] == ["shelve", "createImage", "create"]
    for action in actions[:2]:
        assert action["message"] == "Error" and action["request_id"].startswith("req-")
        detail = api.call("GET", f"/v2.1/servers/{server_id}/os-instance-actions/"
                          f"{action['request_id']}", user)[1]["instanceAction"]
        assert detail["events"][0]["result"] == "Error"
        assert "traceback" not in detail["events"][0]


def test_resize_without_another_host_and_evacuation_to_a_dead_agent(api, user, admin):
    api.register("h1")
    server_id = make_active(api, user)
    assert act(api, user, server_id, {"resize": {"flavorRef": "2"}})[0] == 202
    server = api.core.repo.get_server(server_id)
    assert (server["vm_state"], server["task_state"], server["flavor_id"]) == (
        states.ACTIVE, None, "1")
    actions = api.call("GET", f"/v2.1/servers/{server_id}/os-instance-actions",
                       user)[1]["instanceActions"]
    assert actions[0]["action"] == "resize" and actions[0]["message"] == "Error"
    # h1 dies; h2 registers (its agent unreachable): the evacuation fails there → ERROR
    with api.core.db.write() as conn:
        conn.execute("UPDATE hosts SET last_heartbeat = ? WHERE name = 'h1'",
                     (time.time() - 3600,))
    shown = api.call("GET", f"/v2.1/servers/{server_id}", admin)[1]["server"]
    assert shown["host_status"] == "DOWN"
    assert server_of(api, user, server_id)["host_status"] == "UNKNOWN"
    assert act(api, admin, server_id, {"evacuate": {}})[0] == 200  # but no other host
    server = server_of(api, admin, server_id)
    assert server["status"] == "ACTIVE" and server["OS-EXT-SRV-ATTR:host"] == "h1"
    api.register("h2")
    status, answer = act(api, admin, server_id, {"evacuate": {}})
    assert status == 200, answer
    server = server_of(api, admin, server_id)
    assert server["status"] == "ERROR" and "Evacuation to h2 failed" in server["fault"]["message"]
    assert server["OS-EXT-SRV-ATTR:host"] == "h2"


def test_resize_past_the_projects_quota_is_403_and_changes_nothing(api, user):
    api.register("h1")
    api.register("h2")
    server_id = make_active(api, user)
    project = api.core.repo.get_server(server_id)["project_id"]
    used = api.core.quotas.usage(project)["ram"]
    api.core.quotas.set_limits(project, {"ram": used + 64})  # m1.small needs +128 MB
    status, answer = act(api, user, server_id, {"resize": {"flavorRef": "2"}})
    assert status == 403 and "Quota exceeded for ram" in str(answer), answer
    server = api.core.repo.get_server(server_id)
    assert (server["vm_state"], server["task_state"], server["flavor_id"]) == (
        states.ACTIVE, None, "1")
