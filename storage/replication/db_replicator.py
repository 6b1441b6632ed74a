"""Container and account replicators: make every replica of a database converge.

For every database on a local device (`<dev>/{containers,accounts}/<part>/<suffix>/<hash>/`),
in passes, with each peer (the partition's other primaries; every primary for a handoff):

1. `sync` (see `storage.replication.db_protocol`): the peer merges our timestamps and metadata
   and tells us up to which of our rows it has merged (its incoming sync point for our id).
2. If the peer has no replica at all, a consistent snapshot is copied whole (`copy`).
3. Otherwise the rows past that point are sent in batches of `per_diff` (`merge_items`), at
   most `max_diffs` batches per pass; the peer raises its sync point as it merges, so the next
   pass sends only what is new. Rows the peer has that we lack arrive by the peer's own pass.

A database held where the ring does not put it (handoff, removed device, moved partition) is
deleted locally once every primary has merged all of its rows. Deletion rows and metadata
tombstones older than `reclaim_age` are reclaimed. One failing peer only fails its own sync.

A pass skips a database whose files have not changed (`database_stamp`) since every peer of
the same ring placement last answered that it had merged all of its rows: there is nothing
new to send them. Every `verify_every`-th pass (the first one included) syncs every database
anyway, so a replica a peer lost (a wiped or replaced disk) is restored by that pass at the
latest; rows a peer has that we lack come by the peer's own passes as before. Without the
skip, every pass opened every database and sent each peer a sync: an idle all-in-one holding
3585 container replicas spent 58% of its two cores on it.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import uuid

import msgpack

from common.config import Option
from common.http_client import HTTPClientError
from common.timestamp import Timestamp
from storage.backend_common import is_partition
from storage.daemons.context import Daemon, daemon_options, node_label
from storage.databases.account_db import AccountBroker
from storage.databases.broker import DatabaseNotFound
from storage.databases.container_db import ContainerBroker
from storage.databases.files import database_stamp
from storage.replication.db_protocol import SOURCE_HEADER, replicate_path
from storage.replication.wire import OP_HEADER, REPLICATION_HEADER


class PeerFailure(Exception):
    pass


def iter_databases(devices: str, device: str, kind: str):
    """(partition, hash, db path) of every database of one kind on one device."""
    root = os.path.join(devices, device, kind)
    for part in _listdir(root):
        if not is_partition(part):
            continue
        for suffix in _listdir(os.path.join(root, part)):
            for db_hash in _listdir(os.path.join(root, part, suffix)):
                path = os.path.join(root, part, suffix, db_hash, db_hash + ".db")
                if os.path.isfile(path):
                    yield int(part), db_hash, path


def _listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except (FileNotFoundError, NotADirectoryError):
        return []


class DatabaseReplicator(Daemon):
    """Shared by the container and account replicators; subclasses name the ring and broker."""

    ring_name = ""
    broker_class: type = ContainerBroker
    OPTIONS = daemon_options(
        30.0,
        Option("concurrency", int, 4, help="databases replicated at once"),
        Option("per_diff", int, 1000, help="rows per merge_items request"),
        Option("max_diffs", int, 100, help="merge_items batches per database per pass"),
        Option("verify_every", int, 10,
               help="every Nth pass syncs every database; the others skip a database unchanged "
                    "since all its peers last had all of its rows"),
    )

    def __init__(self, node, conf: dict):
        super().__init__(node, conf)
        self.passes = 0
        # db path -> (database_stamp, peers) as of the last sync every peer completed
        self.in_sync: dict[str, tuple] = {}

    def run_once(self) -> dict:
        from common.green import eventlet

        self.counts = {"databases": 0, "rows_sent": 0, "copied": 0, "in_sync": 0,
                       "unchanged": 0, "handoffs_removed": 0, "reclaimed": 0, "failures": 0,
                       "peers_failed": 0}
        verify = self.passes % max(1, self.conf["verify_every"]) == 0
        self.passes += 1
        ring = self.node.ring(self.ring_name)
        pool = eventlet.GreenPool(max(1, self.conf["concurrency"]))
        kind = self.broker_class.kind
        seen = set()
        for device in self.node.local_devices():
            for part, db_hash, path in iter_databases(self.node.devices, device, kind):
                seen.add(path)
                pool.spawn_n(self._replicate_safely, ring, device, part, db_hash, path, verify)
        pool.waitall()
        self.in_sync = {path: state for path, state in self.in_sync.items() if path in seen}
        return dict(self.counts)

    def _count(self, key: str, amount: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + amount

    def _replicate_safely(self, ring, device, part, db_hash, path, verify: bool) -> None:
        try:
            self.replicate_database(ring, device, part, db_hash, path, verify)
        except (DatabaseNotFound, FileNotFoundError):
            pass  # removed meanwhile (quarantined, or a handoff already cleaned)
        except Exception:  # one broken database must not stop the pass
            self.logger.exception("replicating %s failed", path)
            self._count("failures")

    def replicate_database(self, ring, device, part, db_hash, path, verify: bool) -> None:
        self._count("databases")
        primaries = ring.get_part_nodes(part) if part < ring.partition_count else []
        me = [n for n in primaries if n["device"] == device and self.node.is_local(n)]
        peers = [n for n in primaries if n not in me]
        # taken before anything is read: a change from here on makes the next pass sync again
        state = (database_stamp(path), [(n["ip"], n["port"], n["device"]) for n in peers])
        if not verify and me and self.in_sync.get(path) == state:
            self._count("unchanged")
            return
        self.in_sync.pop(path, None)
        broker = self.broker_class(path)
        cutoff = Timestamp(max(0.0, Timestamp.now().seconds - self.node.reclaim_age))
        self._count("reclaimed", broker.reclaim(cutoff))
        max_row = broker.get_max_row()  # a row added later changes the stamp anyway
        synced = caught_up = 0
        for peer in peers:
            try:
                point = self.sync_with_peer(broker, peer, part, db_hash, path)
                synced += 1
                caught_up += point >= max_row
            except PeerFailure as exc:
                self.logger.warning("%s", exc)
                self._count("failures")
                self._count("peers_failed")
        if me and peers and caught_up == len(peers):
            self.in_sync[path] = state
        if not me and peers and synced == len(peers):
            self._remove_handoff(broker, peers, part, db_hash, path)

    def _call(self, peer, op: str, part: int, db_hash: str, body, **kwargs):
        headers = {REPLICATION_HEADER: "true", OP_HEADER: op, **kwargs.pop("headers", {})}
        try:
            return self.node.request(peer, "REPLICATE", replicate_path(peer["device"], part,
                                                                      db_hash),
                                     headers=headers, body=body, **kwargs)
        except HTTPClientError as exc:
            raise PeerFailure(f"{node_label(peer)}: {exc}") from None

    def sync_with_peer(self, broker, peer, part, db_hash, path) -> int:
        """Bring `peer` up to date; returns the peer's sync point for our rows."""
        info = broker.get_info()
        message = {
            "id": info["id"], "put_timestamp": info["put_timestamp"],
            "delete_timestamp": info["delete_timestamp"], "metadata": info["metadata"],
            "max_row": info["max_row"],
        }
        resp = self._call(peer, "sync", part, db_hash, msgpack.packb(message))
        if resp.status == 404:
            copied = self._copy_whole(broker, peer, part, db_hash, info)
            return info["max_row"] if copied else -1
        if resp.status != 200:
            raise PeerFailure(f"{node_label(peer)} {db_hash}: sync answered {resp.status}")
        point = int(msgpack.unpackb(resp.body, raw=False)["point"])
        if point >= info["max_row"]:
            self._count("in_sync")
            return point
        for _ in range(self.conf["max_diffs"]):
            rows = broker.get_items_since(point, self.conf["per_diff"])
            if not rows:
                break
            body = msgpack.packb({"source": info["id"], "items": rows})
            resp = self._call(peer, "merge_items", part, db_hash, body)
            if resp.status != 200:
                raise PeerFailure(f"{node_label(peer)} {db_hash}: merge answered {resp.status}")
            point = rows[-1]["ROWID"]
            self._count("rows_sent", len(rows))
        return point

    def _copy_whole(self, broker, peer, part, db_hash, info) -> bool:
        """Copy a snapshot to a peer without a replica; False when one appeared meanwhile
        (its rows are then synced by the next pass)."""
        tmp_dir = os.path.join(_device_dir(broker.db_path), "tmp")
        os.makedirs(tmp_dir, exist_ok=True)
        snapshot = os.path.join(tmp_dir, f"{uuid.uuid4().hex}.snapshot.db")
        try:
            broker.snapshot(snapshot)
            size = os.path.getsize(snapshot)
            resp = self._call(peer, "copy", part, db_hash, _file_chunks(snapshot),
                              content_length=size, headers={SOURCE_HEADER: info["id"]})
        finally:
            for leftover in (snapshot, snapshot + "-wal", snapshot + "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(leftover)
        if resp.status == 201:
            self._count("copied")
            return True
        if resp.status == 409:
            return False  # a replica appeared meanwhile; the next pass syncs rows
        raise PeerFailure(f"{node_label(peer)} {db_hash}: copy answered {resp.status}")

    def _remove_handoff(self, broker, peers, part, db_hash, path) -> None:
        """Delete a misplaced replica once no row of it is missing on any primary."""
        max_row = broker.get_max_row()
        for peer in peers:
            point = self.sync_with_peer(broker, peer, part, db_hash, path)
            if point < max_row:
                return
        if broker.get_max_row() != max_row:
            return
        broker.close()
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)
        self._count("handoffs_removed")


def _device_dir(db_path: str) -> str:
    """`<dev>` of `<dev>/<kind>/<part>/<suffix>/<hash>/<hash>.db`."""
    path = db_path
    for _ in range(5):
        path = os.path.dirname(path)
    return path


def _file_chunks(path: str):
    with open(path, "rb") as handle:
        while chunk := handle.read(65536):
            yield chunk


class ContainerReplicator(DatabaseReplicator):
    name = "container-replicator"
    ring_name = "container"
    broker_class = ContainerBroker


class AccountReplicator(DatabaseReplicator):
    name = "account-replicator"
    ring_name = "account"
    broker_class = AccountBroker

