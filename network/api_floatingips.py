"""`/v2.0/floatingips`: allocate, show, list, associate / disassociate, release.

A floating IP is allocated from a subnet of a `router:external` network (400 for any other
network; 409 `IpAddressGenerationFailure` when exhausted) and held by a port of that network
owned by no project (`device_owner` `network:floatingip`), as in Neutron. Associating it
(`port_id`, optionally `fixed_ip_address`) needs a port of the floating IP's project with an
IPv4 fixed address; one fixed address has at most one floating IP (409). Choosing an exact
floating address is for admins. There are no routers yet: association does not check that
the port's network is routed to the external one (the datapath will).
"""
from __future__ import annotations

import sqlite3
import uuid

from network import addresses, ipam, listing, lookups, macs, policy, views
from network.errors import NeutronError, bad_request, forbidden, not_found
from network.store import Tx
from network.web import (
    check_attrs,
    empty_response,
    ident,
    json_body,
    json_response,
    now,
    params,
    read_only,
    text,
)

ATTRS = {"floating_network_id", "floating_ip_address", "subnet_id", "port_id",
         "fixed_ip_address", "description", "project_id", "tenant_id", "dns_domain",
         "dns_name", "qos_policy_id"}


def _association(tx: Tx, caller, fip_project: str, network_id: str, port_id: str | None,
                 fixed_text, fip_id: str | None) -> tuple[str | None, str | None]:
    """(port_id, fixed_ip_address) to record, validated."""
    if port_id is None:
        if fixed_text is not None:
            raise bad_request("fixed_ip_address requires a port_id")
        return None, None
    port = tx.row("SELECT * FROM ports WHERE id = ?", (port_id,))
    if port is None or not policy.owns(caller, port["project_id"]):
        raise not_found("Port", port_id)
    if port["project_id"] != fip_project:
        raise bad_request(f"Cannot create floating IP and bind it to Port {port_id}, since "
                          f"that port is owned by a different tenant.")
    if port["network_id"] == network_id:
        raise bad_request(f"Port {port_id} is on the floating IP's external network.")
    fixed = [row["ip_address"] for row in tx.rows(
        "SELECT ip_address FROM ip_allocations WHERE port_id = ? ORDER BY rowid", (port_id,))]
    if fixed_text is not None:
        wanted = str(addresses.parse_ip(fixed_text, "fixed_ip_address"))
        if wanted not in fixed:
            raise bad_request(f"Port {port_id} does not have fixed ip {wanted}")
    elif not fixed:
        raise bad_request(f"Cannot add floating IP to port {port_id} that has no fixed IPv4 "
                          f"addresses")
    else:
        wanted = fixed[0]
    other = tx.row("SELECT id FROM floatingips WHERE port_id = ? AND fixed_ip_address = ?",
                   (port_id, wanted))
    if other is not None and other["id"] != fip_id:
        raise NeutronError(409, "FloatingIPPortAlreadyAssociated",
                           f"Cannot associate floating IP with port {port_id} using fixed IP "
                           f"{wanted}, as that fixed IP already has a floating IP "
                           f"{other['id']}.")
    return port_id, wanted


def list_floatingips(service, req):
    caller = service.caller(req)
    rows = [row for row in service.store.rows("SELECT * FROM floatingips ORDER BY rowid")
            if policy.owns(caller, row["project_id"])]
    return json_response(listing.list_response(views.floatingip_docs(service.store, rows),
                                               params(req), "floatingips", req.path_url))


def show_floatingip(service, req, fip_id):
    caller = service.caller(req)
    row = lookups.owned(service.store, caller, "FloatingIP", fip_id)
    doc = views.floatingip_docs(service.store, [row])[0]
    return json_response({"floatingip": listing.select_fields([doc], params(req))[0]})


