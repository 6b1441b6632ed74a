"""`/v2.0/ports`: list, show, create, update, delete.

A port goes on a network its project owns or a shared one (another project's unshared
network does not exist for the caller: 404). Its MAC is generated under `[network]
mac_prefix` unless given (unique per network: 409 `MacAddressInUse`); its fixed IPs are
allocated by `network.ipam` in the same transaction as the port row, so an exhausted pool
(409 `IpAddressGenerationFailure`) or a taken address (409 `IpAddressAlreadyAllocated`)
leaves no port behind. Without `security_groups` it joins its project's `default` group;
groups must be its project's. `binding:host_id` is for admins, a `network:*` device owner
for the network's owner. Deleting a port
disassociates its floating IPs; a floating IP's own port cannot be deleted (409).
"""
from __future__ import annotations

import sqlite3
import uuid

from network import ipam, listing, lookups, macs, policy, views
from network.api_security_groups import ensure_default
from network.errors import NeutronError, forbidden, invalid_attr, not_found
from network.store import Tx
from network.web import (
    boolean,
    check_attrs,
    empty_response,
    id_list,
    ident,
    json_body,
    json_response,
    now,
    params,
    read_only,
    text,
)

ATTRS = {"name", "description", "network_id", "mac_address", "admin_state_up", "device_id",
         "device_owner", "fixed_ips", "security_groups", "port_security_enabled",
         "binding:host_id", "binding:vnic_type", "binding:profile", "project_id",
         "tenant_id", "allowed_address_pairs", "extra_dhcp_opts"}
MAC_ATTEMPTS = 16


def _check_unsupported(doc: dict) -> None:
    if doc.get("binding:vnic_type", "normal") != "normal":
        raise invalid_attr("binding:vnic_type", "only 'normal' is supported")
    for attr, empty in (("binding:profile", {}), ("allowed_address_pairs", []),
                        ("extra_dhcp_opts", [])):
        if doc.get(attr) not in (None, empty):
            raise invalid_attr(attr, "not supported by this cloud")


def _host(caller, doc: dict, action: str) -> str | None:
    if "binding:host_id" not in doc:
        return None
    if not caller.is_admin:
        raise forbidden(f"rule:{action}:binding:host_id")
    return text(doc, "binding:host_id")


def _set_groups(tx: Tx, caller, port_id: str, project_id: str, wanted: list[str] | None,
                port_security: bool) -> None:
    if wanted is None:
        wanted = [ensure_default(tx, project_id)] if port_security else []
    if wanted and not port_security:
        raise NeutronError(400, "PortSecurityAndIPRequiredForSecurityGroups",
                           "Port security must be enabled and port must have an IP address "
                           "in order to use security groups.")
    tx.execute("DELETE FROM port_security_groups WHERE port_id = ?", (port_id,))
    for group_id in wanted:
        group = tx.row("SELECT project_id FROM security_groups WHERE id = ?", (group_id,))
        if group is None or group["project_id"] != project_id \
                or not policy.owns(caller, group["project_id"]):
            raise not_found("SecurityGroup", group_id)
        tx.insert("port_security_groups", {"port_id": port_id, "security_group_id": group_id})


def _insert_port(tx: Tx, service, row: dict, given_mac: bool) -> None:
    for _ in range(1 if given_mac else MAC_ATTEMPTS):
        try:
            tx.insert("ports", row)
            return
        except sqlite3.IntegrityError:
            if given_mac:
                raise NeutronError(409, "MacAddressInUse",
                                   f"Unable to complete operation for network "
                                   f"{row['network_id']}. The mac address "
                                   f"{row['mac_address']} is in use.") from None
            row["mac_address"] = macs.generate(service.config.mac_prefix,
                                               service.random_bytes)
    raise NeutronError(409, "MacAddressGenerationFailure",
                       f"Unable to generate unique mac on network {row['network_id']}.")


def _port_out(tx: Tx, port_id: str) -> dict:
    return views.port_docs(tx, [tx.row("SELECT * FROM ports WHERE id = ?", (port_id,))])[0]


def list_ports(service, req):
    caller = service.caller(req)
    rows = [row for row in service.store.rows("SELECT * FROM ports ORDER BY rowid")
            if policy.owns(caller, row["project_id"])]
    return json_response(listing.list_response(views.port_docs(service.store, rows),
                                               params(req), "ports", req.path_url))


def show_port(service, req, port_id):
    caller = service.caller(req)
    row = lookups.owned(service.store, caller, "Port", port_id)
    doc = views.port_docs(service.store, [row])[0]
    return json_response({"port": listing.select_fields([doc], params(req))[0]})


