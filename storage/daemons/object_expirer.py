"""The object expirer: deletes objects whose `X-Delete-At` has passed, everywhere.

The object server already hides an expired object (GET/HEAD answer 404 from the moment
`X-Delete-At` passes); what remains is removing the files and the container listing rows.
Each pass takes, on every local device, the expiry markers now due
(`storage.objects.expiry_markers`: the object server leaves one per write that carries
`X-Delete-At`), so a pass costs in proportion to what expires, not to what is stored. For
each marker it reads the object's current metadata (merged `.data` + `.meta`, so a POST that
changed or removed `X-Delete-At` counts): a marker whose object is gone, deleted, or no longer
expires at the marker's time is stale and removed. Once every `full_scan_interval` (a day by
default, and at the first pass on a device) it also reads the metadata of every object of the
partitions its local devices hold as primaries, for objects written before markers existed.
For each object past its time it sends `DELETE` to every replica the object ring names, with

* `X-If-Delete-At: <the value seen>` — the object server refuses (412) if the object was
  rewritten or re-POSTed since, so a newer object is never removed;
* `X-Timestamp: <X-Delete-At>` (or just after the data's own timestamp if that is later), so
  the tombstone sorts before any write made after the expiry time;
* `X-Container-Host/-Device/-Partition` for one container replica each, so the object servers
  drop the listing row (or leave an async pending for the updater).

204, 404, 409 and 412 all settle an object (its marker goes); anything else is retried next
pass (the marker stays). Objects that already carry a tombstone are skipped and their markers
removed, so the other replicas' nodes, whose markers come due too, do not repeat the work.
"""
from __future__ import annotations

import time

from common.config import Option
from common.http_client import HTTPClientError
from common.storage_policies import BACKEND_INDEX_HEADER
from common.timestamp import Timestamp
from storage.daemons.context import Daemon, daemon_options
from storage.daemons.rate_limit import RateLimiter
from storage.objects.diskfile import DiskFileNotFound
from storage.objects.expiry_markers import (
    delete_at_of,
    due_markers,
    last_full_scan,
    note_full_scan,
    remove_marker,
)

SETTLED = (204, 404, 409, 412)


def expired_delete_at(metadata: dict, now: float) -> int | None:
    """The object's X-Delete-At when it has passed, else None."""
    delete_at = delete_at_of(metadata)
    return delete_at if delete_at is not None and delete_at <= now else None


def delete_timestamp(delete_at: int, data_timestamp: Timestamp) -> Timestamp:
    """X-Delete-At itself, unless the data is newer than that (then one tick after it)."""
    candidate = Timestamp(delete_at)
    if candidate > data_timestamp:
        return candidate
    return Timestamp((data_timestamp.ticks + 1) / 100000)


def split_name(name: str) -> tuple[str, str, str] | None:
    parts = name.split("/", 3)
    if len(parts) != 4 or parts[0] or not all(parts[1:]):
        return None
    return parts[1], parts[2], parts[3]


