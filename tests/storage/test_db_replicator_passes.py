"""Which databases a container replicator's pass syncs: real SQLite replicas on three devices,
the peers' side answered in process by the real `REPLICATE` handler (no sockets).

A database unchanged since both peers last had all of its rows is skipped, except on every
`verify_every`-th pass; a new row, a peer that failed, or a ring that places it elsewhere makes
the next pass sync it again.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

import pytest
from webob import Request

from common.http_errors import HTTPError
from storage.databases.broker import ConnectionCache, db_path
from storage.databases.container_db import ContainerBroker
from storage.databases.files import database_stamp
from storage.replication.db_protocol import handle_db_replication
from storage.replication.db_replicator import ContainerReplicator
from storage.replication.wire import OP_HEADER

PART, HASH = 5, "0123456789abcdef0123456789abcdef"


def ts(n) -> str:
    return f"{n:010d}.00000"


def device(name: str) -> dict:
    return {"ip": "127.0.0.1", "port": 6201, "device": name}


@dataclass
class Answer:
    status: int
    body: bytes


class PlacedRing:
    partition_count = 1024

    def __init__(self, devices: list[str]):
        self.nodes = [device(name) for name in devices]

    def get_part_nodes(self, part: int) -> list[dict]:
        return self.nodes


class InProcessNode:
    """The replicator's view of its node: local device `sda`; a request to a peer device runs
    the real REPLICATE handler on that device's files and is recorded."""

    def __init__(self, devices: str):
        self.devices = devices
        self.reclaim_age = 7 * 86400
        self.placement = PlacedRing(["sda", "sdb", "sdc"])
        self.calls: list[tuple[str, str]] = []
        self.failing: set[str] = set()
        self.connections = ConnectionCache(16)

    def ring(self, name: str) -> PlacedRing:
        return self.placement

    def local_devices(self) -> list[str]:
        return ["sda"]

    def is_local(self, node: dict) -> bool:
        return node["device"] == "sda"

    def request(self, node, method, path, headers=None, body=None, **kwargs) -> Answer:
        self.calls.append((node["device"], headers[OP_HEADER]))
        if node["device"] in self.failing:
            return Answer(503, b"")
        if not isinstance(body, bytes):
            body = b"".join(body)
        req = Request.blank(path, method=method, headers=headers, body=body)
        try:
            resp = handle_db_replication(req, self.devices, ContainerBroker,
                                         broker_factory=self.broker)
        except HTTPError as exc:
            return Answer(exc.status, b"")
        return Answer(resp.status_int, resp.body)

    def broker(self, path: str) -> ContainerBroker:
        return ContainerBroker(path, self.connections)


def replica(devices: str, name: str) -> str:
    return db_path(devices, name, "containers", PART, HASH)


@pytest.fixture
def cluster(tmp_path):
    devices = str(tmp_path)
    for name in ("sda", "sdb", "sdc"):
        os.makedirs(os.path.join(devices, name))
    node = InProcessNode(devices)
    replicator = ContainerReplicator(node, {
        "concurrency": 1, "per_diff": 1000, "max_diffs": 100, "verify_every": 4})
    local = ContainerBroker(replica(devices, "sda"), ConnectionCache(16))
    assert local.create("AUTH_test", "c", ts(1))
    local.put_object("o1", ts(2), 1, "text/plain", "etag")
    return node, replicator, local


def one_pass(node, replicator) -> tuple[list, dict]:
    node.calls.clear()
    counts = replicator.run_once()
    return sorted(node.calls), counts


def peer_rows(node, name: str) -> list[str]:
    path = replica(node.devices, name)
    if not os.path.exists(path):
        return []
    return [row["name"] for row in ContainerBroker(path, node.connections).get_items_since(-1, 100)]


def test_unchanged_databases_wait_for_the_verify_pass(cluster):
    node, replicator, local = cluster
    # pass 0 (a verify pass): the peers have no replica, each gets a copy
    calls, counts = one_pass(node, replicator)
    assert calls == [("sdb", "copy"), ("sdb", "sync"), ("sdc", "copy"), ("sdc", "sync")]
    assert counts["copied"] == 2 and peer_rows(node, "sdb") == peer_rows(node, "sdc") == ["o1"]
    # pass 1: nothing changed here since both peers had every row
    calls, counts = one_pass(node, replicator)
    assert calls == [] and counts["unchanged"] == 1
    # a new row: pass 2 sends it to both
    local.put_object("o2", ts(3), 1, "text/plain", "etag")
    calls, counts = one_pass(node, replicator)
    assert calls == [("sdb", "merge_items"), ("sdb", "sync"), ("sdc", "merge_items"),
                     ("sdc", "sync")]
    assert peer_rows(node, "sdb") == peer_rows(node, "sdc") == ["o1", "o2"]
    # pass 3 skips again; a peer loses its replica meanwhile
    shutil.rmtree(os.path.dirname(replica(node.devices, "sdb")))
    assert one_pass(node, replicator)[0] == []
    # pass 4, a verify pass, syncs every database and restores the lost replica
    calls, counts = one_pass(node, replicator)
    assert calls == [("sdb", "copy"), ("sdb", "sync"), ("sdc", "sync")]
    assert peer_rows(node, "sdb") == ["o1", "o2"]
    assert one_pass(node, replicator)[0] == []


def test_a_failed_peer_or_a_new_placement_syncs_again(cluster):
    node, replicator, local = cluster
    node.failing = {"sdc"}
    assert one_pass(node, replicator)[0] == [("sdb", "copy"), ("sdb", "sync"), ("sdc", "sync")]
    # sdc did not answer: the database is not known to be in sync, pass 1 tries again
    node.failing = set()
    calls, _ = one_pass(node, replicator)
    assert calls == [("sdb", "sync"), ("sdc", "copy"), ("sdc", "sync")]
    assert one_pass(node, replicator)[0] == []
    # the ring now places the partition on sdd instead of sdc: it needs the rows
    os.makedirs(os.path.join(node.devices, "sdd"))
    node.placement = PlacedRing(["sda", "sdb", "sdd"])
    calls, _ = one_pass(node, replicator)
    assert calls == [("sdb", "sync"), ("sdd", "copy"), ("sdd", "sync")]
    assert peer_rows(node, "sdd") == ["o1"]


def test_the_stamp_follows_writes_not_reads(cluster):
    node, replicator, local = cluster
    path = local.db_path
    before = database_stamp(path)
    local.get_info()
    local.reclaim(ts(1))  # a write transaction that changes nothing
    assert database_stamp(path) == before
    local.put_object("o2", ts(3), 1, "text/plain", "etag")
    assert database_stamp(path) != before
