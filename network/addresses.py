"""IPv4 subnet arithmetic with no IO: CIDRs, gateways, allocation pools, overlaps, IP choice.

Addresses are handled as `ipaddress` objects and pools as sorted `(first, last)` integer
pairs. `subnet_layout` validates what a client asked for (CIDR, gateway, pools) and fills in
Neutron's defaults: the gateway is the first host, the pools every other host. `next_free`
chooses the lowest free address of the pools (never the gateway, never an allocated one);
`check_fixed_ip` says whether a requested address may be given to a port. Problems are
`NeutronError`s with Neutron's types and statuses.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from network.errors import NeutronError, invalid_attr, invalid_input, short

Pool = tuple[int, int]


@dataclass(frozen=True)
class Layout:
    cidr: ipaddress.IPv4Network
    gateway: int | None
    pools: tuple[Pool, ...]


def parse_cidr(value) -> ipaddress.IPv4Network:
    """A strict IPv4 CIDR (host bits clear, prefix 1..32); 400 otherwise."""
    if not isinstance(value, str) or len(value) > 64:
        raise invalid_attr("cidr", f"'{short(value)}' is not a valid IP subnet")
    try:
        net = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise invalid_attr("cidr", f"'{short(value)}' is not a valid IP subnet") from None
    if net.version != 4:
        raise invalid_attr("cidr", "only IPv4 subnets are supported")
    if str(net) != value.strip() and "/" in value:
        raise invalid_attr("cidr", f"'{short(value)}' isn't a recognized IP subnet cidr, "
                                   f"'{net}' is recommended")
    if "/" not in value:
        raise invalid_attr("cidr", f"'{short(value)}' is not a valid IP subnet")
    if net.prefixlen == 0:
        raise invalid_input("0.0.0.0/0 is not allowed as a subnet cidr")
    return net


def parse_ip(value, attr: str) -> ipaddress.IPv4Address:
    if not isinstance(value, str) or len(value) > 64:
        raise invalid_attr(attr, f"'{short(value)}' is not a valid IP address")
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise invalid_attr(attr, f"'{short(value)}' is not a valid IP address") from None
    if address.version != 4:
        raise invalid_attr(attr, f"'{short(value)}' is not an IPv4 address")
    return address


def host_range(net: ipaddress.IPv4Network) -> Pool:
    """The first and last assignable addresses (all of a /31 or /32)."""
    first, last = int(net.network_address), int(net.broadcast_address)
    if net.prefixlen >= 31:
        return first, last
    return first + 1, last - 1


def is_host(net: ipaddress.IPv4Network, address: int) -> bool:
    first, last = host_range(net)
    return first <= address <= last


def default_pools(net: ipaddress.IPv4Network, gateway: int | None) -> tuple[Pool, ...]:
    first, last = host_range(net)
    if gateway is None or not first <= gateway <= last:
        return ((first, last),)
    pools = []
    if first <= gateway - 1:
        pools.append((first, gateway - 1))
    if gateway + 1 <= last:
        pools.append((gateway + 1, last))
    return tuple(pools)


def parse_pools(net: ipaddress.IPv4Network, value) -> tuple[Pool, ...]:
    """Client `allocation_pools` ([{"start", "end"}]): inside the subnet's hosts, ordered,
    not overlapping."""
    if not isinstance(value, list) or len(value) > 64:
        raise invalid_attr("allocation_pools", "expected a list of {start, end} objects")
    pools = []
    for item in value:
        if not isinstance(item, dict) or set(item) != {"start", "end"}:
            raise invalid_attr("allocation_pools", "each pool needs exactly start and end")
        start = int(parse_ip(item["start"], "allocation_pools"))
        end = int(parse_ip(item["end"], "allocation_pools"))
        text = f"{ipaddress.IPv4Address(start)}-{ipaddress.IPv4Address(end)}"
        if start > end:
            raise NeutronError(400, "InvalidAllocationPool",
                               f"The allocation pool {text} is not valid.")
        if not (is_host(net, start) and is_host(net, end)):
            raise NeutronError(400, "OutOfBoundsAllocationPool",
                               f"The allocation pool {text} spans beyond the subnet cidr "
                               f"{net}.")
        pools.append((start, end))
    pools.sort()
    for (_, end_a), (start_b, end_b) in zip(pools, pools[1:], strict=False):
        if start_b <= end_a:
            raise NeutronError(409, "OverlappingAllocationPools",
                               f"Found overlapping allocation pools: "
                               f"{ipaddress.IPv4Address(start_b)}-"
                               f"{ipaddress.IPv4Address(end_b)} for subnet {net}.")
    return tuple(pools)


def in_pools(pools: Iterable[Pool], address: int) -> bool:
    return any(start <= address <= end for start, end in pools)


def subnet_layout(net: ipaddress.IPv4Network, gateway_value, pools_value,
                  gateway_given: bool = True) -> Layout:
    """The subnet's gateway and pools, from what the client sent (None = default)."""
    if not gateway_given:
        gateway = host_range(net)[0] if net.prefixlen < 31 else None
    elif gateway_value is None:
        gateway = None
    else:
        gateway = int(parse_ip(gateway_value, "gateway_ip"))
        if not is_host(net, gateway):
            raise NeutronError(400, "InvalidInput",
                               f"Invalid input for operation: Gateway is not valid on subnet: "
                               f"gateway {ipaddress.IPv4Address(gateway)} is not a host of "
                               f"{net}.")
    if pools_value is None:
        pools = default_pools(net, gateway)
    else:
        pools = parse_pools(net, pools_value)
        if gateway is not None and in_pools(pools, gateway):
            raise NeutronError(409, "GatewayConflictWithAllocationPools",
                               f"Gateway ip {ipaddress.IPv4Address(gateway)} conflicts with "
                               f"allocation pool.")
    return Layout(net, gateway, pools)


def overlapping(net: ipaddress.IPv4Network, others: Iterable[str]) -> str | None:
    """The first CIDR of `others` that shares an address with `net`, else None."""
    for other in others:
        if net.overlaps(ipaddress.ip_network(other)):
            return other
    return None


def next_free(pools: Iterable[Pool], gateway: int | None, allocated) -> int | None:
    """The lowest address of the pools that is neither the gateway nor in `allocated` (a set
    of ints); None when the pools are exhausted. At most len(allocated) + 2 probes."""
    for start, end in sorted(pools):
        address = start
        while address <= end:
            if address != gateway and address not in allocated:
                return address
            address += 1
    return None


def check_fixed_ip(net: ipaddress.IPv4Network, gateway: int | None, address: int,
                   subnet_id: str) -> None:
    """A specific address asked for a port: a host of the subnet that is not its gateway (it
    may lie outside the pools, as in Neutron)."""
    text = str(ipaddress.IPv4Address(address))
    if not is_host(net, address):
        raise NeutronError(400, "InvalidIpForSubnet",
                           f"IP address {text} is not a valid IP for the specified subnet.")
    if address == gateway:
        raise NeutronError(409, "IpAddressInUse",
                           f"Unable to complete operation for network. The IP address {text} "
                           f"is the gateway of subnet {subnet_id}.")


def render_pools(pools: Iterable[Pool]) -> list[dict]:
    return [{"start": str(ipaddress.IPv4Address(start)), "end": str(ipaddress.IPv4Address(end))}
            for start, end in pools]


def pool_size(pools: Iterable[Pool], gateway: int | None = None) -> int:
    total = sum(end - start + 1 for start, end in pools)
    return total - (1 if gateway is not None and in_pools(pools, gateway) else 0)
