"""IP allocation inside a store transaction: fixed IPs of a port, a floating IP's address.

The choice is `network.addresses` (pure); this module reads what is taken and records what
is given, in the caller's `BEGIN IMMEDIATE` transaction, so two requests never get one
address and a failure leaves nothing allocated. The primary key (subnet, address) is the
last guard: a duplicate is a 409 `IpAddressAlreadyAllocated`.
"""
from __future__ import annotations

import ipaddress
import json
import sqlite3

from network import addresses
from network.errors import NeutronError, invalid_input, short
from network.store import Tx
from network.web import ident


def layout_of(subnet: dict) -> addresses.Layout:
    pools = tuple((int(ipaddress.IPv4Address(start)), int(ipaddress.IPv4Address(end)))
                  for start, end in json.loads(subnet["allocation_pools"]))
    gateway = subnet["gateway_ip"]
    return addresses.Layout(ipaddress.ip_network(subnet["cidr"]),
                            None if gateway is None else int(ipaddress.IPv4Address(gateway)),
                            pools)


def taken(tx: Tx, subnet_id: str) -> set[int]:
    return {row["ip_int"] for row in tx.rows(
        "SELECT ip_int FROM ip_allocations WHERE subnet_id = ?", (subnet_id,))}


def record(tx: Tx, subnet: dict, port_id: str, address: int) -> dict:
    text = str(ipaddress.IPv4Address(address))
    try:
        tx.insert("ip_allocations", {"subnet_id": subnet["id"], "ip_int": address,
                                     "ip_address": text, "port_id": port_id})
    except sqlite3.IntegrityError:
        raise NeutronError(409, "IpAddressAlreadyAllocated",
                           f"IP address {text} already allocated in subnet "
                           f"{subnet['id']}") from None
    return {"subnet_id": subnet["id"], "ip_address": text}


def allocate_free(tx: Tx, subnet: dict, port_id: str) -> dict | None:
    """The next free address of the subnet's pools for the port; None when exhausted."""
    layout = layout_of(subnet)
    address = addresses.next_free(layout.pools, layout.gateway, taken(tx, subnet["id"]))
    return None if address is None else record(tx, subnet, port_id, address)


def parse_fixed_ips(value, max_count: int) -> list[dict]:
    """A client's `fixed_ips`: [{"subnet_id"?, "ip_address"?}], each with at least one."""
    if not isinstance(value, list) or len(value) > max_count:
        raise NeutronError(400, "HTTPBadRequest",
                           f"Invalid input for fixed_ips. Reason: expected a list of at most "
                           f"{max_count} objects")
    wanted = []
    for item in value:
        if not isinstance(item, dict) or not item or set(item) - {"subnet_id", "ip_address"}:
            raise NeutronError(400, "HTTPBadRequest",
                               "Invalid input for fixed_ips. Reason: each entry has a "
                               "subnet_id, an ip_address or both")
        entry = {"subnet_id": ident(item, "subnet_id")}
        if item.get("ip_address") is not None:
            entry["ip_address"] = int(addresses.parse_ip(item["ip_address"], "fixed_ips"))
        wanted.append(entry)
    return wanted


def allocate_port(tx: Tx, network_id: str, port_id: str, wanted: list[dict] | None) -> list:
    """Allocate the port's fixed IPs. `wanted` None: one address from the first IPv4 subnet
    of the network with a free one (none if the network has no subnet)."""
    subnets = tx.rows("SELECT * FROM subnets WHERE network_id = ? ORDER BY rowid",
                      (network_id,))
    if wanted is None:
        for subnet in subnets:
            got = allocate_free(tx, subnet, port_id)
            if got is not None:
                return [got]
        if subnets:
            raise NeutronError(409, "IpAddressGenerationFailure",
                               f"No more IP addresses available on network {network_id}.")
        return []
    by_id = {subnet["id"]: subnet for subnet in subnets}
    given = []
    for entry in wanted:
        address = entry.get("ip_address")
        if entry["subnet_id"] is not None:
            subnet = by_id.get(entry["subnet_id"])
            if subnet is None:
                raise invalid_input(f"Failed to create port on network {network_id}, because "
                                    f"fixed_ips included invalid subnet "
                                    f"{short(entry['subnet_id'])}")
        else:
            subnet = next((sub for sub in subnets
                           if ipaddress.IPv4Address(address) in layout_of(sub).cidr), None) \
                if address is not None else None
            if subnet is None:
                raise NeutronError(400, "InvalidIpForNetwork",
                                   f"IP address {ipaddress.IPv4Address(address)} is not a "
                                   f"valid IP for any of the subnets on the specified "
                                   f"network.")
        if address is None:
            got = allocate_free(tx, subnet, port_id)
            if got is None:
                raise NeutronError(409, "IpAddressGenerationFailure",
                                   f"No more IP addresses available for subnet "
                                   f"{subnet['id']}.")
        else:
            layout = layout_of(subnet)
            addresses.check_fixed_ip(layout.cidr, layout.gateway, address, subnet["id"])
            got = record(tx, subnet, port_id, address)
        given.append(got)
    return given
