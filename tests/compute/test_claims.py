"""Atomic claims and quota checks on a real SQLite file, from competing connections."""
from __future__ import annotations

import threading
import uuid

from compute import claims
from compute.db import Database
from compute.hosts import USAGE_SQL, HostRepo
from compute.quotas import QuotaExceeded
from compute.repo import Repo
from compute.scheduler import Policy

UNLIMITED = {"instances": -1, "cores": -1, "ram": -1}


def register(db, name, memory_mb=1024, vcpus=64):
    HostRepo(db).record_heartbeat({
        "host": name, "availability_zone": "nova", "agent_url": "http://127.0.0.1:9",
        "vcpus": vcpus, "memory_mb": memory_mb, "local_gb": 100, "hypervisor_type": "TEST",
        "boot_id": "b"})


def new_server(db, project="p", quota=None, ram=128):
    server_id = str(uuid.uuid4())
    claims.insert_server_within_quota(db, {
        "id": server_id, "name": "s", "project_id": project, "user_id": "u",
        "image_ref": "i", "flavor_id": "1", "vcpus": 1, "ram": ram, "disk": 1,
    }, quota or UNLIMITED)
    return server_id


def usage_columns_match(db) -> bool:
    summed = {row["host"]: (row["vcpus"], row["ram"], row["disk"], row["instances"])
              for row in db.read(USAGE_SQL)}
    for host in db.read("SELECT * FROM hosts"):
        expected = summed.get(host["name"], (0, 0, 0, 0))
        if (host["vcpus_used"], host["ram_used"], host["disk_used"],
                host["instances"]) != expected:
            return False
    return True


def test_concurrent_claims_never_overcommit(tmp_path):
    path = str(tmp_path / "compute.db")
    db = Database(path)
    register(db, "small", memory_mb=1024)  # room for exactly 8 servers of 128 MiB
    ids = [new_server(db) for _ in range(20)]
    results = []
    start = threading.Barrier(len(ids))

    def claim(server_id):
        own = Database(path)  # a separate connection: real SQLite locking
        start.wait()
        results.append(claims.claim_host(own, server_id, Policy(), window=60))
        own.close()

    threads = [threading.Thread(target=claim, args=(sid,)) for sid in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(1 for r in results if r is not None) == 8
    host = db.read("SELECT * FROM hosts")[0]
    assert host["ram_used"] == 1024 and host["instances"] == 8
    assert usage_columns_match(db)


def test_quota_check_is_atomic_with_the_insert(tmp_path):
    path = str(tmp_path / "compute.db")
    Database(path).close()
    quota = {"instances": 3, "cores": -1, "ram": -1}
    outcomes = []
    start = threading.Barrier(10)

    def boot():
        own = Database(path)
        start.wait()
        try:
            new_server(own, quota=quota)
            outcomes.append("ok")
        except QuotaExceeded:
            outcomes.append("over")
        own.close()

    threads = [threading.Thread(target=boot) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok"] * 3 + ["over"] * 7


def test_usage_columns_follow_retries_and_deletes(tmp_path):
    db = Database(str(tmp_path / "compute.db"))
    repo = Repo(db)
    register(db, "a")
    register(db, "b")
    ids = [new_server(db) for _ in range(6)]
    for server_id in ids:
        assert claims.claim_host(db, server_id, Policy(), window=60) is not None
    assert usage_columns_match(db)
    first = repo.get_server(ids[0])
    assert claims.release_for_retry(db, ids[0], first["host"])
    assert usage_columns_match(db)
    assert claims.claim_host(db, ids[0], Policy(), window=60)["name"] != first["host"]
    repo.mark_deleted(ids[1])
    repo.set_error(ids[2], "boom")
    assert usage_columns_match(db)
    assert sum(h["instances"] for h in db.read("SELECT instances FROM hosts")) == 5


def test_a_database_from_before_kernel_ids_gains_the_columns_on_open(tmp_path):
    import sqlite3

    path = str(tmp_path / "old.db")
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE servers (id TEXT PRIMARY KEY, name TEXT NOT NULL,"
                " project_id TEXT NOT NULL, user_id TEXT NOT NULL, image_ref TEXT NOT NULL,"
                " image_meta TEXT NOT NULL DEFAULT '{}', flavor_id TEXT NOT NULL,"
                " vcpus INTEGER NOT NULL, ram INTEGER NOT NULL, disk INTEGER NOT NULL,"
                " availability_zone TEXT, metadata TEXT NOT NULL DEFAULT '{}',"
                " vm_state TEXT NOT NULL, task_state TEXT, power_state INTEGER NOT NULL"
                " DEFAULT 0, host TEXT, attempted_hosts TEXT NOT NULL DEFAULT '[]',"
                " fault_message TEXT, fault_code INTEGER, fault_created REAL,"
                " created_at REAL NOT NULL, updated_at REAL NOT NULL, launched_at REAL,"
                " terminated_at REAL, deleted INTEGER NOT NULL DEFAULT 0)")
    old.execute("INSERT INTO servers (id, name, project_id, user_id, image_ref, flavor_id,"
                " vcpus, ram, disk, vm_state, created_at, updated_at)"
                " VALUES ('old', 'n', 'p', 'u', 'i', '1', 1, 128, 1, 'active', 0, 0)")
    old.commit()
    old.close()
    db = Database(path)
    Database(path).close()  # a second opener finds the columns there
    assert Repo(db).get_server("old")["kernel_id"] is None
    server_id = new_server(db)
    assert Repo(db).get_server(server_id)["ramdisk_id"] is None