def create_floatingip(service, req):
    caller = service.caller(req)
    policy.require_write(caller, "create_floatingip")
    doc = json_body(req, "floatingip")
    check_attrs(doc, ATTRS, "floatingip")
    for attr in ("dns_domain", "dns_name", "qos_policy_id"):
        if doc.get(attr) not in (None, ""):
            raise bad_request(f"{attr} is not supported by this cloud")
    network_id = ident(doc, "floating_network_id", required=True)
    subnet_id = ident(doc, "subnet_id")
    port_id = ident(doc, "port_id")
    project_id = policy.target_project(caller, doc, "create_floatingip")
    address = None
    if doc.get("floating_ip_address") is not None:
        if not caller.is_admin:
            raise forbidden("rule:create_floatingip:floating_ip_address")
        address = int(addresses.parse_ip(doc["floating_ip_address"], "floating_ip_address"))
    fip_id = str(uuid.uuid4())
    stamp = now()
    with service.store.write() as tx:
        network = lookups.network_for(tx, caller, network_id)
        if not network["external"]:
            raise bad_request(f"Bad floatingip request: Network {network_id} is not a valid "
                              f"external network.")
        service.check_quota(tx, "floatingip", "floatingips", project_id)
        wanted = None
        if subnet_id is not None or address is not None:
            entry = {"subnet_id": subnet_id}
            if address is not None:
                entry["ip_address"] = address
            wanted = [entry]
        port = {"id": str(uuid.uuid4()), "network_id": network_id, "project_id": "",
                "mac_address": macs.generate(service.config.mac_prefix, service.random_bytes),
                "device_id": fip_id, "device_owner": "network:floatingip",
                "port_security_enabled": 0, "created_at": stamp, "updated_at": stamp}
        try:
            tx.insert("ports", port)
        except sqlite3.IntegrityError:
            raise NeutronError(409, "MacAddressGenerationFailure",
                               f"Unable to generate unique mac on network {network_id}.") \
                from None
        given = ipam.allocate_port(tx, network_id, port["id"], wanted)
        if not given:
            raise NeutronError(400, "BadRequest", f"Bad floatingip request: Network "
                                                  f"{network_id} has no subnet.")
        fixed_port, fixed_ip = _association(tx, caller, project_id, network_id, port_id,
                                            doc.get("fixed_ip_address"), fip_id)
        tx.insert("floatingips", {
            "id": fip_id, "project_id": project_id, "floating_network_id": network_id,
            "floating_ip_address": given[0]["ip_address"], "floating_port_id": port["id"],
            "port_id": fixed_port, "fixed_ip_address": fixed_ip,
            "description": text(doc, "description"), "created_at": stamp,
            "updated_at": stamp})
        out = views.floatingip_docs(tx, [tx.row("SELECT * FROM floatingips WHERE id = ?",
                                                (fip_id,))])[0]
    return json_response({"floatingip": out}, 201)


def update_floatingip(service, req, fip_id):
    caller = service.caller(req)
    doc = json_body(req, "floatingip")
    check_attrs(doc, ATTRS, "floatingip")
    read_only(doc, {"floating_network_id", "floating_ip_address", "subnet_id", "project_id",
                    "tenant_id", "dns_domain", "dns_name"})
    values = {}
    if "description" in doc:
        values["description"] = text(doc, "description")
    with service.store.write() as tx:
        row = lookups.owned(tx, caller, "FloatingIP", fip_id)
        lookups.require_owner(caller, row, "update_floatingip")
        if "port_id" in doc:
            port_id = ident(doc, "port_id")
            values["port_id"], values["fixed_ip_address"] = _association(
                tx, caller, row["project_id"], row["floating_network_id"], port_id,
                doc.get("fixed_ip_address"), fip_id)
        elif doc.get("fixed_ip_address") is not None:
            if row["port_id"] is None:
                raise bad_request("fixed_ip_address requires a port_id")
            values["port_id"], values["fixed_ip_address"] = _association(
                tx, caller, row["project_id"], row["floating_network_id"], row["port_id"],
                doc["fixed_ip_address"], fip_id)
        tx.update("floatingips", fip_id, values, now())
        out = views.floatingip_docs(tx, [tx.row("SELECT * FROM floatingips WHERE id = ?",
                                                (fip_id,))])[0]
    return json_response({"floatingip": out})


def delete_floatingip(service, req, fip_id):
    caller = service.caller(req)
    with service.store.write() as tx:
        row = lookups.owned(tx, caller, "FloatingIP", fip_id)
        lookups.require_owner(caller, row, "delete_floatingip")
        tx.execute("DELETE FROM floatingips WHERE id = ?", (fip_id,))
        tx.execute("DELETE FROM ports WHERE id = ?", (row["floating_port_id"],))
    return empty_response()