class ObjectExpirer(Daemon):
    name = "object-expirer"
    OPTIONS = daemon_options(
        300.0,  # Swift's expirer interval: expired objects answer 404 meanwhile
        Option("objects_per_second", float, 200.0,
               help="objects checked per second (markers and full scans); 0: no cap"),
        Option("full_scan_interval", float, 86400.0,
               help="seconds between scans of every object of a device; 0: never"),
    )

    def run_once(self) -> dict:
        counts = {"markers": 0, "stale_markers": 0, "scanned": 0, "expired": 0, "failures": 0}
        limit = RateLimiter(self.conf["objects_per_second"])
        now = time.time()
        policies = list(self.node.object_policies())
        by_objects_dir = {disk.objects_dir: (policy, disk, ring) for policy, disk, ring in policies}
        for device in self.node.local_devices():
            device_path = self.node.device_path(device)
            for path, marker in due_markers(device_path, now):
                counts["markers"] += 1
                limit.consume(1)
                outcome = self._expire_marked(device, marker, by_objects_dir)
                if outcome == "failed":
                    counts["failures"] += 1
                    continue
                counts["expired" if outcome == "expired" else "stale_markers"] += 1
                remove_marker(path)
            scan_interval = self.conf["full_scan_interval"]
            last_scan = last_full_scan(device_path)
            if scan_interval > 0 and (last_scan is None or last_scan + scan_interval <= now):
                for policy, disk, object_ring in policies:
                    self._scan_device(policy, disk, object_ring, device, counts, limit)
                note_full_scan(device_path)
        return counts

    def _expire_marked(self, device: str, marker, by_objects_dir: dict) -> str:
        """Act on one due marker: "expired" (every replica settled), "stale" (the object is
        gone, or no longer expires at the marker's time) or "failed" (retried next pass)."""
        found = by_objects_dir.get(marker.objects_dir)
        if found is None:
            return "stale"  # a storage policy this node no longer serves
        policy, disk, object_ring = found
        df = disk.diskfile_from_hash(device, marker.partition, marker.hash)
        try:
            df.open(check_expiry=False)
        except DiskFileNotFound:
            return "stale"  # deleted (another node's expirer, a client) or never committed
        except OSError as exc:
            self.logger.warning("expiry marker %s on %s: %s", marker.name, device, exc)
            return "failed"
        metadata, data_ts = df.metadata, df.data_timestamp
        df.close()
        names = split_name(metadata.get("name", ""))
        if delete_at_of(metadata) != marker.delete_at or names is None:
            return "stale"
        settled = self.expire(object_ring, self.node.ring("container"), names,
                              marker.delete_at, data_ts,
                              {BACKEND_INDEX_HEADER: str(policy.index)})
        return "expired" if settled else "failed"

    def _scan_device(self, policy, disk, object_ring, device: str, counts: dict,
                     limit: RateLimiter) -> None:
        """Expire what is due in one storage policy's partitions of which `device` holds a
        primary copy, reading every object's metadata (objects older than their markers)."""
        container_ring = self.node.ring("container")
        now = time.time()
        policy_header = {BACKEND_INDEX_HEADER: str(policy.index)}
        for part in disk.iter_partitions(device):
            if int(part) >= object_ring.partition_count:
                continue
            primaries = object_ring.get_part_nodes(int(part))
            if not any(n["device"] == device and self.node.is_local(n) for n in primaries):
                continue
            for suffix in disk.iter_suffixes(device, part):
                for obj_hash in disk.iter_hashes(device, part, suffix):
                    counts["scanned"] += 1
                    limit.consume(1)
                    df = disk.diskfile_from_hash(device, part, obj_hash)
                    try:
                        df.open(check_expiry=False)
                    except (DiskFileNotFound, OSError):
                        continue
                    metadata, data_ts = df.metadata, df.data_timestamp
                    df.close()
                    delete_at = expired_delete_at(metadata, now)
                    names = split_name(metadata.get("name", ""))
                    if delete_at is None or names is None:
                        continue
                    if self.expire(object_ring, container_ring, names, delete_at, data_ts,
                                   policy_header):
                        counts["expired"] += 1
                    else:
                        counts["failures"] += 1

    def expire(self, object_ring, container_ring, names, delete_at, data_ts,
               policy_header: dict | None = None) -> bool:
        """DELETE one expired object on all its replicas; True when every replica settled."""
        account, container, obj = names
        part, nodes = object_ring.get_nodes(account, container, obj)
        cpart, cnodes = container_ring.get_nodes(account, container)
        timestamp = delete_timestamp(delete_at, data_ts)
        settled = True
        for index, node in enumerate(nodes):
            headers = {"X-Timestamp": timestamp.normal, "X-If-Delete-At": str(delete_at),
                       **(policy_header or {})}
            if cnodes:
                cnode = cnodes[index % len(cnodes)]
                headers.update({
                    "X-Container-Host": f"{cnode['ip']}:{cnode['port']}",
                    "X-Container-Device": cnode["device"],
                    "X-Container-Partition": str(cpart),
                })
            try:
                resp = self.node.request(node, "DELETE", f"/{node['device']}/{part}/{account}/"
                                         f"{container}/{obj}", headers=headers)
            except HTTPClientError as exc:
                self.logger.warning("expiring /%s/%s/%s: %s", account, container, obj, exc)
                settled = False
                continue
            if resp.status not in SETTLED:
                settled = False
        return settled
