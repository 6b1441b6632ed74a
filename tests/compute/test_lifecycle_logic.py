"""Day-2 operations without sockets: the state machine, backup rotation, host claims for
moves, and the instance action records, on a real SQLite file."""
from __future__ import annotations

import json

import pytest
from webob import Request

from compute import states
from compute.api.server_actions import microversion
from compute.db import Database
from compute.hosts import HostRepo
from compute.image_records import to_rotate
from compute.instance_actions import ActionLog
from compute.lifecycle import ALLOWED, may_start
from compute.move_claims import claim_move, undo_move
from compute.repo import Repo
from compute.scheduler import Policy

POLICY = Policy(cpu_allocation_ratio=4.0, ram_allocation_ratio=1.0, disk_allocation_ratio=1.0,
                weigher="spread")


@pytest.mark.parametrize("vm_state, task, status", [
    (states.ACTIVE, None, "ACTIVE"),
    (states.ACTIVE, states.IMAGE_SNAPSHOT, "ACTIVE"),
    (states.ACTIVE, states.REBUILDING, "REBUILD"),
    (states.ERROR, states.REBUILDING, "REBUILD"),
    (states.ACTIVE, states.RESIZE_PREP, "RESIZE"),
    (states.STOPPED, states.RESIZE_FINISH, "RESIZE"),
    (states.RESIZED, None, "VERIFY_RESIZE"),
    (states.RESIZED, states.RESIZE_REVERTING, "REVERT_RESIZE"),
    (states.SHELVED, None, "SHELVED"),
    (states.SHELVED_OFFLOADED, None, "SHELVED_OFFLOADED"),
    (states.SHELVED_OFFLOADED, states.UNSHELVING, "SHELVED_OFFLOADED"),
    (states.STOPPED, states.SHELVING, "SHUTOFF"),
])
def test_status_of_day2_states(vm_state, task, status):
    assert states.status_of(vm_state, task) == status
    assert status in states.STATUS_FILTERS


def test_state_machine_allows_each_operation_only_from_its_states():
    def server(vm_state, task=None):
        return {"vm_state": vm_state, "task_state": task}

    assert may_start(server(states.ACTIVE), "createImage")
    assert not may_start(server(states.ACTIVE, states.IMAGE_SNAPSHOT), "createImage")
    assert not may_start(server(states.SHELVED_OFFLOADED), "createImage")
    assert may_start(server(states.SHELVED_OFFLOADED), "unshelve")
    assert not may_start(server(states.ACTIVE), "unshelve")
    assert not may_start(server(states.SHELVED_OFFLOADED), "shelveOffload")
    assert may_start(server(states.RESIZED), "confirmResize")
    assert not may_start(server(states.ACTIVE), "confirmResize")
    assert not may_start(server(states.RESIZED), "resize")
    assert may_start(server(states.ERROR), "rebuild") and may_start(server(states.ERROR),
                                                                    "evacuate")
    assert not may_start(server(states.BUILDING), "migrate")
    for operation, allowed in ALLOWED.items():
        assert states.DELETED not in allowed and states.BUILDING not in allowed, operation


def test_rotation_keeps_the_newest_and_the_one_just_made():
    backups = [{"id": "a", "created_at": "2024-01-01T00:00:01Z"},
               {"id": "b", "created_at": "2024-01-01T00:00:03Z"},
               {"id": "c", "created_at": "2024-01-01T00:00:02Z"},
               {"id": "d", "created_at": "2024-01-01T00:00:03Z"}]
    assert sorted(to_rotate(backups, 2, newest="b")) == ["a", "c"]
    assert sorted(to_rotate(backups, 1, newest="b")) == ["a", "c", "d"]
    assert "a" not in to_rotate(backups, 1, newest="a")
    assert sorted(to_rotate(backups, 0, newest="b")) == ["a", "b", "c", "d"]
    assert to_rotate(backups, 10) == []


def test_microversion_headers():
    def of(**headers):
        return microversion(Request.blank("/", headers=headers))

    assert of() == (2, 1)
    assert of(**{"OpenStack-API-Version": "compute 2.45"}) == (2, 45)
    assert of(**{"X-OpenStack-Nova-API-Version": "2.60"}) == (2, 60)
    assert of(**{"OpenStack-API-Version": "compute latest"}) >= (2, 45)
    assert of(**{"OpenStack-API-Version": "compute banana"}) == (2, 1)


