"""`/v2.0/networks`: list, show, create, update, delete.

Creating a `shared` or `router:external` network, or making one so, is for admins. A
network with ports other than its DHCP port (floating IPs' ports included) is in use (409
`NetworkInUse`); deleting it otherwise deletes its subnets.
"""
from __future__ import annotations

import uuid

from network import listing, lookups, policy, views
from network.errors import NeutronError, forbidden
from network.web import (
    boolean,
    check_attrs,
    empty_response,
    json_body,
    json_response,
    now,
    params,
    read_only,
    text,
)

ATTRS = {"name", "description", "admin_state_up", "shared", "router:external", "mtu",
         "port_security_enabled", "project_id", "tenant_id", "availability_zone_hints"}
UPDATABLE = ATTRS - {"project_id", "tenant_id", "availability_zone_hints"}


def _mtu(doc: dict, default: int) -> int:
    value = doc.get("mtu", default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 68 <= value <= 65535:
        raise NeutronError(400, "HTTPBadRequest", "Invalid input for mtu. Reason: expected "
                                                  "an integer from 68 to 65535")
    return value


def _flags(caller, doc: dict, action: str, current: dict | None = None) -> dict:
    values = {}
    for attr, column in (("shared", "shared"), ("router:external", "external")):
        value = boolean(doc, attr)
        if value is None:
            continue
        if not caller.is_admin and value != bool((current or {}).get(column, False)):
            raise forbidden(f"rule:{action}:{attr}")
        values[column] = int(value)
    return values


def list_networks(service, req):
    caller = service.caller(req)
    rows = [row for row in service.store.rows("SELECT * FROM networks ORDER BY rowid")
            if policy.sees_network(caller, row)]
    docs = views.network_docs(service.store, rows)
    return json_response(listing.list_response(docs, params(req), "networks", req.path_url))


def show_network(service, req, network_id):
    caller = service.caller(req)
    row = lookups.network_for(service.store, caller, network_id)
    doc = views.network_docs(service.store, [row])[0]
    return json_response({"network": listing.select_fields([doc], params(req))[0]})


def create_network(service, req):
    caller = service.caller(req)
    policy.require_write(caller, "create_network")
    doc = json_body(req, "network")
    check_attrs(doc, ATTRS, "network")
    hints = doc.get("availability_zone_hints")
    if hints not in (None, []):
        raise NeutronError(400, "HTTPBadRequest", "Availability zones are not supported")
    project_id = policy.target_project(caller, doc, "create_network")
    stamp = now()
    row = {"id": str(uuid.uuid4()), "project_id": project_id, "name": text(doc, "name"),
           "description": text(doc, "description"),
           "admin_state_up": int(boolean(doc, "admin_state_up", True)),
           "shared": 0, "external": 0, "mtu": _mtu(doc, service.config.default_mtu),
           "port_security_enabled": int(boolean(doc, "port_security_enabled", True)),
           "created_at": stamp, "updated_at": stamp}
    row.update(_flags(caller, doc, "create_network"))
    with service.store.write() as tx:
        service.check_quota(tx, "network", "networks", project_id)
        tx.insert("networks", row)
        created = tx.row("SELECT * FROM networks WHERE id = ?", (row["id"],))
        out = views.network_docs(tx, [created])[0]
    return json_response({"network": out}, 201)


def update_network(service, req, network_id):
    caller = service.caller(req)
    doc = json_body(req, "network")
    check_attrs(doc, ATTRS, "network")
    read_only(doc, ATTRS - UPDATABLE)
    with service.store.write() as tx:
        row = lookups.network_for(tx, caller, network_id)
        lookups.require_owner(caller, row, "update_network")
        values = _flags(caller, doc, "update_network", row)
        for key in ("name", "description"):
            if key in doc:
                values[key] = text(doc, key)
        for key in ("admin_state_up", "port_security_enabled"):
            if key in doc:
                values[key] = int(boolean(doc, key))
        if "mtu" in doc:
            values["mtu"] = _mtu(doc, row["mtu"])
        if values.get("external") == 0 and row["external"] and tx.row(
                "SELECT 1 FROM floatingips WHERE floating_network_id = ?", (network_id,)):
            raise NeutronError(409, "NetworkInUse",
                               f"Unable to complete operation on network {network_id}. There "
                               f"are one or more floating IPs on the network.")
        tx.update("networks", network_id, values, now())
        out = views.network_docs(tx, [tx.row("SELECT * FROM networks WHERE id = ?",
                                             (network_id,))])[0]
    return json_response({"network": out})


def delete_network(service, req, network_id):
    caller = service.caller(req)
    with service.store.write() as tx:
        row = lookups.network_for(tx, caller, network_id)
        lookups.require_owner(caller, row, "delete_network")
        if tx.row("SELECT 1 FROM ports WHERE network_id = ? AND device_owner != "
                  "'network:dhcp'", (network_id,)):
            raise NeutronError(409, "NetworkInUse",
                               f"Unable to complete operation on network {network_id}. There "
                               f"are one or more ports still in use on the network.")
        tx.execute("DELETE FROM ports WHERE network_id = ?", (network_id,))
        tx.execute("DELETE FROM subnets WHERE network_id = ?", (network_id,))
        tx.execute("DELETE FROM networks WHERE id = ?", (network_id,))
    return empty_response()
