"""The object replicator: makes every partition's replicas agree, and moves misplaced ones.

For every storage policy (its own `objects[-N]` directory, ring and
`X-Backend-Storage-Policy-Index` on every request to a peer), for every partition directory
on every local device, in passes:

1. Its suffix hashes (`storage.objects.suffix_hashes`, cached, recomputed where dirty) are compared
   with each peer's. Partitions go in windows of `MAX_BATCH_PARTITIONS`: before a window, each
   peer is asked once for the hashes of all the window's partitions it shares with this
   device (`REPLICATE` with op `batch`, see `storage.replication.object_protocol`); a
   partition whose hashes equal a peer's answer is done with that peer. Any other (hashes
   that differ, or no batch answer) is asked again on its own, `REPLICATE /<dev>/<part>`,
   and synced from that fresh answer. A pass over a cluster in agreement thus costs one
   request per peer per window instead of one per peer per partition.
2. For the suffixes that differ, the peer lists its live files (`REPLICATE` with op `list`);
   each local file that would still be live on the peer next to what it holds (the newest
   timestamp wins, `storage.objects.ondisk_files` rules) is pushed with `SYNC`, data and tombstones
   before metas, streamed in 64 KiB chunks. A `.data` is read through the disk layer's
   checked reader (`storage.objects.reader.BodyReader`: every block against its CRC, the body
   against its ETag) so no unchecked byte is offered to a peer: a rotten local copy is
   quarantined on the spot (its suffix invalidated; a peer's next pass pushes a good copy
   back) and the push is cut before its end, so the peer keeps nothing of it.
3. The peer is asked to recompute those suffixes (`REPLICATE /<dev>/<part>/<s>-<s>`).

Peers are the partition's other primaries when the local device is a primary. When it is not
(a handoff, a device the ring no longer lists, or a partition the last rebalance moved away),
the partition is pushed to every primary and deleted locally only when every primary accepted
everything and nothing changed locally meanwhile. One failing peer only fails its own sync;
the pass goes on. Tombstones older than `reclaim_age` are reclaimed while hashing; every
`full_rehash_age` seconds all suffixes of a partition are rehashed so that happens even where
nothing is written.
"""
from __future__ import annotations

import itertools
import os
import shutil

import msgpack

from common.config import Option
from common.http_client import HTTPClientError
from common.storage_policies import BACKEND_INDEX_HEADER
from storage.daemons.context import Daemon, daemon_options, node_label
from storage.objects.diskfile import (
    BodyMismatch,
    DiskFileManager,
    DiskFileNotFound,
    DiskFileQuarantined,
)
from storage.objects.metadata import MetadataError, pack_metadata
from storage.objects.ondisk_files import gather_ondisk_files
from storage.objects.suffix_hashes import differing_suffixes, get_hashes, list_suffix_files
from storage.replication.object_protocol import (
    BATCH_OP,
    MAX_BATCH_PARTITIONS,
    METADATA_LENGTH_HEADER,
    OP_HEADER,
    REPLICATION_HEADER,
    batch_path,
    body_chunks,
    decode,
    file_payload,
    replicate_path,
    sync_path,
)

SUFFIXES_PER_REQUEST = 256
_EXT_ORDER = {".data": 0, ".ts": 0, ".meta": 1}


def files_to_push(local: list[str], remote: list[str]) -> list[str]:
    """Local files the peer lacks that would be live beside the peer's files, data first."""
    missing = [name for name in local if name not in remote]
    if not missing:
        return []
    live = set(gather_ondisk_files(list(remote) + missing).live)
    chosen = [name for name in missing if name in live]
    return sorted(chosen, key=lambda n: (_EXT_ORDER.get(os.path.splitext(n)[1], 2), n))


class PeerFailure(Exception):
    """A peer could not be synced during this pass."""