def _db(tmp_path):
    db = Database(str(tmp_path / "compute.db"))
    hosts = HostRepo(db)
    for name in ("h1", "h2"):
        hosts.record_heartbeat({"host": name, "availability_zone": "nova",
                                "agent_url": "http://127.0.0.1:1", "vcpus": 4,
                                "memory_mb": 1024, "local_gb": 20, "hypervisor_type": "QEMU",
                                "boot_id": "b"})
    now = 1.0
    with db.write() as conn:
        conn.execute(
            "INSERT INTO servers (id, name, project_id, user_id, image_ref, flavor_id, vcpus,"
            " ram, disk, vm_state, task_state, host, created_at, updated_at)"
            " VALUES ('s1', 'vm', 'p', 'u', 'img', '1', 1, 128, 1, 'active', 'resize_prep',"
            " 'h1', ?, ?)", (now, now))
    return db, hosts


def test_move_claim_moves_the_usage_and_undo_puts_it_back(tmp_path):
    db, hosts = _db(tmp_path)
    new = {"id": "2", "vcpus": 1, "ram": 256, "disk": 2}
    host = claim_move(db, "s1", states.RESIZE_PREP, states.RESIZE_MIGRATING, POLICY, 1e12,
                      flavor=new, exclude=frozenset({"h1"}), keep_source=True)
    assert host["name"] == "h2"
    usage = hosts.usage()
    assert "h1" not in usage and usage["h2"]["ram"] == 256
    server = Repo(db).get_server("s1")
    assert server["old_host"] == "h1" and json.loads(server["old_flavor"])["ram"] == 128
    assert server["task_state"] == states.RESIZE_MIGRATING and server["flavor_id"] == "2"
    # a claim only from the task it expects; nothing fits a host excluded or too small
    assert claim_move(db, "s1", states.RESIZE_PREP, states.RESIZE_MIGRATING, POLICY, 1e12,
                      flavor=new) is None
    assert undo_move(db, "s1", states.RESIZE_MIGRATING, task_state=None)
    server = Repo(db).get_server("s1")
    assert (server["host"], server["ram"], server["old_host"]) == ("h1", 128, None)
    assert hosts.usage()["h1"]["ram"] == 128 and "h2" not in hosts.usage()
    Repo(db).update_server("s1", task_state=states.RESIZE_PREP)
    huge = {"id": "x", "vcpus": 1, "ram": 4096, "disk": 1}
    assert claim_move(db, "s1", states.RESIZE_PREP, states.RESIZE_MIGRATING, POLICY, 1e12,
                      flavor=huge) is None
    assert claim_move(db, "s1", states.RESIZE_PREP, states.RESIZE_MIGRATING, POLICY, 1e12,
                      flavor=new, force_host="h1")["name"] == "h1"  # same host, forced


def test_instance_actions_record_start_finish_and_errors(tmp_path):
    db = Database(str(tmp_path / "compute.db"))
    log = ActionLog(db)
    ActionLog(db)  # the tables are made once, a second log reuses them
    log.start("s1", "create", "req-1", "p", "u", host=None)
    log.start("s1", "stop", "req-2", "p", "u", host="h1")
    assert log.finish("s1", "create", True, host="h1")
    assert not log.finish("s1", "create", True)  # finished already
    assert log.finish("s1", "stop", False, "agent unreachable")
    assert not log.finish("s2", "stop", True)
    listed = log.list("s1")
    assert [a["request_id"] for a in listed] == ["req-2", "req-1"]
    stop = log.get("s1", "req-2")
    assert stop["message"] == "Error" and stop["user_id"] == "u"
    assert stop["events"][0]["event"] == "compute_stop_instance"
    assert stop["events"][0]["result"] == "Error" and stop["events"][0]["finish_time"]
    create = log.get("s1", "req-1")
    assert create["message"] is None and create["events"][0]["result"] == "Success"
    assert create["events"][0]["host"] == "h1"
    assert log.get("s1", "req-3") is None and log.get("s2", "req-1") is None
