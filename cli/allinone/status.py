"""What `brume status` reports: each process up or down, and each storage node's health.

Health figures come from the storage servers' `GET /recon/all` (see `storage.recon`; signed
with the conf dir's backend secret like every backend request): per
device disk usage, async pendings and quarantined files; per daemon the age of its last pass;
and the md5 of every ring the node has, compared with the conf dir's rings so a node running
with a stale ring stands out. Whatever cannot be fetched is reported as unknown.
"""
from __future__ import annotations

import hashlib
import json
import os
import time

from cli.allinone import processes
from cli.allinone.health import healthcheck
from cli.allinone.layout import Layout, available
from common.backend_auth import load_backend_auth
from common.config import ConfigError
from common.http_client import HTTPClientError
from storage import backend_client

RING_FILES = ("account.ring.gz", "container.ring.gz", "object.ring.gz")


def fetch_json(ip: str, port: int, path: str, auth, timeout: float = 3.0):
    """The JSON a storage server answers to a signed GET, or None."""
    try:
        response = backend_client.request(ip, port, "GET", path, auth=auth,
                                          conn_timeout=timeout, node_timeout=timeout)
        if response.status != 200:
            return None
        return json.loads(response.body)
    except (HTTPClientError, ValueError):
        return None


def local_ring_md5s(conf_dir: str) -> dict[str, str | None]:
    result = {}
    for name in RING_FILES:
        digest = hashlib.md5(usedforsecurity=False)
        try:
            with open(os.path.join(conf_dir, name), "rb") as handle:
                for chunk in iter(lambda h=handle: h.read(65536), b""):
                    digest.update(chunk)
            result[name] = digest.hexdigest()
        except FileNotFoundError:
            result[name] = None
    return result


def process_rows(layout: Layout) -> list[dict]:
    rows = []
    for spec in layout.all_specs():
        skipped = available(spec)
        pid = processes.running_pid(layout, spec)
        if pid is None and skipped and not os.path.exists(spec.conf_path):
            continue  # a service this code base does not have yet
        if pid is None:
            state = "down"
        elif spec.port is None or healthcheck(spec.ip, spec.port):
            state = "up"
        else:
            state = "unhealthy"
        rows.append({
            "name": spec.name,
            "kind": spec.kind,
            "pid": pid,
            "state": state,
            "endpoint": spec.endpoint,
            "log": layout.log_path(spec.name),
        })
    return rows


def node_health_unknown(layout: Layout, node: int) -> dict:
    return {"node": node, "ip": layout.node_ip(node), "recon": False, "devices": [],
            "daemons": {}, "rings_match": None, "ring_md5": {}}


def node_health(layout: Layout, node: int, expected_rings: dict, now: float, auth) -> dict:
    """One node's recon figures, from the first of its storage servers that answers."""
    result = node_health_unknown(layout, node)
    recon = None
    for kind in ("object", "container", "account"):
        spec = layout.storage_spec(node, kind)
        recon = fetch_json(spec.ip, spec.port, "/recon/all", auth)
        if isinstance(recon, dict):
            break
    if not isinstance(recon, dict):
        return result
    result["recon"] = True
    asyncs = (recon.get("async") or {}).get("devices", {})
    quarantine = (recon.get("quarantined") or {}).get("devices", {})
    for disk in recon.get("diskusage") or []:
        dev = disk.get("device")
        q = quarantine.get(dev) or {}
        result["devices"].append({
            "device": dev,
            "mounted": disk.get("mounted"),
            "size": disk.get("size"),
            "used": disk.get("used"),
            "avail": disk.get("avail"),
            "async_pending": asyncs.get(dev),
            "quarantined": sum(v for v in q.values() if isinstance(v, int)) if q else 0,
        })
    remote_now = recon.get("time") if isinstance(recon.get("time"), int | float) else now
    for name, record in (recon.get("daemons") or {}).items():
        if isinstance(record, dict):
            end = record.get("end")
            age = remote_now - end if isinstance(end, int | float) else record.get("age")
            result["daemons"][name] = {
                "age": round(age, 1) if isinstance(age, int | float) else None,
                "duration": record.get("duration"),
                "status": record.get("status"),
                "counts": record.get("counts"),
            }
        else:
            result["daemons"][name] = None
    md5s = recon.get("ringmd5") or {}
    result["ring_md5"] = md5s
    result["rings_match"] = all(md5s.get(k) == v for k, v in expected_rings.items())
    return result


