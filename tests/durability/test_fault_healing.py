"""Fault tests of issue 4 on a real cluster: the daemons heal every kind of damage.

One private all-in-one cluster for the module (its daemon loops stopped; each test drives
passes with `--once`), because these tests stop nodes, wipe a device and change the rings.
Ring changes run last.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time

import pytest
from swiftclient import client as swift

from ring.builder import RingBuilder
from tests.conftest import start_cluster, stop_cluster
from tests.durability.heal_support import (
    Reader,
    container_listings,
    device_root,
    direct_request,
    hash_dir_files,
    heal,
    node_number,
    object_states,
    on_primaries_only,
    replicas_agree,
    run_pass,
    stop_daemon_loops,
)
from tests.integration.support import wait_until

pytestmark = pytest.mark.timeout(400)


@pytest.fixture(scope="module")
def heal_cluster(tmp_path_factory):
    data_dir = str(tmp_path_factory.mktemp("brume-heal"))
    handle = start_cluster(data_dir)
    try:
        stop_daemon_loops(handle)
        yield handle
    finally:
        stop_cluster(handle)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster(heal_cluster):
    """This module's private cluster (not the session-wide one of tests/conftest.py)."""
    return heal_cluster


@pytest.fixture(scope="module")
def conn(cluster):
    key = cluster.credentials["test:tester"]
    return swift.Connection(cluster.auth_url, "test:tester", key, retries=0, timeout=30)


def account_of(conn) -> str:
    return conn.get_auth()[0].rstrip("/").rsplit("/", 1)[1]


def put_objects(conn, container: str, count: int, size: int = 100) -> dict[str, bytes]:
    conn.put_container(container)
    bodies = {f"obj-{i:03d}": os.urandom(size) for i in range(count)}
    for name, body in bodies.items():
        conn.put_object(container, name, body)
    return bodies


def async_pendings(cluster, node: int) -> int:
    spec = cluster.spec(node, "object")
    status, _headers, body = direct_request(cluster, spec.ip, spec.port, "GET", "/recon/async")
    assert status == 200
    return json.loads(body)["async_pending"]


def account_counts(cluster, account: str, container: str) -> list:
    """The object count each account replica lists for `container`."""
    part, nodes = cluster.ring("account").get_nodes(account)
    counts = []
    for dev in nodes:
        status, _headers, body = direct_request(
            cluster, dev["ip"], dev["port"], "GET",
            f"/{dev['device']}/{part}/{account}?format=json")
        rows = json.loads(body) if status == 200 else []
        counts.append(next((r["count"] for r in rows if r["name"] == container), None))
    return counts


def all_agree(cluster, account, container, names, status) -> bool:
    return all(replicas_agree(cluster, account, container, n, status) for n in names)


# ----- 5. a container database replica is deleted
def test_deleted_container_db_replica_is_restored(cluster, conn):
    account = account_of(conn)
    bodies = put_objects(conn, "dbheal", 12)
    ring = cluster.ring("container")
    part, nodes = ring.get_nodes(account, "dbheal")
    digest = cluster.hasher().hash_path(account, "dbheal")
    victim = nodes[1]
    db_dir = os.path.join(device_root(cluster, victim), "containers", str(part), digest[-3:],
                          digest)
    assert os.path.isdir(db_dir)
    shutil.rmtree(db_dir)
    assert container_listings(cluster, account, "dbheal")[1][0] == 404

    def restored():
        listings = container_listings(cluster, account, "dbheal")
        return all(row == (200, "12", sorted(bodies)) for row in listings)

    assert heal(cluster, ("container-replicator",), restored, max_passes=2) == 1
    headers, listing = conn.get_container("dbheal")
    assert headers["x-container-object-count"] == "12"
    assert [row["name"] for row in listing] == sorted(bodies)