class ObjectReplicator(Daemon):
    name = "object-replicator"
    OPTIONS = daemon_options(
        30.0,
        Option("concurrency", int, 4, help="partitions replicated at once"),
        Option("full_rehash_age", float, 86400.0, help="rehash every suffix this often"),
        Option("handoff_delete", int, 0, help="delete a handoff after this many primaries "
               "accepted it; 0 means all of them"),
    )

    def __init__(self, node, conf):
        super().__init__(node, conf)
        self.disk = DiskFileManager(node.devices, None, node.mount_check)
        self.policy_headers: dict[str, str] = {}  # the policy being replicated, for peers
        self.counts: dict[str, int] = {}

    def _count(self, key: str, amount: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + amount

    def run_once(self) -> dict:
        from common.green import eventlet

        self.counts = {
            "partitions": 0, "suffixes_synced": 0, "files_pushed": 0, "bytes_pushed": 0,
            "handoffs_removed": 0, "failures": 0, "peers_failed": 0, "quarantined": 0,
            "batch_requests": 0, "single_requests": 0,
        }
        pool = eventlet.GreenPool(max(1, self.conf["concurrency"]))
        # One storage policy after the other: its own directory, ring and peers' directory.
        for policy, disk, ring in self.node.object_policies():
            self.disk = disk
            self.policy_headers = {BACKEND_INDEX_HEADER: str(policy.index)}
            for device in self.node.local_devices():
                parts = sorted(int(p) for p in self.disk.iter_partitions(device))
                for start in range(0, len(parts), MAX_BATCH_PARTITIONS):
                    window = parts[start:start + MAX_BATCH_PARTITIONS]
                    peers = {part: self._peers(ring, device, part) for part in window
                             if part < ring.partition_count}
                    known = self._peer_hashes(peers)
                    for part in window:
                        pool.spawn_n(self._replicate_partition_safely, ring, device, part,
                                     peers.get(part), known)
                    pool.waitall()
        return dict(self.counts)

    def _peers(self, ring, device: str, part: int) -> list[dict] | None:
        """The other primaries of `part` when `device` is one of them, else None."""
        primaries = ring.get_part_nodes(part)
        mine = [n["device"] == device and self.node.is_local(n) for n in primaries]
        if not any(mine):
            return None
        return [node for node, is_mine in zip(primaries, mine, strict=True) if not is_mine]

    def _peer_hashes(self, peers: dict[int, list[dict] | None]) -> dict:
        """{(peer ip, port, device, part): hashes} from one batch REPLICATE per peer, for the
        partitions of `peers` ({part: its peers, or None where this device is no primary});
        a peer that fails or refuses the batch is simply absent (its partitions are then
        asked one by one)."""
        asked: dict[tuple, tuple[dict, list[int]]] = {}
        for part, part_peers in peers.items():
            for peer in part_peers or ():
                key = (peer["ip"], peer["port"], peer["device"])
                asked.setdefault(key, (peer, []))[1].append(part)
        known = {}
        for key, (peer, parts) in asked.items():
            self._count("batch_requests")
            try:
                resp = self._call(peer, "REPLICATE", batch_path(peer["device"], parts),
                                  headers={OP_HEADER: BATCH_OP})
                answer = decode(resp.body) if resp.status == 200 else {}
            except (PeerFailure, ValueError, msgpack.UnpackException):
                continue
            for part in parts:
                hashes = answer.get(str(part))
                if isinstance(hashes, dict):
                    known[(*key, part)] = hashes
        return known

    def _replicate_partition_safely(self, ring, device: str, part: int, peers, known) -> None:
        try:
            self.replicate_partition(ring, device, part, peers, known)
        except Exception:  # one broken partition must not stop the pass
            self.logger.exception("replicating %s/%s failed", device, part)
            self._count("failures")

    def replicate_partition(self, ring, device: str, part: int,
                            peers: list[dict] | None, known: dict) -> None:
        """Sync one partition with its `peers` (or, when None, hand it off). `known` holds
        peers' hashes from a batch REPLICATE (`_peer_hashes`): a peer whose hashes equal the
        local ones is not asked again."""
        self._count("partitions")
        if part >= ring.partition_count:
            return self._handoff(device, part, [])
        if peers is not None:
            hashes = self._local_hashes(device, part)
            for peer in peers:
                remote = known.get((peer["ip"], peer["port"], peer["device"], part))
                if remote is not None and not differing_suffixes(hashes, remote):
                    continue  # the peer already agrees
                try:
                    self.sync_to_peer(device, part, peer, hashes)
                except PeerFailure as exc:
                    self.logger.warning("%s", exc)
                    self._count("peers_failed")
                    self._count("failures")
        else:
            self._handoff(device, part, ring.get_part_nodes(part))

    def _local_hashes(self, device: str, part: int) -> dict[str, str]:
        return get_hashes(
            self.disk.partition_path(device, part),
            reclaim_age=self.node.reclaim_age,
            full_rehash_age=self.conf["full_rehash_age"],
        )

    def _handoff(self, device: str, part: int, primaries: list[dict]) -> None:
        """Push a partition this device should not hold to its primaries, then drop it."""
        hashes = self._local_hashes(device, part)
        targets = [n for n in primaries if not (n["device"] == device and self.node.is_local(n))]
        accepted = 0
        for peer in targets:
            try:
                self.sync_to_peer(device, part, peer, hashes)
                accepted += 1
            except PeerFailure as exc:
                self.logger.warning("%s", exc)
                self._count("peers_failed")
                self._count("failures")
        needed = self.conf["handoff_delete"] or len(targets)
        if not targets or accepted < needed:
            return
        # Remove only if nothing was written locally while we pushed.
        if self._local_hashes(device, part) != hashes:
            return
        shutil.rmtree(self.disk.partition_path(device, part), ignore_errors=True)
        self._count("handoffs_removed")

    # ----- one peer
    def _call(self, peer: dict, method: str, path: str, **kwargs):
        headers = {REPLICATION_HEADER: "true", **self.policy_headers,
                   **kwargs.pop("headers", {})}
        try:
            resp = self.node.request(peer, method, path, headers=headers, **kwargs)
        except HTTPClientError as exc:
            raise PeerFailure(f"{node_label(peer)}: {exc}") from None
        return resp

    def sync_to_peer(self, device: str, part: int, peer: dict, hashes: dict[str, str]) -> None:
        """Bring `peer` up to date with the local partition; raise PeerFailure if it fails."""
        label = node_label(peer)
        self._count("single_requests")
        resp = self._call(peer, "REPLICATE", replicate_path(peer["device"], part))
        if resp.status != 200:
            raise PeerFailure(f"{label} part {part}: REPLICATE answered {resp.status}")
        try:
            remote = decode(resp.body)
        except (ValueError, msgpack.UnpackException):
            raise PeerFailure(f"{label}: undecodable REPLICATE answer") from None
        suffixes = differing_suffixes(hashes, remote)
        failed = 0
        # A bounded number of suffixes per request keeps the request line short.
        for start in range(0, len(suffixes), SUFFIXES_PER_REQUEST):
            failed += self._sync_suffixes(device, part, peer,
                                          suffixes[start:start + SUFFIXES_PER_REQUEST])
        self._count("suffixes_synced", len(suffixes))
        if failed:
            raise PeerFailure(f"{label} part {part}: {failed} file(s) not accepted")

    def _sync_suffixes(self, device: str, part: int, peer: dict, suffixes: list[str]) -> int:
        """Push what the peer lacks in `suffixes`, then have it rehash them; returns refusals."""
        label = node_label(peer)
        resp = self._call(peer, "REPLICATE", replicate_path(peer["device"], part, suffixes),
                          headers={OP_HEADER: "list"})
        if resp.status != 200:
            raise PeerFailure(f"{label} part {part}: listing answered {resp.status}")
        try:
            listing = decode(resp.body)
        except (ValueError, msgpack.UnpackException):
            raise PeerFailure(f"{label}: undecodable listing") from None
        pdir = self.disk.partition_path(device, part)
        failed = 0
        for suffix in suffixes:
            remote_files = listing.get(suffix) or {}
            for obj_hash, names in list_suffix_files(pdir, suffix, self.node.reclaim_age).items():
                for name in files_to_push(names, remote_files.get(obj_hash) or []):
                    if not self._push_file(peer, device, part, obj_hash, name):
                        failed += 1
        self._call(peer, "REPLICATE", replicate_path(peer["device"], part, suffixes))
        return failed

    def _push_file(self, peer: dict, device: str, part: int, obj_hash: str, name: str) -> bool:
        """SYNC one local file to `peer`; False when the peer refused it.

        A local file found rotten on the way is quarantined (and counted), not a refusal.
        """
        path = os.path.join(self.disk.hash_dir_path(device, part, obj_hash), name)
        reader = None
        if name.endswith(".data"):
            payload = self._checked_data(device, part, obj_hash, name)
            if payload is None:
                return True
            packed, body_length, reader = payload
            body = itertools.chain((packed,), reader)
        else:
            try:
                packed, body_length = file_payload(path)
            except FileNotFoundError:
                return True  # cleaned up meanwhile: something newer replaced it
            except MetadataError:
                self._quarantine(path)
                return True
            body = body_chunks(path, packed, body_length)
        try:
            resp = self._call(
                peer, "SYNC", sync_path(peer["device"], part, obj_hash, name),
                headers={METADATA_LENGTH_HEADER: str(len(packed))},
                body=body, content_length=len(packed) + body_length,
            )
        except BodyMismatch as exc:  # the reader quarantined the file; the push was cut
            self.logger.warning("quarantined while pushing to %s: %s", node_label(peer), exc)
            self._count("quarantined")
            return True
        finally:
            if reader is not None:
                reader.close()
        if resp.status in (200, 201, 409):
            if resp.status == 201:
                self._count("files_pushed")
                self._count("bytes_pushed", body_length)
            return True
        self.logger.warning("%s refused %s/%s: %s %s", node_label(peer), obj_hash, name,
                            resp.status, resp.body[:200])
        return False

    def _checked_data(self, device: str, part: int, obj_hash: str, name: str):
        """(packed metadata, body length, checked body reader) of the `.data` `name`, or
        None when it is no longer the live file or its metadata was found corrupt."""
        diskfile = self.disk.diskfile_from_hash(device, str(part), obj_hash)
        try:
            diskfile.open(check_expiry=False)
        except DiskFileQuarantined:  # the disk layer moved it away and invalidated its suffix
            self.logger.warning("quarantined %s/%s: corrupt metadata", obj_hash, name)
            self._count("quarantined")
            return None
        except DiskFileNotFound:
            return None  # deleted or replaced meanwhile
        if os.path.basename(diskfile.data_file) != name:
            diskfile.close()
            return None  # a newer .data replaced it meanwhile; the next pass pushes that one
        return (pack_metadata(diskfile.data_metadata), diskfile.layout.body_length,
                diskfile.reader(verify=True))

    def _quarantine(self, path: str) -> None:
        try:
            target = self.disk.quarantine(path)
        except (OSError, ValueError) as exc:
            self.logger.error("cannot quarantine %s: %s", path, exc)
            self._count("failures")
            return
        self.logger.warning("quarantined %s (corrupt metadata) to %s", path, target)
        self._count("quarantined")
