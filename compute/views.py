"""View builders: database rows → the JSON shapes of Nova's v2.1 API."""
from __future__ import annotations

import hashlib
import json
import time

from compute import states
from compute.host_load import uptime_text
from compute.network_info import addresses
from compute.usage import iso


def iso_z(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def links(base_url: str, project_id: str, kind: str, item_id: str) -> list[dict]:
    return [
        {"rel": "self", "href": f"{base_url}/v2.1/{project_id}/{kind}/{item_id}"},
        {"rel": "bookmark", "href": f"{base_url}/{project_id}/{kind}/{item_id}"},
    ]


def flavor_view(flavor: dict, base_url: str, project_id: str, detail: bool = True) -> dict:
    view = {
        "id": flavor["id"],
        "name": flavor["name"],
        "links": links(base_url, project_id, "flavors", flavor["id"]),
    }
    if detail:
        view.update(
            vcpus=flavor["vcpus"],
            ram=flavor["ram"],
            disk=flavor["disk"],
            swap="",
            rxtx_factor=1.0,
            description=None,
            **{
                "OS-FLV-EXT-DATA:ephemeral": 0,
                "OS-FLV-DISABLED:disabled": False,
                "os-flavor-access:is_public": bool(flavor["is_public"]),
            },
        )
    return view


def host_id(project_id: str, host: str | None) -> str:
    if not host:
        return ""
    return hashlib.sha224((project_id + host).encode("utf-8")).hexdigest()


def host_status_of(host: dict, now: float, window: float) -> str:
    """Nova's `host_status` of a server's host: UP, DOWN (agent silent) or MAINTENANCE."""
    if not is_up(host, now, window):
        return "DOWN"
    return "UP" if host["enabled"] else "MAINTENANCE"


def server_view(server: dict, base_url: str, is_admin: bool, detail: bool = True,
                host_status: str = "") -> dict:
    """A server as Nova shows it; `host_status` (microversion 2.16) is its host's state: in
    full to admins, to others only UNKNOWN when the host is down (Nova's unknown-only rule),
    so a server on a dead host is not shown as plainly ACTIVE."""
    project = server["project_id"]
    view = {
        "id": server["id"],
        "name": server["name"],
        "links": links(base_url, project, "servers", server["id"]),
    }
    if not detail:
        return view
    status = states.status_of(server["vm_state"], server["task_state"])
    view.update(
        {
            "status": status,
            "tenant_id": project,
            "user_id": server["user_id"],
            "metadata": server["metadata"],
            "hostId": host_id(project, server["host"]),
            "image": {
                "id": server["image_ref"],
                "links": [{"rel": "bookmark",
                           "href": f"{base_url}/{project}/images/{server['image_ref']}"}],
            } if server["image_ref"] else "",  # booted from a volume: "" as in Nova
            "os-extended-volumes:volumes_attached": [
                {"id": item["volume_id"],
                 "delete_on_termination": bool(item.get("delete_on_termination"))}
                for item in server.get("block_devices") or []],
            "flavor": {
                "id": server["flavor_id"],
                "links": [{"rel": "bookmark",
                           "href": f"{base_url}/{project}/flavors/{server['flavor_id']}"}],
            },
            "created": iso_z(server["created_at"]),
            "updated": iso_z(server["updated_at"]),
            "addresses": addresses(server.get("network_info") or []),
            "accessIPv4": "",
            "accessIPv6": "",
            "key_name": server.get("key_name"),
            "config_drive": "True" if server.get("config_drive") else "",
            "progress": 100 if status == "ACTIVE" else 0,
            "OS-DCF:diskConfig": "MANUAL",
            "OS-EXT-AZ:availability_zone": server["availability_zone"] or "",
            "OS-EXT-STS:vm_state": server["vm_state"],
            "OS-EXT-STS:task_state": server["task_state"],
            "OS-EXT-STS:power_state": server["power_state"],
            "OS-SRV-USG:launched_at": _usg(server["launched_at"]),
            "OS-SRV-USG:terminated_at": _usg(server["terminated_at"]),
        }
    )
    if server["vm_state"] == states.ERROR and server["fault_message"]:
        view["fault"] = {
            "message": server["fault_message"],
            "code": server["fault_code"] or 500,
            "created": iso_z(server["fault_created"]),
        }
    if is_admin:
        view["host_status"] = host_status if server["host"] else ""
    elif server["host"] and host_status == "DOWN":
        view["host_status"] = "UNKNOWN"
    if is_admin:
        view["OS-EXT-SRV-ATTR:host"] = server["host"]
        view["OS-EXT-SRV-ATTR:hypervisor_hostname"] = server["host"]
        view["OS-EXT-SRV-ATTR:instance_name"] = "brume-" + server["id"]
    return view


def _usg(ts: float | None) -> str | None:
    return iso(ts)


def is_up(host: dict, now: float, window: float) -> bool:
    return now - host["last_heartbeat"] <= window


def hypervisor_view(host: dict, used: dict | None, now: float, window: float,
                    detail: bool) -> dict:
    view = {
        "id": host["id"],
        "hypervisor_hostname": host["name"],
        "state": "up" if is_up(host, now, window) else "down",
        "status": "enabled" if host["enabled"] else "disabled",
    }
    if not detail:
        return view
    used = used or {}
    vcpus_used = used.get("vcpus") or 0
    ram_used = used.get("ram") or 0
    disk_used = used.get("disk") or 0
    view.update(
        vcpus=host["vcpus"],
        vcpus_used=vcpus_used,
        memory_mb=host["memory_mb"],
        memory_mb_used=ram_used,
        free_ram_mb=host["memory_mb"] - ram_used,
        local_gb=host["local_gb"],
        local_gb_used=disk_used,
        free_disk_gb=host["local_gb"] - disk_used,
        disk_available_least=host["local_gb"] - disk_used,
        running_vms=used.get("instances") or 0,
        current_workload=0,
        hypervisor_type=host["hypervisor_type"],
        hypervisor_version=host["hypervisor_version"],
        host_ip=host["host_ip"],
        service={"host": host["name"], "id": host["id"],
                 "disabled_reason": host["disabled_reason"]},
        availability_zone=host["availability_zone"],
        uptime=host_uptime(host),  # in the details as of microversion 2.88; extra before
    )
    return view


def host_uptime(host: dict) -> str | None:
    """Nova's `uptime` text of the host's last heartbeat, or None before one carried it."""
    try:
        load = json.loads(host.get("load_average") or "null")
    except ValueError:
        load = None
    return uptime_text(host.get("uptime_seconds"), load, host["last_heartbeat"])


def service_view(host: dict, now: float, window: float) -> dict:
    return {
        "id": host["id"],
        "binary": "nova-compute",
        "host": host["name"],
        "zone": host["availability_zone"],
        "status": "enabled" if host["enabled"] else "disabled",
        "state": "up" if is_up(host, now, window) else "down",
        "updated_at": iso(host["last_heartbeat"]),
        "disabled_reason": host["disabled_reason"],
        "forced_down": False,
    }


def quota_set_view(project_id: str, limits: dict) -> dict:
    return {"quota_set": {"id": project_id, **limits}}
