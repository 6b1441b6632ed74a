"""Store rows rendered as Neutron's resource documents (networks, subnets, ports, groups,
rules, floating IPs), with the attributes openstacksdk and the CLI read.

Each `*_docs` function renders many rows with one query per related table.
"""
from __future__ import annotations

import json

from network.store import Store, Tx

_STANDARD = ("created_at", "updated_at", "revision_number")


def _marks(ids) -> str:
    return ", ".join("?" for _ in ids)


def _standard(row: dict) -> dict:
    doc = {key: row[key] for key in _STANDARD}
    doc["tags"] = []
    return doc


def network_docs(db: Store | Tx, rows: list[dict]) -> list[dict]:
    ids = [row["id"] for row in rows]
    subnets: dict[str, list[str]] = {}
    if ids:
        for sub in db.rows(f"SELECT id, network_id FROM subnets WHERE network_id IN "
                           f"({_marks(ids)}) ORDER BY rowid", tuple(ids)):
            subnets.setdefault(sub["network_id"], []).append(sub["id"])
    return [{
        "id": row["id"], "name": row["name"], "description": row["description"],
        "project_id": row["project_id"], "tenant_id": row["project_id"],
        "admin_state_up": bool(row["admin_state_up"]), "status": "ACTIVE",
        "shared": bool(row["shared"]), "router:external": bool(row["external"]),
        "mtu": row["mtu"], "port_security_enabled": bool(row["port_security_enabled"]),
        "subnets": subnets.get(row["id"], []), "availability_zone_hints": [],
        "availability_zones": [], "ipv4_address_scope": None, "ipv6_address_scope": None,
        "is_default": False, "l2_adjacency": True, **_standard(row),
    } for row in rows]


def subnet_docs(rows: list[dict]) -> list[dict]:
    docs = []
    for row in rows:
        pools = json.loads(row["allocation_pools"])
        docs.append({
            "id": row["id"], "name": row["name"], "description": row["description"],
            "network_id": row["network_id"], "project_id": row["project_id"],
            "tenant_id": row["project_id"], "ip_version": 4, "cidr": row["cidr"],
            "gateway_ip": row["gateway_ip"],
            "allocation_pools": [{"start": start, "end": end} for start, end in pools],
            "dns_nameservers": json.loads(row["dns_nameservers"]),
            "host_routes": json.loads(row["host_routes"]),
            "enable_dhcp": bool(row["enable_dhcp"]), "ipv6_ra_mode": None,
            "ipv6_address_mode": None, "subnetpool_id": None, "service_types": [],
            "segment_id": None, **_standard(row),
        })
    return docs


def port_docs(db: Store | Tx, rows: list[dict]) -> list[dict]:
    ids = [row["id"] for row in rows]
    fixed: dict[str, list[dict]] = {}
    groups: dict[str, list[str]] = {}
    if ids:
        for alloc in db.rows(f"SELECT port_id, subnet_id, ip_address FROM ip_allocations "
                             f"WHERE port_id IN ({_marks(ids)}) ORDER BY rowid", tuple(ids)):
            fixed.setdefault(alloc["port_id"], []).append(
                {"subnet_id": alloc["subnet_id"], "ip_address": alloc["ip_address"]})
        for link in db.rows(f"SELECT port_id, security_group_id FROM port_security_groups "
                            f"WHERE port_id IN ({_marks(ids)}) ORDER BY rowid", tuple(ids)):
            groups.setdefault(link["port_id"], []).append(link["security_group_id"])
    docs = []
    for row in rows:
        host = row["binding_host_id"]
        docs.append({
            "id": row["id"], "name": row["name"], "description": row["description"],
            "network_id": row["network_id"], "project_id": row["project_id"],
            "tenant_id": row["project_id"], "mac_address": row["mac_address"],
            "admin_state_up": bool(row["admin_state_up"]),
            "status": "ACTIVE" if host and row["admin_state_up"] else "DOWN",
            "device_id": row["device_id"], "device_owner": row["device_owner"],
            "fixed_ips": fixed.get(row["id"], []),
            "security_groups": groups.get(row["id"], []),
            "port_security_enabled": bool(row["port_security_enabled"]),
            "binding:host_id": host, "binding:vif_type": "bridge" if host else "unbound",
            "binding:vnic_type": "normal", "binding:profile": {}, "binding:vif_details": {},
            "allowed_address_pairs": [], "extra_dhcp_opts": [], **_standard(row),
        })
    return docs


def rule_docs(rows: list[dict]) -> list[dict]:
    return [{
        "id": row["id"], "security_group_id": row["security_group_id"],
        "project_id": row["project_id"], "tenant_id": row["project_id"],
        "direction": row["direction"], "ethertype": row["ethertype"],
        "protocol": row["protocol"], "port_range_min": row["port_range_min"],
        "port_range_max": row["port_range_max"], "remote_ip_prefix": row["remote_ip_prefix"],
        "remote_group_id": row["remote_group_id"], "remote_address_group_id": None,
        "normalized_cidr": row["remote_ip_prefix"], "description": row["description"],
        **_standard(row),
    } for row in rows]


def group_docs(db: Store | Tx, rows: list[dict]) -> list[dict]:
    ids = [row["id"] for row in rows]
    rules: dict[str, list[dict]] = {}
    if ids:
        found = db.rows(f"SELECT * FROM security_group_rules WHERE security_group_id IN "
                        f"({_marks(ids)}) ORDER BY rowid", tuple(ids))
        for doc in rule_docs(found):
            rules.setdefault(doc["security_group_id"], []).append(doc)
    return [{
        "id": row["id"], "name": row["name"], "description": row["description"],
        "project_id": row["project_id"], "tenant_id": row["project_id"],
        "stateful": bool(row["stateful"]), "shared": False,
        "security_group_rules": rules.get(row["id"], []), **_standard(row),
    } for row in rows]


def floatingip_docs(db: Store | Tx, rows: list[dict]) -> list[dict]:
    port_ids = [row["port_id"] for row in rows if row["port_id"]]
    ports = {}
    if port_ids:
        for port in port_docs(db, db.rows(f"SELECT * FROM ports WHERE id IN "
                                          f"({_marks(port_ids)})", tuple(port_ids))):
            ports[port["id"]] = port
    docs = []
    for row in rows:
        port = ports.get(row["port_id"])
        details = None if port is None else {
            key: port[key] for key in ("name", "network_id", "mac_address", "admin_state_up",
                                       "status", "device_id", "device_owner")}
        docs.append({
            "id": row["id"], "project_id": row["project_id"], "tenant_id": row["project_id"],
            "floating_network_id": row["floating_network_id"],
            "floating_ip_address": row["floating_ip_address"], "router_id": None,
            "port_id": row["port_id"], "fixed_ip_address": row["fixed_ip_address"],
            "status": "ACTIVE" if row["port_id"] else "DOWN",
            "description": row["description"], "port_details": details,
            "dns_domain": "", "dns_name": "", "qos_policy_id": None, **_standard(row),
        })
    return docs
