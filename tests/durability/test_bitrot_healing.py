"""Bit rot heals fast (issue 17, item 11), on a real cluster with the daemons' own loops.

A private all-in-one cluster whose daemon loops run with short intervals (object replicator
every `REPLICATION_INTERVAL` s; the object auditor every `AUDIT_INTERVAL` s, or not at all
for the read tests, so that only the read can find the damage). Each test puts an object,
damages one replica on disk (a body byte, a byte of its CRC table, or its metadata), then:

* reads it once through the proxy (whole or ranged): the client gets the right bytes, the
  damaged replica is quarantined by that read, and three good replicas are back within one
  replication interval;
* or reads nothing: three good replicas are back within one auditor pass plus one replication
  pass.

Replicas are checked on disk (`heal_support.good_replica_count`), never through a server,
since a read through a server would itself find and quarantine the damage. The deadlines
are the intervals plus a margin for a loaded machine; there is no other timing assert.
"""
from __future__ import annotations

import hashlib
import os
import shutil

import pytest
from swiftclient import client as swift

from storage.objects.metadata import XATTR_NAME, read_layout
from tests.conftest import start_cluster, stop_cluster
from tests.durability.heal_support import good_replica_count, object_states, run_daemon_loops
from tests.integration.support import wait_until

pytestmark = pytest.mark.timeout(300)

REPLICATION_INTERVAL = 5.0
AUDIT_INTERVAL = 10.0
MARGIN = 15.0  # a pass's own duration and a busy machine
CONTAINER = "bitrot"
SIZE = 200_000  # four 64 KiB blocks, the last one short


@pytest.fixture(scope="module")
def rot_cluster(tmp_path_factory):
    data_dir = str(tmp_path_factory.mktemp("brume-bitrot"))
    handle = start_cluster(data_dir)
    try:
        yield handle
    finally:
        stop_cluster(handle)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def conn(rot_cluster):
    key = rot_cluster.credentials["test:tester"]
    connection = swift.Connection(rot_cluster.auth_url, "test:tester", key, retries=0,
                                  timeout=30)
    connection.put_container(CONTAINER)
    return connection


def daemon_loops(cluster, auditor: bool) -> None:
    run_daemon_loops(cluster, {
        "object-replicator": {"interval": str(REPLICATION_INTERVAL)},
        "object-auditor": {"enabled": str(auditor).lower(), "interval": str(AUDIT_INTERVAL)},
    })


def damage(path: str, where: str) -> None:
    layout = read_layout(path)
    if where == "metadata":
        os.setxattr(path, XATTR_NAME, b"\xc1 not msgpack")
        return
    offset = 70_000 if where == "body" else layout.body_length + 6  # block 1 or its CRC
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0x01]))


class Damaged:
    """One object with three good replicas, then one of them (the one the proxy reads first)
    damaged on disk."""

    def __init__(self, cluster, conn, name: str, where: str):
        self.cluster = cluster
        self.account = conn.get_auth()[0].rstrip("/").rsplit("/", 1)[1]
        self.name = name
        self.body = os.urandom(SIZE)
        try:
            conn.put_object(CONTAINER, name, self.body)
        except swift.ClientException as exc:  # say why, from the servers' own logs
            logs = "\n".join(f"--- {n}\n{cluster.log_tail(n)}" for n in
                             ["proxy", *(f"object-{i}" for i in cluster.layout.nodes)])
            raise AssertionError(f"set-up PUT failed: {exc}\n{logs}") from exc
        self.data_name = wait_until(self._written, timeout=30,
                                    message="the PUT did not reach every primary")
        assert self.good() == 3
        self.first = cluster.object_paths(self.account, CONTAINER, name)[0]
        self.path = os.path.join(self.first.hash_dir, self.data_name)
        damage(self.path, where)
        assert self.good() == 2

    def _written(self) -> str | None:
        """The .data name once every primary holds it (the PUT answers after a majority)."""
        locations = self.cluster.object_paths(self.account, CONTAINER, self.name)
        names = [[n for n in os.listdir(loc.hash_dir) if n.endswith(".data")]
                 if os.path.isdir(loc.hash_dir) else [] for loc in locations]
        return names[0][0] if all(n == names[0] and len(n) == 1 for n in names) else None

    def good(self) -> int:
        return good_replica_count(self.cluster, self.account, CONTAINER, self.name,
                                  self.data_name)

    def quarantined(self) -> bool:
        qdir = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
            self.first.hash_dir)))), "quarantined", "objects")
        digest = os.path.basename(self.first.hash_dir)
        return os.path.isdir(qdir) and any(n.startswith(digest) for n in os.listdir(qdir))

    def wait_healed(self, deadline: float, why: str) -> None:
        wait_until(lambda: self.good() == 3, timeout=deadline, interval=0.2,
                   message=f"three good replicas not back within {deadline}s {why}")
        want = hashlib.md5(self.body).hexdigest()
        states = object_states(self.cluster, self.account, CONTAINER, self.name)
        assert [(s[0], s[2]) for s in states] == [(200, want)] * 3


@pytest.mark.parametrize("where", ["body", "crc table", "metadata"])
def test_one_get_heals_within_one_replication_interval(rot_cluster, conn, where):
    daemon_loops(rot_cluster, auditor=False)  # only the read can find the damage
    obj = Damaged(rot_cluster, conn, f"get-{where.replace(' ', '-')}", where)
    _headers, got = conn.get_object(CONTAINER, obj.name)
    assert got == obj.body  # served by another replica; never the damaged bytes
    assert obj.quarantined() and not os.path.exists(obj.path)  # by that very read
    obj.wait_healed(REPLICATION_INTERVAL + MARGIN, "of the GET that found the damage")


def test_ranged_get_touching_the_bad_block_heals_too(rot_cluster, conn):
    daemon_loops(rot_cluster, auditor=False)
    obj = Damaged(rot_cluster, conn, "ranged", "body")
    # Blocks 2-3 are fine: that range is served by the damaged replica itself and finds
    # nothing; a range in block 1 finds the damage.
    _headers, got = conn.get_object(CONTAINER, obj.name, headers={"Range": "bytes=140000-"})
    assert got == obj.body[140_000:]
    assert not obj.quarantined() and obj.good() == 2
    _headers, got = conn.get_object(CONTAINER, obj.name, headers={"Range": "bytes=69990-70010"})
    assert got == obj.body[69_990:70_011]
    assert obj.quarantined()
    obj.wait_healed(REPLICATION_INTERVAL + MARGIN, "of the ranged GET that found the damage")


@pytest.mark.parametrize("where", ["body", "crc table"])
def test_without_any_read_heals_within_one_audit_and_one_replication_pass(rot_cluster, conn,
                                                                          where):
    daemon_loops(rot_cluster, auditor=True)
    obj = Damaged(rot_cluster, conn, f"noread-{where.replace(' ', '-')}", where)
    obj.wait_healed(AUDIT_INTERVAL + REPLICATION_INTERVAL + MARGIN, "without any read")
    assert obj.quarantined()