# ----- 6. expiry
def test_expired_object_leaves_get_then_listings(cluster, conn):
    account = account_of(conn)
    conn.put_container("expiry")
    conn.put_object("expiry", "keeper", b"stays")
    delete_at = int(time.time()) + 2
    conn.put_object("expiry", "doomed", b"goes", headers={"X-Delete-At": str(delete_at)})
    assert conn.get_object("expiry", "doomed")[1] == b"goes"

    def gone_from_get():
        try:
            conn.get_object("expiry", "doomed")
        except swift.ClientException as exc:
            return exc.http_status == 404
        return False

    wait_until(gone_from_get, timeout=15, message="expired object still served")
    names = [row["name"] for row in conn.get_container("expiry")[1]]
    assert names == ["doomed", "keeper"]  # the listing keeps it until the expirer runs
    run_pass(cluster, "object-expirer")
    names = [row["name"] for row in conn.get_container("expiry")[1]]
    assert names == ["keeper"]
    assert all(state[0] == 404 and state[1] for state in
               object_states(cluster, account, "expiry", "doomed"))
    assert conn.get_object("expiry", "keeper")[1] == b"stays"

    # That pass also scanned every object (a device's first); the next one is a day away, so
    # an object written now is found through its expiry marker alone.
    delete_at = int(time.time()) + 2
    conn.put_object("expiry", "doomed-later", b"goes too",
                    headers={"X-Delete-At": str(delete_at)})
    wait_until(lambda: time.time() > delete_at + 0.5, timeout=15, message="clock")
    records = run_pass(cluster, "object-expirer")
    assert sum(record["counts"]["scanned"] for record in records) == 0
    assert sum(record["counts"]["expired"] for record in records) >= 1
    assert sum(record["counts"]["failures"] for record in records) == 0
    assert [row["name"] for row in conn.get_container("expiry")[1]] == ["keeper"]
    assert all(state[0] == 404 and state[1] for state in
               object_states(cluster, account, "expiry", "doomed-later"))
    # every replica's marker is gone: expired by one node, found stale by the others
    records = run_pass(cluster, "object-expirer")
    assert sum(record["counts"]["markers"] for record in records) == 0


# ----- 1. a node is down while objects are written and deleted
def test_node_down_then_replicas_agree(cluster, conn):
    account = account_of(conn)
    before = put_objects(conn, "outage", 10)
    # A node holding a replica of the container, so some container updates must wait.
    victim = node_number(cluster, cluster.ring("container").get_nodes(account, "outage")[1][0])
    with cluster.node_down(victim):
        for name in list(before)[:4]:
            conn.delete_object("outage", name)
        after = {f"new-{i}": os.urandom(300) for i in range(10)}
        for name, body in after.items():
            conn.put_object("outage", name, body)
    deleted = list(before)[:4]
    alive = {**{n: before[n] for n in list(before)[4:]}, **after}

    def converged():
        # Every replica agrees, and the handoff copies written during the outage are gone
        # (a handoff partition is removed in the pass after its primaries all have it).
        return (all_agree(cluster, account, "outage", alive, 200)
                and all_agree(cluster, account, "outage", deleted, 404)
                and all(on_primaries_only(cluster, account, "outage", n) for n in alive))

    passes = heal(cluster, ("object-replicator",), converged, max_passes=4)
    assert passes <= 3
    # Once every replica agrees, a pass asks each peer about its partitions in batches and
    # none on its own.
    records = run_pass(cluster, "object-replicator")
    assert all(r["counts"]["batch_requests"] > 0 for r in records), records
    assert all(r["counts"]["single_requests"] == 0 for r in records), records
    for name, body in alive.items():
        assert conn.get_object("outage", name)[1] == body
    # The container updates the stopped node missed wait as async pendings; the updater
    # delivers them.
    assert sum(async_pendings(cluster, n) for n in cluster.layout.nodes) > 0
    run_pass(cluster, "object-updater")
    assert sum(async_pendings(cluster, n) for n in cluster.layout.nodes) == 0
    listings = container_listings(cluster, account, "outage")
    assert all(row == (200, str(len(alive)), sorted(alive)) for row in listings), listings
    # The container updater brings every account replica the container's new counts.
    run_pass(cluster, "container-updater")
    assert account_counts(cluster, account, "outage") == [len(alive)] * 3


# ----- 2. bit rot in one replica
def flip_bytes(path: str, offset: int = 1000) -> None:
    with open(path, "r+b") as handle:
        handle.seek(offset)
        original = handle.read(4)
        handle.seek(offset)
        handle.write(bytes(b ^ 0xFF for b in original))


