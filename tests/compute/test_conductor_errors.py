"""The conductor on a real SQLite file when the database fails: the error surfaces, no
server is left in BUILD or DELETING for good, and a server that is simply gone is no error."""
from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
import uuid

import pytest

from compute import claims, states
from compute.conductor import Conductor
from compute.config import load_api_config
from compute.db import Database
from compute.hosts import HostRepo
from compute.repo import Repo

UNLIMITED = {"instances": -1, "cores": -1, "ram": -1}


@pytest.fixture
def cloud(tmp_path):
    conf_path = tmp_path / "compute-api.conf"
    conf_path.write_text(
        "[server]\napp = compute.api.app:make_app\nbind_port = 8774\n\n"
        f"[compute-api]\ndb_path = {tmp_path / 'compute.db'}\ntoken_secret = t\n"
        "service_secret = s\nagent_timeout = 1\nheartbeat_window = 30\n")
    conf = load_api_config(str(conf_path))
    db = Database(conf["db_path"])
    repo, hosts = Repo(db), HostRepo(db)
    hosts.record_heartbeat({
        "host": "h1", "availability_zone": "nova", "agent_url": "http://127.0.0.1:9",
        "vcpus": 8, "memory_mb": 4096, "local_gb": 100, "hypervisor_type": "TEST",
        "boot_id": "b"})
    conductor = Conductor(db, repo, hosts, conf, spawn=lambda function, *args: function(*args))
    yield conf, db, repo, conductor
    db.close()


def new_server(db, repo, **changes) -> str:
    server_id = str(uuid.uuid4())
    claims.insert_server_within_quota(db, {
        "id": server_id, "name": "s", "project_id": "p", "user_id": "u", "image_ref": "i",
        "flavor_id": "1", "vcpus": 1, "ram": 128, "disk": 1,
    }, UNLIMITED)
    repo.update_server(server_id, **changes)
    return server_id


@contextlib.contextmanager
def servers_table_gone(db_path: str):
    """A real database error for every query of `servers` (another connection renames it)."""
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("ALTER TABLE servers RENAME TO servers_away")
    try:
        yield
    finally:
        other.execute("ALTER TABLE servers_away RENAME TO servers")
        other.close()


def test_build_failed_surfaces_a_database_error_so_the_agent_retries(cloud):
    conf, db, repo, conductor = cloud
    server_id = new_server(db, repo, vm_state=states.BUILDING, task_state=states.SPAWNING,
                           host="h1", attempted_hosts=["h1"])
    with servers_table_gone(conf["db_path"]), pytest.raises(sqlite3.OperationalError):
        conductor.build_failed(server_id, "h1", "disk full", retry=False)
    # The event was not applied: the API answers 500 and the agent sends it again.
    conductor.build_failed(server_id, "h1", "disk full", retry=False)
    server = repo.get_server(server_id)
    assert server["vm_state"] == states.ERROR and "disk full" in server["fault_message"]


def test_build_failed_for_a_deleted_server_is_no_error(cloud):
    _conf, db, repo, conductor = cloud
    server_id = new_server(db, repo, vm_state=states.BUILDING, host="h1")
    repo.mark_deleted(server_id)
    conductor.build_failed(server_id, "h1", "late report")
    conductor.build_failed(str(uuid.uuid4()), "h1", "never existed")


def test_failed_delete_is_logged_and_run_again_by_the_monitor(cloud, caplog):
    conf, db, repo, conductor = cloud
    server_id = new_server(db, repo, vm_state=states.ACTIVE, host="h1",
                           task_state=states.DELETING)
    with servers_table_gone(conf["db_path"]), caplog.at_level(logging.ERROR):
        conductor.spawn(conductor.run_delete, server_id)
    assert any(record.exc_info and record.exc_info[0] is sqlite3.OperationalError
               for record in caplog.records)
    assert repo.get_server(server_id)["task_state"] == states.DELETING
    # The host is alive, so only the monitor can finish it: once the failed run is old enough.
    conductor.monitor_once()
    assert repo.get_server(server_id)["task_state"] == states.DELETING
    later = time.time() + conf["agent_timeout"] + conf["heartbeat_window"] + 1
    with db.write() as conn:  # the heartbeat is as recent as `later`: the host is alive
        conn.execute("UPDATE hosts SET last_heartbeat = ? WHERE name = 'h1'", (later,))
    conductor.monitor_once(now=later)
    assert repo.get_server(server_id, include_deleted=True)["deleted"]


def test_delete_of_a_server_already_gone_is_no_error(cloud, caplog):
    _conf, _db, _repo, conductor = cloud
    with caplog.at_level(logging.ERROR):
        conductor.spawn(conductor.run_delete, str(uuid.uuid4()))
    assert not caplog.records
