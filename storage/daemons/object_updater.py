"""The object updater: retries the container updates object servers could not deliver.

Each async-pending record (`storage.objects.async_pending`) names the operation, the object and the
container replica that missed it. Each pass resends it, to that replica if the container ring
still puts the container's partition there, else to every current primary of the container
(newest timestamp wins on the container side, so repeats are harmless). A record is deleted
once its update is acknowledged (all targets 2xx), or when it is older than `reclaim_age`
(the replicators have long since reconciled the listing); undecodable records are removed.
A node without a container ring yet sends each record to the replica it names; a ring that
cannot be read fails the pass.
"""
from __future__ import annotations

import contextlib
import os
import time

from common.config import Option
from storage.daemons.context import Daemon, daemon_options
from storage.daemons.rate_limit import RateLimiter
from storage.objects.async_pending import AsyncPendingError, iter_async_pendings, read_async_pending
from storage.objects.container_updates import ContainerNode, send_update


def update_targets(record: dict, ring) -> list[ContainerNode]:
    """The container replicas a pending update must reach under the current ring (None: no
    ring yet, so the replica the object server recorded)."""
    recorded = record["container_node"]
    if ring is None:
        return [ContainerNode(recorded["host"], recorded["device"], str(recorded["partition"]))]
    part, nodes = ring.get_nodes(record["account"], record["container"])
    current = [ContainerNode(f"{n['ip']}:{n['port']}", n["device"], str(part)) for n in nodes]
    for node in current:
        if node.host == recorded["host"] and node.device == recorded["device"]:
            return [node]
    return current


class ObjectUpdater(Daemon):
    name = "object-updater"
    OPTIONS = daemon_options(
        30.0,
        Option("updates_per_second", float, 50.0, help="updates sent per second; 0: no cap"),
        Option("concurrency", int, 4, help="updates in flight at once"),
    )

    def run_once(self) -> dict:
        from common.green import eventlet

        counts = {"async_pending": 0, "successes": 0, "failures": 0, "removed_stale": 0}
        ring = None
        if self.node.has_ring("container"):
            ring = self.node.ring("container")
        else:
            self.logger.warning("no container ring in %s; sending to the recorded nodes",
                                self.node.conf_dir)
        limit = RateLimiter(self.conf["updates_per_second"])
        pool = eventlet.GreenPool(max(1, self.conf["concurrency"]))
        for device in self.node.local_devices():
            for path in iter_async_pendings(self.node.device_path(device)):
                counts["async_pending"] += 1
                limit.consume(1)
                pool.spawn_n(self._process, path, ring, counts)
        pool.waitall()
        return counts

    def _process(self, path: str, ring, counts: dict) -> None:
        try:
            record = read_async_pending(path)
        except AsyncPendingError as exc:
            self.logger.error("removing %s", exc)
            _unlink(path)
            return
        except FileNotFoundError:
            return
        timestamp = record["headers"].get("X-Timestamp", "0")
        with contextlib.suppress(ValueError):
            if time.time() - float(timestamp) > self.node.reclaim_age:
                _unlink(path)
                counts["removed_stale"] += 1
                return
        targets = update_targets(record, ring)
        results = [
            send_update(node, record["op"], record["account"], record["container"],
                        record["obj"], record["headers"], self.node.conn_timeout,
                        self.node.node_timeout, self.node.backend_auth)
            for node in targets
        ]
        if all(results):
            _unlink(path)
            counts["successes"] += 1
        else:
            counts["failures"] += 1


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