def test_flipped_bytes_are_quarantined_and_restored(cluster, conn):
    account = account_of(conn)
    bodies = put_objects(conn, "rot", 3, size=200_000)
    name = "obj-001"
    # The proxy may still avoid a node an earlier test stopped and use a handoff: settle first.
    heal(cluster, ("object-replicator",),
         lambda: all_agree(cluster, account, "rot", bodies, 200), max_passes=2)
    good_md5 = hashlib.md5(bodies[name]).hexdigest()
    ring = cluster.ring("object")
    part, nodes = ring.get_nodes(account, "rot", name)
    digest = cluster.hasher().hash_path(account, "rot", name)
    victim = nodes[0]
    victim_node = node_number(cluster, victim)
    (data_name,) = [f for f in hash_dir_files(cluster, victim, part, digest)
                    if f.endswith(".data")]
    data_path = os.path.join(device_root(cluster, victim), "objects", str(part), digest[-3:],
                             digest, data_name)
    quarantined = os.path.join(device_root(cluster, victim), "quarantined", "objects")

    # The auditor finds the rot, quarantines the replica; the replicator restores it.
    flip_bytes(data_path)
    record = run_pass(cluster, "object-auditor", nodes=[victim_node])[0]
    assert record["counts"]["quarantined"] == 1
    assert not os.path.exists(data_path)
    assert len(os.listdir(quarantined)) == 1
    heal(cluster, ("object-replicator",),
         lambda: replicas_agree(cluster, account, "rot", name, 200), max_passes=2)
    assert os.path.exists(data_path)
    assert {s[2] for s in object_states(cluster, account, "rot", name)} == {good_md5}

    # Rot again while clients read: they get the right bytes or an error, never wrong bytes;
    # whichever notices first (a GET's MD5 check or the auditor) quarantines, then it heals.
    reader = Reader(conn.url + "/rot", conn.get_auth()[1], bodies)
    reader.start()
    try:
        flip_bytes(data_path, offset=150_000)
        wait_until(lambda: reader.reads >= 9, timeout=60)
        run_pass(cluster, "object-auditor", nodes=[victim_node])
        assert not os.path.exists(data_path)
        assert len(os.listdir(quarantined)) == 2
        heal(cluster, ("object-replicator",),
             lambda: replicas_agree(cluster, account, "rot", name, 200), max_passes=2)
        wait_until(lambda: reader.reads >= 18, timeout=60)
    finally:
        reader.finish()
    assert reader.wrong == []
    assert {s[2] for s in object_states(cluster, account, "rot", name)} == {good_md5}


# ----- 2b. storage policy 1 (silver, 2 replicas): its own ring and directory, healed alike
def silver_states(cluster, account: str, container: str, obj: str) -> list[tuple]:
    """(status, md5 of the body) as each primary of policy 1 sees the object."""
    part, nodes = cluster.ring("object-1").get_nodes(account, container, obj)
    states = []
    for dev in nodes:
        status, _headers, body = direct_request(
            cluster, dev["ip"], dev["port"], "GET",
            f"/{dev['device']}/{part}/{account}/{container}/{obj}",
            {"X-Backend-Storage-Policy-Index": "1"})
        states.append((status, hashlib.md5(body).hexdigest() if status == 200 else None))
    return states


@pytest.mark.timeout(900)  # four daemon passes on a loaded machine
def test_policy_1_replica_rotten_then_wiped_is_restored(cluster, conn):
    account = account_of(conn)
    conn.put_container("silver", headers={"X-Storage-Policy": "silver"})
    body = os.urandom(200_000)
    conn.put_object("silver", "obj", body)
    good = (200, hashlib.md5(body).hexdigest())
    part, nodes = cluster.ring("object-1").get_nodes(account, "silver", "obj")
    assert len(nodes) == 2
    digest = cluster.hasher().hash_path(account, "silver", "obj")
    hash_dirs = [os.path.join(device_root(cluster, dev), "objects-1", str(part), digest[-3:],
                              digest) for dev in nodes]
    heal(cluster, ("object-replicator",),
         lambda: silver_states(cluster, account, "silver", "obj") == [good] * 2, max_passes=2)
    (data_name,) = [f for f in os.listdir(hash_dirs[0]) if f.endswith(".data")]
    data_path = os.path.join(hash_dirs[0], data_name)
    victim_node = node_number(cluster, nodes[0])

    # Rot in policy 1's directory: its auditor pass quarantines it, the replicator restores it.
    flip_bytes(data_path)
    record = run_pass(cluster, "object-auditor", nodes=[victim_node])[0]
    assert record["counts"]["quarantined"] == 1
    assert not os.path.exists(data_path)
    quarantined = os.path.join(device_root(cluster, nodes[0]), "quarantined", "objects-1")
    assert len(os.listdir(quarantined)) == 1
    heal(cluster, ("object-replicator",),
         lambda: silver_states(cluster, account, "silver", "obj") == [good] * 2, max_passes=2)
    assert os.path.exists(data_path)

    # The other replica's partition lost outright (suffix hash cache included, as when a
    # disk is replaced): the first one pushes it back.
    shutil.rmtree(os.path.dirname(os.path.dirname(hash_dirs[1])))
    assert silver_states(cluster, account, "silver", "obj")[1][0] == 404
    assert conn.get_object("silver", "obj")[1] == body
    heal(cluster, ("object-replicator",),
         lambda: silver_states(cluster, account, "silver", "obj") == [good] * 2, max_passes=2)
    assert conn.get_object("silver", "obj")[1] == body