def collect(layout: Layout) -> dict:
    now = time.time()
    rows = process_rows(layout)
    expected = local_ring_md5s(layout.conf_dir)
    try:
        auth = load_backend_auth(layout.conf_dir)
    except ConfigError:
        auth = None  # no readable brume.conf: every node's figures are unknown
    nodes = [node_health(layout, n, expected, now, auth) if auth else
             node_health_unknown(layout, n) for n in layout.nodes]
    reporting = [n for n in nodes if n["recon"]]
    rings_consistent = (
        all(n["rings_match"] for n in reporting) if reporting else None
    )
    return {
        "data_dir": layout.data_dir,
        "processes": rows,
        "all_up": bool(rows) and all(r["state"] == "up" for r in rows),
        "nodes": nodes,
        "rings": expected,
        "rings_consistent": rings_consistent,
        "endpoints": {
            "proxy": layout.proxy_url,
            "auth": layout.auth_url,
            "image": layout.image_url,
            "compute": layout.compute_url,
            "identity": layout.identity_url,
            "network": layout.network_url,
            "volume": layout.volume_url,
            "dashboard": layout.dashboard_url,
        },
    }


def human_bytes(value) -> str:
    if not isinstance(value, int | float):
        return "?"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    return "?"


def human_age(age) -> str:
    if not isinstance(age, int | float):
        return "never"
    if age < 120:
        return f"{age:.0f}s ago"
    if age < 7200:
        return f"{age / 60:.0f}m ago"
    return f"{age / 3600:.1f}h ago"


def format_table(report: dict) -> list[str]:
    lines = [f"cluster in {report['data_dir']}"]
    lines.append(f"{'PROCESS':<14} {'STATE':<10} {'PID':>7}  ENDPOINT")
    for row in report["processes"]:
        pid = str(row["pid"]) if row["pid"] else "-"
        lines.append(f"{row['name']:<14} {row['state']:<10} {pid:>7}  {row['endpoint']}")
    lines.append("")
    lines.append(f"{'NODE':<5} {'DEVICE':<7} {'USED':>9} {'AVAIL':>9} {'ASYNC':>6} "
                 f"{'QUAR':>5}  {'OBJ-REPL':<10} {'CONT-REPL':<10} {'ACCT-REPL':<10} RINGS")
    for node in report["nodes"]:
        if not node["recon"]:
            lines.append(f"{node['node']:<5} (no recon answer from {node['ip']})")
            continue
        repl = [
            human_age((node["daemons"].get(f"{kind}-replicator") or {}).get("age"))
            for kind in ("object", "container", "account")
        ]
        rings = "same" if node["rings_match"] else "DIFFERENT"
        for dev in node["devices"] or [{"device": "-"}]:
            lines.append(
                f"{node['node']:<5} {dev['device']!s:<7} {human_bytes(dev.get('used')):>9} "
                f"{human_bytes(dev.get('avail')):>9} {dev.get('async_pending', '?')!s:>6} "
                f"{dev.get('quarantined', '?')!s:>5}  {repl[0]:<10} {repl[1]:<10} "
                f"{repl[2]:<10} {rings}"
            )
    if report["rings_consistent"] is True:
        lines.append("every node has the same rings as the conf dir")
    elif report["rings_consistent"] is False:
        lines.append("WARNING: some node's rings differ from the conf dir's (see RINGS)")
    return lines
