"""Simple tenant usage for billing (pure): instance-, vCPU-, RAM-MB- and disk-GB-hours.

A server is billed for the part of its life (created_at → terminated_at or now) that falls in
the report window [start, end), as Nova's os-simple-tenant-usage does.
"""
from __future__ import annotations

from datetime import UTC, datetime

from compute import states


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def server_usage(server: dict, start: float, end: float, now: float) -> dict:
    began = server["created_at"]
    ended = server["terminated_at"]
    stop = min(end, ended if ended is not None else now)
    seconds = max(0.0, stop - max(start, began))
    hours = seconds / 3600.0
    return {
        "instance_id": server["id"],
        "name": server["name"],
        "tenant_id": server["project_id"],
        "flavor": server.get("flavor_name", server["flavor_id"]),
        "hours": hours,
        "vcpus": server["vcpus"],
        "memory_mb": server["ram"],
        "local_gb": server["disk"],
        "started_at": iso(began),
        "ended_at": iso(ended),
        "state": "terminated" if server["vm_state"] == states.DELETED else server["vm_state"],
        "uptime": int(max(0.0, (ended if ended is not None else now) - began)),
    }


def tenant_usage(
    project_id: str, servers: list[dict], start: float, end: float, now: float,
    detailed: bool = True,
) -> dict:
    per_server = [server_usage(s, start, end, now) for s in servers]
    result = {
        "tenant_id": project_id,
        "start": iso(start),
        "stop": iso(end),
        "total_hours": sum(u["hours"] for u in per_server),
        "total_vcpus_usage": sum(u["hours"] * u["vcpus"] for u in per_server),
        "total_memory_mb_usage": sum(u["hours"] * u["memory_mb"] for u in per_server),
        "total_local_gb_usage": sum(u["hours"] * u["local_gb"] for u in per_server),
    }
    if detailed:
        result["server_usages"] = per_server
    return result


def usage_by_project(servers: list[dict], start: float, end: float, now: float,
                     detailed: bool) -> list[dict]:
    grouped: dict[str, list[dict]] = {}
    for server in servers:
        grouped.setdefault(server["project_id"], []).append(server)
    return [tenant_usage(p, grouped[p], start, end, now, detailed) for p in sorted(grouped)]
