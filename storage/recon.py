"""Health records of a storage node: what each daemon did last, and `GET /recon/...`.

Each daemon writes the summary of its last pass atomically to `<recon_dir>/<daemon>.json`
(default recon dir: `<devices>/../recon/<name of devices>`, e.g. /srv/recon/node), shaped as

    {"daemon": "object-replicator", "start": 1700000000.1, "end": 1700000003.4,
     "duration": 3.3, "status": "ok" | "failed", "error": "" , "counts": {...}}

The storage servers answer, from those files and the node's disks:

    GET /recon/diskusage    [{"device", "mounted", "size", "used", "avail"}]
    GET /recon/async        {"async_pending": N, "devices": {dev: N}}
    GET /recon/quarantined  {"objects": N, "containers": N, "accounts": N, "devices": {...}}
    GET /recon/ringmd5      {"object.ring.gz": md5 hex | null, ...}
    GET /recon/replication  {"object"|"container"|"account": record + "age"}
    GET /recon/<daemon>     that daemon's record plus "age" (seconds since its pass ended)
    GET /recon/all          every figure above in one document (what `brume status` reads)

`recon_response` is plain logic returning (status, JSON-able value); `handle_recon` wraps it for
a webob request so any storage server can route `/recon/` to it.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time

from common.atomic_files import write_atomic
from ring.ring import RING_NAMES, is_ring_name

DAEMON_NAMES = (
    "object-replicator",
    "container-replicator",
    "account-replicator",
    "object-auditor",
    "db-auditor",
    "object-updater",
    "container-updater",
    "object-expirer",
)
_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,63}$")


def default_recon_dir(devices: str) -> str:
    """`<devices>/../recon/<devices' own name>`: beside the devices, distinct per node even
    when several nodes' device roots share a parent (the all-in-one's srv/node1..4)."""
    root = os.path.abspath(devices.rstrip("/"))
    return os.path.join(os.path.dirname(root), "recon", os.path.basename(root))


def write_record(recon_dir: str, daemon: str, record: dict) -> None:
    """Atomically replace `<recon_dir>/<daemon>.json`."""
    os.makedirs(recon_dir, exist_ok=True)
    path = os.path.join(recon_dir, f"{daemon}.json")
    write_atomic(path, json.dumps(record, sort_keys=True), mode=0o644)


def pass_record(daemon: str, start: float, end: float, counts: dict, error: str = "") -> dict:
    return {
        "daemon": daemon,
        "start": round(start, 3),
        "end": round(end, 3),
        "duration": round(end - start, 3),
        "status": "failed" if error else "ok",
        "error": error,
        "counts": counts,
    }


def read_record(recon_dir: str, daemon: str, now: float | None = None) -> dict | None:
    path = os.path.join(recon_dir, f"{daemon}.json")
    try:
        with open(path, encoding="utf-8") as handle:
            record = json.load(handle)
    except (FileNotFoundError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    now = time.time() if now is None else now
    if isinstance(record.get("end"), int | float):
        record["age"] = round(now - record["end"], 3)
    return record


def list_devices(devices: str) -> list[str]:
    try:
        return sorted(d for d in os.listdir(devices) if not d.startswith("."))
    except FileNotFoundError:
        return []


def disk_usage(devices: str) -> list[dict]:
    result = []
    for dev in list_devices(devices):
        path = os.path.join(devices, dev)
        if not os.path.isdir(path):
            result.append({"device": dev, "mounted": False, "size": 0, "used": 0, "avail": 0})
            continue
        stats = os.statvfs(path)
        size = stats.f_blocks * stats.f_frsize
        avail = stats.f_bavail * stats.f_frsize
        used = (stats.f_blocks - stats.f_bfree) * stats.f_frsize
        result.append({"device": dev, "mounted": True, "size": size, "used": used,
                       "avail": avail})
    return result


def _count_files(root: str, depth: int) -> int:
    """Entries `depth` levels below root (1 = direct children)."""
    if depth == 1:
        try:
            return len(os.listdir(root))
        except (FileNotFoundError, NotADirectoryError):
            return 0
    total = 0
    try:
        children = os.listdir(root)
    except (FileNotFoundError, NotADirectoryError):
        return 0
    for child in children:
        total += _count_files(os.path.join(root, child), depth - 1)
    return total


def async_pendings(devices: str) -> dict:
    per_dev = {
        dev: _count_files(os.path.join(devices, dev, "async_pending"), 2)
        for dev in list_devices(devices)
    }
    return {"async_pending": sum(per_dev.values()), "devices": per_dev}


def quarantined(devices: str) -> dict:
    totals = {"objects": 0, "containers": 0, "accounts": 0}
    per_dev = {}
    for dev in list_devices(devices):
        counts = {
            kind: _count_files(os.path.join(devices, dev, "quarantined", kind), 1)
            for kind in totals
        }
        per_dev[dev] = counts
        for kind, value in counts.items():
            totals[kind] += value
    return {**totals, "devices": per_dev}


def ring_md5s(conf_dir: str) -> dict:
    """{"<name>.ring.gz": md5 hex | None} of the account, container and object rings and of
    every storage policy's object ring (`object-<N>`) present in `conf_dir`."""
    try:
        stems = [name.removesuffix(".ring.gz") for name in os.listdir(conf_dir)
                 if name.endswith(".ring.gz")]
    except OSError:
        stems = []
    policy_rings = sorted(stem for stem in stems
                          if stem not in RING_NAMES and is_ring_name(stem))
    result = {}
    for name in (*RING_NAMES, *policy_rings):
        path = os.path.join(conf_dir, f"{name}.ring.gz")
        digest = hashlib.md5(usedforsecurity=False)
        try:
            with open(path, "rb") as handle:
                for chunk in iter(lambda h=handle: h.read(65536), b""):
                    digest.update(chunk)
            result[f"{name}.ring.gz"] = digest.hexdigest()
        except FileNotFoundError:
            result[f"{name}.ring.gz"] = None
    return result