# ----- 3. one device wiped
def test_wiped_device_is_rebuilt(cluster, conn):
    account = account_of(conn)
    bodies = put_objects(conn, "wipe", 24)
    victim = 3
    dev_dir = os.path.join(cluster.layout.devices_root(victim), cluster.layout.device_name(victim))
    for entry in os.listdir(dev_dir):
        shutil.rmtree(os.path.join(dev_dir, entry), ignore_errors=True)

    def rebuilt():
        return (all_agree(cluster, account, "wipe", bodies, 200)
                and all(row[0] == 200 and row[2] == sorted(bodies)
                        for row in container_listings(cluster, account, "wipe")))

    heal(cluster, ("object-replicator", "container-replicator", "account-replicator"),
         rebuilt, max_passes=2)
    for name, body in bodies.items():
        assert conn.get_object("wipe", name)[1] == body
    # The account database came back too where this device holds one.
    apart, anodes = cluster.ring("account").get_nodes(account)
    for dev in anodes:
        adigest = cluster.hasher().hash_path(account)
        path = os.path.join(device_root(cluster, dev), "accounts", str(apart), adigest[-3:],
                            adigest, adigest + ".db")
        assert os.path.exists(path)


# ----- 4. ring changes: add a fifth device, then remove it
def change_object_ring(cluster, change) -> None:
    builder_path = os.path.join(cluster.conf_dir, "object.builder")
    builder = RingBuilder.load(builder_path)
    change(builder)
    builder.pretend_min_part_hours_passed()
    builder.rebalance()
    builder.save(builder_path)
    builder.write_ring(os.path.join(cluster.conf_dir, "object.ring.gz"))


def test_ring_changes_move_data_and_keep_it_readable(cluster, conn):
    account = account_of(conn)
    bodies = put_objects(conn, "moves", 30)
    node1_root = cluster.layout.devices_root(1)
    os.makedirs(os.path.join(node1_root, "d5"))
    reader = Reader(conn.url + "/moves", conn.get_auth()[1], bodies)
    reader.start()
    try:
        def add(builder):
            builder.add_dev(region=1, zone=5, ip=cluster.layout.node_ip(1),
                            port=cluster.layout.storage_port, device="d5", weight=100.0)

        change_object_ring(cluster, add)
        heal(cluster, ("object-replicator",),
             lambda: all(on_primaries_only(cluster, account, "moves", n) for n in bodies),
             max_passes=3)
        assert os.listdir(os.path.join(node1_root, "d5", "objects"))

        def remove(builder):
            (dev,) = [d for d in builder.existing_devs() if d.device == "d5"]
            builder.remove_dev(dev.id)

        change_object_ring(cluster, remove)
        # A peer still on the old ring may ask d5 for a partition's hashes (REPLICATE) and
        # so leave an empty partition directory behind; the next pass removes it.
        heal(cluster, ("object-replicator",),
             lambda: all(on_primaries_only(cluster, account, "moves", n) for n in bodies)
             and not os.listdir(os.path.join(node1_root, "d5", "objects")),
             max_passes=4)
        wait_until(lambda: reader.reads >= 30, timeout=60)
    finally:
        reader.finish()
    assert reader.wrong == []
    assert reader.errors == 0, "an object became unreadable during the ring change"
    assert not os.listdir(os.path.join(node1_root, "d5", "objects"))
    for name, body in bodies.items():
        assert conn.get_object("moves", name)[1] == body
