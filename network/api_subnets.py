"""`/v2.0/subnets`: list, show, create, update, delete (IPv4 only).

A subnet belongs to a network its project owns (admins: any). Its CIDR may not overlap
another subnet of the same network nor of the same project's networks (400, as Neutron's
"overlaps with another subnet"). Gateway and pools are validated by `network.addresses`; a
new gateway may not be an address already given to a port (409 `GatewayIpInUse`). A subnet
with an address given to a port is in use (409 `SubnetInUse`).
"""
from __future__ import annotations

import ipaddress
import json
import uuid

from network import addresses, ipam, listing, lookups, policy, views
from network.errors import NeutronError, forbidden, invalid_attr, invalid_input, short
from network.web import (
    boolean,
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

ATTRS = {"name", "description", "network_id", "cidr", "ip_version", "gateway_ip",
         "allocation_pools", "dns_nameservers", "host_routes", "enable_dhcp", "project_id",
         "tenant_id", "subnetpool_id", "use_default_subnet_pool", "ipv6_ra_mode",
         "ipv6_address_mode", "service_types", "segment_id", "prefixlen"}
FIXED = {"network_id", "cidr", "ip_version", "project_id", "tenant_id", "subnetpool_id",
         "use_default_subnet_pool", "ipv6_ra_mode", "ipv6_address_mode", "segment_id",
         "prefixlen"}


def _unsupported(doc: dict) -> None:
    for attr, ok in (("subnetpool_id", None), ("ipv6_ra_mode", None),
                     ("ipv6_address_mode", None), ("segment_id", None),
                     ("use_default_subnet_pool", False), ("service_types", [])):
        if attr in doc and doc[attr] != ok and doc[attr] is not None:
            raise invalid_input(f"{attr} is not supported by this cloud")
    version = doc.get("ip_version", 4)
    if version not in (4, "4") or isinstance(version, bool):
        raise invalid_attr("ip_version", f"'{short(version)}' is not supported: only IPv4 "
                                         f"subnets are")


def _nameservers(doc: dict, limit: int) -> list[str]:
    value = doc.get("dns_nameservers") or []
    if not isinstance(value, list):
        raise invalid_attr("dns_nameservers", "expected a list of IP addresses")
    if len(value) > limit:
        raise NeutronError(400, "DNSNameServersExhausted",
                           f"Unable to complete operation for the subnet. The number of DNS "
                           f"nameservers exceeds the limit {limit}.")
    servers = [str(addresses.parse_ip(item, "dns_nameservers")) for item in value]
    if len(set(servers)) != len(servers):
        raise invalid_attr("dns_nameservers", "duplicate nameserver")
    return servers


def _routes(doc: dict, limit: int) -> list[dict]:
    value = doc.get("host_routes") or []
    if not isinstance(value, list):
        raise invalid_attr("host_routes", "expected a list of {destination, nexthop}")
    if len(value) > limit:
        raise NeutronError(400, "HostRoutesExhausted",
                           f"Unable to complete operation for the subnet. The number of host "
                           f"routes exceeds the limit {limit}.")
    routes = []
    for item in value:
        if not isinstance(item, dict) or set(item) != {"destination", "nexthop"} \
                or not isinstance(item["destination"], str) or len(item["destination"]) > 64:
            raise invalid_attr("host_routes", "each route is {destination, nexthop}")
        try:
            destination = ipaddress.ip_network(item["destination"], strict=False)
        except ValueError:
            raise invalid_attr("host_routes", f"'{short(item['destination'])}' is not a valid "
                                              f"CIDR") from None
        if destination.version != 4:
            raise invalid_attr("host_routes", "only IPv4 routes are supported")
        route = {"destination": str(destination),
                 "nexthop": str(addresses.parse_ip(item["nexthop"], "host_routes"))}
        if route in routes:
            raise invalid_attr("host_routes", "duplicate route")
        routes.append(route)
    return routes


def _pools_json(layout: addresses.Layout) -> str:
    return json.dumps([[item["start"], item["end"]]
                       for item in addresses.render_pools(layout.pools)])


def list_subnets(service, req):
    caller = service.caller(req)
    visible = {row["id"] for row in service.store.rows("SELECT * FROM networks")
               if policy.sees_network(caller, row)}
    rows = [row for row in service.store.rows("SELECT * FROM subnets ORDER BY rowid")
            if row["network_id"] in visible]
    return json_response(listing.list_response(views.subnet_docs(rows), params(req),
                                               "subnets", req.path_url))


def show_subnet(service, req, subnet_id):
    caller = service.caller(req)
    row, _ = lookups.subnet_for(service.store, caller, subnet_id)
    doc = views.subnet_docs([row])[0]
    return json_response({"subnet": listing.select_fields([doc], params(req))[0]})


def create_subnet(service, req):
    caller = service.caller(req)
    policy.require_write(caller, "create_subnet")
    doc = json_body(req, "subnet")
    check_attrs(doc, ATTRS, "subnet")
    _unsupported(doc)
    network_id = ident(doc, "network_id", required=True)
    if doc.get("cidr") is None:
        raise invalid_input("a cidr must be given (subnet pools are not supported)")
    net = addresses.parse_cidr(doc["cidr"])
    if "prefixlen" in doc and doc["prefixlen"] != net.prefixlen:
        raise invalid_input("prefixlen conflicts with cidr")
    layout = addresses.subnet_layout(net, doc.get("gateway_ip"), doc.get("allocation_pools"),
                                     gateway_given="gateway_ip" in doc)
    config = service.config
    project_id = policy.target_project(caller, doc, "create_subnet")
    stamp = now()
    row = {"id": str(uuid.uuid4()), "network_id": network_id, "project_id": project_id,
           "name": text(doc, "name"), "description": text(doc, "description"),
           "cidr": str(net),
           "gateway_ip": None if layout.gateway is None
           else str(ipaddress.IPv4Address(layout.gateway)),
           "allocation_pools": _pools_json(layout),
           "dns_nameservers": json.dumps(_nameservers(doc, config.max_dns_nameservers)),
           "host_routes": json.dumps(_routes(doc, config.max_host_routes)),
           "enable_dhcp": int(boolean(doc, "enable_dhcp", True)),
           "created_at": stamp, "updated_at": stamp}
    with service.store.write() as tx:
        network = lookups.network_for(tx, caller, network_id)
        if not policy.owns(caller, network["project_id"]):
            raise forbidden("rule:create_subnet")
        others = tx.rows("SELECT s.cidr FROM subnets s JOIN networks n ON s.network_id = n.id"
                         " WHERE s.network_id = ? OR n.project_id = ?",
                         (network_id, network["project_id"]))
        if addresses.overlapping(net, [other["cidr"] for other in others]):
            raise invalid_input(f"Requested subnet with cidr: {net} for network: {network_id} "
                                f"overlaps with another subnet.")
        service.check_quota(tx, "subnet", "subnets", project_id)
        tx.insert("subnets", row)
        out = views.subnet_docs([tx.row("SELECT * FROM subnets WHERE id = ?", (row["id"],))])
    return json_response({"subnet": out[0]}, 201)


def update_subnet(service, req, subnet_id):
    caller = service.caller(req)
    doc = json_body(req, "subnet")
    check_attrs(doc, ATTRS, "subnet")
    read_only(doc, FIXED)
    config = service.config
    values = {}
    for key in ("name", "description"):
        if key in doc:
            values[key] = text(doc, key)
    if "enable_dhcp" in doc:
        values["enable_dhcp"] = int(boolean(doc, "enable_dhcp"))
    if "dns_nameservers" in doc:
        values["dns_nameservers"] = json.dumps(_nameservers(doc, config.max_dns_nameservers))
    if "host_routes" in doc:
        values["host_routes"] = json.dumps(_routes(doc, config.max_host_routes))
    with service.store.write() as tx:
        row, network = lookups.subnet_for(tx, caller, subnet_id)
        lookups.require_owner(caller, network, "update_subnet")
        if "gateway_ip" in doc or "allocation_pools" in doc:
            current = views.subnet_docs([row])[0]
            layout = addresses.subnet_layout(
                ipaddress.ip_network(row["cidr"]), doc.get("gateway_ip", row["gateway_ip"]),
                doc.get("allocation_pools", current["allocation_pools"]))
            if layout.gateway is not None and layout.gateway != ipam.layout_of(row).gateway \
                    and layout.gateway in ipam.taken(tx, subnet_id):
                raise NeutronError(409, "GatewayIpInUse",
                                   f"Current gateway ip {ipaddress.IPv4Address(layout.gateway)}"
                                   f" already in use by a port. Unable to update.")
            values["gateway_ip"] = None if layout.gateway is None \
                else str(ipaddress.IPv4Address(layout.gateway))
            values["allocation_pools"] = _pools_json(layout)
        tx.update("subnets", subnet_id, values, now())
        out = views.subnet_docs([tx.row("SELECT * FROM subnets WHERE id = ?", (subnet_id,))])
    return json_response({"subnet": out[0]})


def delete_subnet(service, req, subnet_id):
    caller = service.caller(req)
    with service.store.write() as tx:
        _, network = lookups.subnet_for(tx, caller, subnet_id)
        lookups.require_owner(caller, network, "delete_subnet")
        if tx.row("SELECT 1 FROM ip_allocations a JOIN ports p ON a.port_id = p.id WHERE "
                  "a.subnet_id = ? AND p.device_owner != 'network:dhcp'", (subnet_id,)):
            raise NeutronError(409, "SubnetInUse",
                               f"Unable to complete operation on subnet {subnet_id}: One or "
                               f"more ports have an IP allocation from this subnet.")
        tx.execute("DELETE FROM ip_allocations WHERE subnet_id = ?", (subnet_id,))
        tx.execute("DELETE FROM subnets WHERE id = ?", (subnet_id,))
    return empty_response()