def replication(recon_dir: str) -> dict:
    return {
        kind: read_record(recon_dir, f"{kind}-replicator")
        for kind in ("object", "container", "account")
    }


def recon_response(path: str, devices: str, conf_dir: str, recon_dir: str = "") -> tuple:
    """(HTTP status, JSON-able value) for a `/recon/<name>` path."""
    recon_dir = recon_dir or default_recon_dir(devices)
    name = path[len("/recon/"):] if path.startswith("/recon/") else ""
    if name == "diskusage":
        return 200, disk_usage(devices)
    if name == "async":
        return 200, async_pendings(devices)
    if name == "quarantined":
        return 200, quarantined(devices)
    if name == "ringmd5":
        return 200, ring_md5s(conf_dir)
    if name == "replication":
        return 200, replication(recon_dir)
    if name == "all":
        return 200, {
            "diskusage": disk_usage(devices),
            "async": async_pendings(devices),
            "quarantined": quarantined(devices),
            "ringmd5": ring_md5s(conf_dir),
            "daemons": {d: read_record(recon_dir, d) for d in DAEMON_NAMES},
            "time": time.time(),
        }
    if _NAME_RE.match(name):
        record = read_record(recon_dir, name)
        if record is not None:
            return 200, record
    return 404, {"error": f"no recon data named {name!r}"}


def handle_recon(request, devices: str, conf_dir: str, recon_dir: str = ""):
    """webob Request -> webob Response for GET/HEAD /recon/<name>."""
    from webob import Response

    if request.method not in ("GET", "HEAD"):
        return Response(status=405, body=b"recon is read-only\n", content_type="text/plain")
    status, value = 500, {"error": "recon failed"}
    with contextlib.suppress(OSError):
        status, value = recon_response(request.environ.get("PATH_INFO", ""), devices, conf_dir,
                                       recon_dir)
    body = json.dumps(value, sort_keys=True).encode()
    return Response(status=status, body=body, content_type="application/json")
