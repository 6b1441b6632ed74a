"""The container updater: keeps account listings' object counts and bytes up to date.

Each pass looks at every container database on a local device that the container ring puts
there (handoffs are left to the replicator) and, when its put/delete timestamps, object count
or bytes used differ from what was last reported (`ContainerBroker.report_due`), sends the
stats to every replica of the account (`PUT /<dev>/<part>/<account>/<container>` with
`X-Put-Timestamp`, `X-Delete-Timestamp`, `X-Object-Count`, `X-Bytes-Used`, `X-Timestamp`, the
same report the container server sends). The stats are marked reported only when every
account replica took them, so a replica that was down gets them on a later pass.

A database whose files have not changed (`database_stamp`) since a pass found nothing due
is not opened again: without a write nothing can become due. (Opening every database each
pass, in a cache smaller than their number, cost more CPU than anything else an idle node did.)
"""
from __future__ import annotations

from common.config import Option
from storage.daemons.context import Daemon, daemon_options
from storage.daemons.rate_limit import RateLimiter
from storage.databases.broker import DatabaseNotFound
from storage.databases.container_db import ContainerBroker
from storage.databases.container_server import report_to_account
from storage.databases.files import database_stamp
from storage.replication.db_replicator import iter_databases


class ContainerUpdater(Daemon):
    name = "container-updater"
    OPTIONS = daemon_options(
        30.0,
        Option("containers_per_second", float, 50.0, help="reports sent per second; 0: no cap"),
    )

    def __init__(self, node, conf: dict):
        super().__init__(node, conf)
        self.nothing_due: dict[str, tuple] = {}  # db path -> its stamp when nothing was due

    def run_once(self) -> dict:
        counts = {"containers": 0, "reported": 0, "failures": 0}
        container_ring = self.node.ring("container")
        account_ring = self.node.ring("account")
        limit = RateLimiter(self.conf["containers_per_second"])
        nothing_due = {}  # this pass's findings, for the next one
        for device in self.node.local_devices():
            for part, _hash, path in iter_databases(self.node.devices, device, "containers"):
                if part >= container_ring.partition_count:
                    continue
                primaries = container_ring.get_part_nodes(part)
                if not any(n["device"] == device and self.node.is_local(n) for n in primaries):
                    continue
                counts["containers"] += 1
                try:
                    stamp = database_stamp(path)  # before anything is read
                    if self.nothing_due.get(path) == stamp:
                        nothing_due[path] = stamp
                        continue
                    broker = ContainerBroker(path)
                    info = broker.get_info()
                except (DatabaseNotFound, FileNotFoundError):
                    continue
                if not ContainerBroker.report_due(info):
                    nothing_due[path] = stamp
                    continue
                limit.consume(1)
                account_part, account_nodes = account_ring.get_nodes(info["account"])
                nodes = [(n["ip"], n["port"], n["device"], account_part) for n in account_nodes]
                if report_to_account(nodes, info["account"], info["container"], info,
                                     self.node.conn_timeout, self.node.node_timeout,
                                     self.node.backend_auth):
                    broker.set_reported(info["put_timestamp"], info["delete_timestamp"],
                                        info["object_count"], info["bytes_used"])
                    counts["reported"] += 1
                else:
                    counts["failures"] += 1
        self.nothing_due = nothing_due
        return counts