def create_port(service, req):
    caller = service.caller(req)
    policy.require_write(caller, "create_port")
    doc = json_body(req, "port")
    check_attrs(doc, ATTRS, "port")
    _check_unsupported(doc)
    network_id = ident(doc, "network_id", required=True)
    project_id = policy.target_project(caller, doc, "create_port")
    wanted_ips = None if doc.get("fixed_ips") is None else ipam.parse_fixed_ips(
        doc["fixed_ips"], service.config.max_fixed_ips_per_port)
    groups = id_list(doc, "security_groups")
    given_mac = doc.get("mac_address") is not None
    mac = macs.normalize(doc["mac_address"]) if given_mac else \
        macs.generate(service.config.mac_prefix, service.random_bytes)
    device_owner = text(doc, "device_owner")
    stamp = now()
    row = {"id": str(uuid.uuid4()), "network_id": network_id, "project_id": project_id,
           "name": text(doc, "name"), "description": text(doc, "description"),
           "mac_address": mac, "admin_state_up": int(boolean(doc, "admin_state_up", True)),
           "device_id": text(doc, "device_id"), "device_owner": device_owner,
           "binding_host_id": _host(caller, doc, "create_port") or "",
           "created_at": stamp, "updated_at": stamp}
    with service.store.write() as tx:
        network = lookups.network_for(tx, caller, network_id)
        if not policy.may_attach_to(caller, network):
            raise forbidden("rule:create_port:network")
        if device_owner.startswith("network:") and not policy.owns(caller,
                                                                   network["project_id"]):
            raise forbidden("rule:create_port:device_owner")
        security = boolean(doc, "port_security_enabled",
                           bool(network["port_security_enabled"]))
        row["port_security_enabled"] = int(security)
        service.check_quota(tx, "port", "ports", project_id)
        _insert_port(tx, service, row, given_mac)
        ipam.allocate_port(tx, network_id, row["id"], wanted_ips)
        _set_groups(tx, caller, row["id"], project_id, groups, security)
        out = _port_out(tx, row["id"])
    return json_response({"port": out}, 201)


def update_port(service, req, port_id):
    caller = service.caller(req)
    doc = json_body(req, "port")
    check_attrs(doc, ATTRS, "port")
    read_only(doc, {"network_id", "project_id", "tenant_id"})
    _check_unsupported(doc)
    values = {key: text(doc, key) for key in ("name", "description", "device_id",
                                              "device_owner") if key in doc}
    if "admin_state_up" in doc:
        values["admin_state_up"] = int(boolean(doc, "admin_state_up"))
    host = _host(caller, doc, "update_port")
    if host is not None:
        values["binding_host_id"] = host
    if doc.get("mac_address") is not None:
        if not caller.is_admin:
            raise forbidden("rule:update_port:mac_address")
        values["mac_address"] = macs.normalize(doc["mac_address"])
    wanted_ips = None if doc.get("fixed_ips") is None else ipam.parse_fixed_ips(
        doc["fixed_ips"], service.config.max_fixed_ips_per_port)
    with service.store.write() as tx:
        row = lookups.owned(tx, caller, "Port", port_id)
        lookups.require_owner(caller, row, "update_port")
        owner = values.get("device_owner", row["device_owner"])
        if owner != row["device_owner"] and not caller.is_admin and (
                owner.startswith("network:") or row["device_owner"].startswith("network:")):
            raise forbidden("rule:update_port:device_owner")
        security = boolean(doc, "port_security_enabled", bool(row["port_security_enabled"]))
        values["port_security_enabled"] = int(security)
        try:
            tx.update("ports", port_id, values, now())
        except sqlite3.IntegrityError:
            raise NeutronError(409, "MacAddressInUse",
                               f"Unable to complete operation for network "
                               f"{row['network_id']}. The mac address "
                               f"{values.get('mac_address')} is in use.") from None
        if wanted_ips is not None:
            _replace_ips(tx, row, wanted_ips)
        if "security_groups" in doc or "port_security_enabled" in doc:
            groups = id_list(doc, "security_groups")
            if groups is None and "security_groups" not in doc:
                groups = [link["security_group_id"] for link in tx.rows(
                    "SELECT security_group_id FROM port_security_groups WHERE port_id = ?",
                    (port_id,))]
            _set_groups(tx, caller, port_id, row["project_id"], groups or [], security)
        out = _port_out(tx, port_id)
    return json_response({"port": out})


def _replace_ips(tx: Tx, row: dict, wanted: list[dict]) -> None:
    """The port's fixed IPs become `wanted` (addresses asked for again are kept)."""
    tx.execute("DELETE FROM ip_allocations WHERE port_id = ?", (row["id"],))
    ipam.allocate_port(tx, row["network_id"], row["id"], wanted)
    # Floating IPs whose fixed address the port no longer has are disassociated.
    held = {a["ip_address"] for a in tx.rows(
        "SELECT ip_address FROM ip_allocations WHERE port_id = ?", (row["id"],))}
    for fip in tx.rows("SELECT id, fixed_ip_address FROM floatingips WHERE port_id = ?",
                       (row["id"],)):
        if fip["fixed_ip_address"] not in held:
            tx.update("floatingips", fip["id"], {"port_id": None, "fixed_ip_address": None},
                      now())


def delete_port(service, req, port_id):
    caller = service.caller(req)
    with service.store.write() as tx:
        row = lookups.owned(tx, caller, "Port", port_id)
        lookups.require_owner(caller, row, "delete_port")
        if row["device_owner"] == "network:floatingip":
            raise NeutronError(409, "ServicePortInUse",
                               f"Port {port_id} cannot be deleted directly via the port API: "
                               f"has device owner network:floatingip.")
        for fip in tx.rows("SELECT id FROM floatingips WHERE port_id = ?", (port_id,)):
            tx.update("floatingips", fip["id"], {"port_id": None, "fixed_ip_address": None},
                      now())
        tx.execute("DELETE FROM ports WHERE id = ?", (port_id,))
    return empty_response()
