"""Helpers for the fault tests: a private all-in-one cluster, daemon passes, direct node reads.

The fault tests wipe devices and change rings, so they run on a cluster of their own (same
`brume up --detach` as the session fixture, another data dir, loopback prefix and ports). Its
daemon loops are stopped so that the tests drive every pass themselves with
`python -m storage.daemons.runner CONF --once NAME`, on all nodes at once — or, for the tests
that measure healing against the daemons' own intervals, restarted with short intervals
(`run_daemon_loops`). `good_replica_count` checks replicas on disk without reading them through
a server (a read would itself find, and quarantine, the damage).
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import subprocess
import threading
from urllib.parse import quote

from cli.allinone import processes
from storage.daemons.object_auditor import AuditFailure, audit_file
from storage.objects.ondisk_files import gather_ondisk_files, list_hash_dir
from tests.integration.support import set_section_options


def stop_daemon_loops(cluster) -> None:
    for node in cluster.layout.nodes:
        cluster.kill_server(node, "daemons")


def run_daemon_loops(cluster, sections: dict[str, dict[str, str]]) -> None:
    """(Re)start every node's daemon loops with `sections`' options set in its config."""
    for node in cluster.layout.nodes:
        spec = cluster.spec(node, "daemons")
        for section, options in sections.items():
            set_section_options(spec.conf_path, section, options)
        cluster.kill_server(node, "daemons")
        cluster.start_server(node, "daemons")


def good_replica_count(cluster, account: str, container: str, obj: str,
                       data_name: str) -> int:
    """Primaries whose live file is `data_name` (a .data) and passes every check a read makes
    (metadata, size, block CRCs, MD5 = ETag); checked on disk, never through a server."""
    good = 0
    for location in cluster.object_paths(account, container, obj):
        live = gather_ondisk_files(list_hash_dir(location.hash_dir)).data_file
        if live != data_name:
            continue
        try:
            audit_file(os.path.join(location.hash_dir, live))
        except (AuditFailure, OSError):
            continue
        good += 1
    return good


def run_pass(cluster, name: str, nodes=None) -> list[dict]:
    """One pass of daemon `name` on every node (in parallel); returns each pass record."""
    nodes = list(nodes or cluster.layout.nodes)
    procs = [
        subprocess.Popen(
            processes.command(cluster.spec(node, "daemons"), "--once", name),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=processes.child_env(), cwd=cluster.data_dir,
        )
        for node in nodes
    ]
    records = []
    for node, proc in zip(nodes, procs, strict=True):
        out, err = proc.communicate(timeout=300)
        lines = [line for line in out.splitlines() if line.startswith("{")]
        assert lines, f"daemon {name} on node {node} printed no record:\n{out}\n{err}"
        record = json.loads(lines[-1])
        assert record["status"] == "ok", f"{name} on node {node} crashed: {record}\n{err}"
        records.append(record)
    return records


def heal(cluster, names=("object-replicator",), until=None, max_passes: int = 4) -> int:
    """Run passes of `names` until `until()` holds; returns the passes needed (fails if never)."""
    for done in range(1, max_passes + 1):
        for name in names:
            run_pass(cluster, name)
        if until is None or until():
            return done
    raise AssertionError(f"not healed after {max_passes} passes of {names}")


def node_address(cluster, dev: dict) -> tuple[str, int]:
    return dev["ip"], int(dev["port"])


def direct_request(cluster, ip: str, port: int, method: str, path: str, headers=None):
    """(status, headers, body) of one signed request straight to a storage server."""
    return cluster.storage_request(ip, port, method, path, headers)


def object_states(cluster, account: str, container: str, obj: str) -> list[tuple]:
    """(status, backend timestamp, md5 of the body) as each primary object server sees it."""
    ring = cluster.ring("object")
    part, nodes = ring.get_nodes(account, container, obj)
    states = []
    for dev in nodes:
        status, headers, body = direct_request(
            cluster, dev["ip"], dev["port"], "GET",
            f"/{dev['device']}/{part}/{account}/{container}/{obj}",
        )
        digest = hashlib.md5(body).hexdigest() if status == 200 else None
        states.append((status, headers.get("x-backend-timestamp"), digest))
    return states


def replicas_agree(cluster, account, container, obj, expect_status: int) -> bool:
    states = object_states(cluster, account, container, obj)
    return len(set(states)) == 1 and states[0][0] == expect_status


def node_number(cluster, dev: dict) -> int:
    """The storage node serving a ring device (by IP: one node per IP in the all-in-one)."""
    for node in cluster.layout.nodes:
        if cluster.layout.node_ip(node) == dev["ip"]:
            return node
    raise KeyError(dev["ip"])


def device_root(cluster, dev: dict) -> str:
    return os.path.join(cluster.layout.devices_root(node_number(cluster, dev)), dev["device"])


def hash_dir_files(cluster, dev: dict, part: int, digest: str) -> list[str]:
    path = os.path.join(device_root(cluster, dev), "objects", str(part), digest[-3:], digest)
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []


def on_primaries_only(cluster, account: str, container: str, obj: str) -> bool:
    """Every primary holds the object's files and no other device of the cluster does."""
    ring = cluster.ring("object")
    digest = cluster.hasher().hash_path(account, container, obj)
    part, nodes = ring.get_nodes(account, container, obj)
    primaries = {(d["ip"], d["device"]) for d in nodes}
    for dev in ring.devs:
        if dev is None:
            continue
        files = hash_dir_files(cluster, dev, part, digest)
        if (dev["ip"], dev["device"]) in primaries:
            if not any(f.endswith(".data") for f in files):
                return False
        elif files:
            return False
    return True


def container_listings(cluster, account: str, container: str) -> list[tuple]:
    """(status, object count header, names) from each primary container server."""
    ring = cluster.ring("container")
    part, nodes = ring.get_nodes(account, container)
    result = []
    for dev in nodes:
        status, headers, body = direct_request(
            cluster, dev["ip"], dev["port"], "GET",
            f"/{dev['device']}/{part}/{account}/{container}?format=json",
        )
        names = [row["name"] for row in json.loads(body)] if status == 200 else None
        result.append((status, headers.get("x-container-object-count"), names))
    return result


class Reader(threading.Thread):
    """GETs objects through the proxy in a loop; records wrong bytes (must never happen)."""

    def __init__(self, url: str, token: str, expected: dict[str, bytes]):
        super().__init__(daemon=True)
        self.url = url
        self.token = token
        self.expected = expected
        self.stop = threading.Event()
        self.wrong: list[str] = []
        self.errors = 0
        self.reads = 0

    def run(self) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(self.url)
        while not self.stop.is_set():
            for name, body in self.expected.items():
                if self.stop.is_set():
                    return
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
                try:
                    conn.request("GET", quote(f"{parts.path}/{name}"),
                                 headers={"X-Auth-Token": self.token})
                    resp = conn.getresponse()
                    data = resp.read()
                    if resp.status == 200:
                        self.reads += 1
                        if data != body:
                            self.wrong.append(name)
                    else:
                        self.errors += 1
                except (OSError, http.client.HTTPException):
                    self.errors += 1  # a cut connection is allowed; wrong bytes are not
                finally:
                    conn.close()

    def finish(self) -> Reader:
        self.stop.set()
        self.join(timeout=60)
        return self
