"""Security-group rules with no IO: Neutron's validation and normalization, the default rules.

`parse_rule(doc)` checks a client's rule (direction, ethertype, protocol by name or number,
port range or ICMP type/code, remote IP prefix or remote group, not both) and returns the
stored fields plus `proto_key`, the protocol's number, by which duplicates are recognized
("tcp" and "6" are the same rule). `default_group_rules` are Neutron's rules of a project's
`default` group: all egress open, ingress only from members of the group itself;
`new_group_rules` are the egress rules every other new group starts with.
"""
from __future__ import annotations

import ipaddress

from network.errors import NeutronError, invalid_attr, short

PROTOCOLS = {"ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "icmp": 1, "icmpv6": 58,
             "igmp": 2, "ipip": 4, "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58,
             "ipv6-nonxt": 59, "ipv6-opts": 60, "ipv6-route": 43, "ospf": 89, "pgm": 113,
             "rsvp": 46, "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136, "vrrp": 112}
PORT_PROTOCOLS = {6, 17, 33, 132, 136}
ICMP_PROTOCOLS = {1, 58}
DIRECTIONS = ("ingress", "egress")
ETHERTYPES = ("IPv4", "IPv6")
RULE_ATTRS = {"security_group_id", "direction", "ethertype", "protocol", "port_range_min",
              "port_range_max", "remote_ip_prefix", "remote_group_id", "description",
              "project_id", "tenant_id", "remote_address_group_id"}


def _protocol(value) -> tuple[str | None, int | None]:
    """(protocol as stored, its number); (None, None) for any protocol."""
    if value is None or (isinstance(value, str) and value.lower() in ("", "any")):
        return None, None
    if isinstance(value, bool):
        raise _bad_protocol(value)
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        raise _bad_protocol(value)
    lowered = value.lower()
    if lowered in PROTOCOLS:
        return lowered, PROTOCOLS[lowered]
    if lowered.isdigit() and lowered.isascii() and int(lowered) <= 255:
        return str(int(lowered)), int(lowered)
    raise _bad_protocol(value)


def _bad_protocol(value) -> NeutronError:
    return NeutronError(400, "SecurityGroupRuleInvalidProtocol",
                        f"Security group rule protocol {short(value)} not supported. Only "
                        f"protocol values {sorted(PROTOCOLS)} and integer representations "
                        f"[0 to 255] are supported.")


def _port(value, attr: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.isdigit() and value.isascii():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise invalid_attr(attr, f"'{short(value)}' is not a valid port number")
    return value


def _check_ports(proto_key: int | None, low: int | None, high: int | None) -> None:
    if low is None and high is None:
        return
    if proto_key is None:
        raise NeutronError(400, "SecurityGroupProtocolRequiredWithPorts",
                           "Must also specify protocol if port range is given.")
    if proto_key in ICMP_PROTOCOLS:
        for attr, value in (("type", low), ("code", high)):
            if value is not None and value > 255:
                raise NeutronError(400, "SecurityGroupInvalidIcmpValue",
                                   f"Invalid value for ICMP {attr} (port-range-"
                                   f"{'min' if attr == 'type' else 'max'}) {value}. It must "
                                   f"be 0 to 255.")
        if low is None and high is not None:
            raise NeutronError(400, "SecurityGroupMissingIcmpType",
                               f"ICMP code (port-range-max) {high} is provided but ICMP type "
                               f"(port-range-min) is missing.")
        return
    if proto_key not in PORT_PROTOCOLS:
        raise NeutronError(400, "SecurityGroupInvalidProtocolForPort",
                           "Invalid protocol for port range, only supported for TCP, UDP, "
                           "UDPLITE, SCTP and DCCP.")
    if low is None or high is None:
        raise NeutronError(400, "SecurityGroupInvalidPortRange",
                           "For TCP/UDP protocols, port_range_min must be <= port_range_max")
    if low == 0 or high == 0:
        raise NeutronError(400, "SecurityGroupInvalidPortValue",
                           "Invalid value for port 0")
    if low > high:
        raise NeutronError(400, "SecurityGroupInvalidPortRange",
                           "For TCP/UDP protocols, port_range_min must be <= port_range_max")


def parse_rule(doc: dict) -> dict:
    """The validated fields of a new rule (ids still to check against the store)."""
    unknown = sorted(set(doc) - RULE_ATTRS)
    if unknown:
        raise NeutronError(400, "HTTPBadRequest",
                           f"Unrecognized attribute(s) '{short(', '.join(unknown))}'")
    direction = doc.get("direction")
    if direction not in DIRECTIONS:
        raise invalid_attr("direction", f"'{short(direction)}' is not in "
                                        f"['ingress', 'egress']")
    ethertype = doc.get("ethertype", "IPv4")
    if isinstance(ethertype, str):
        ethertype = {"ipv4": "IPv4", "ipv6": "IPv6"}.get(ethertype.lower(), ethertype)
    if ethertype not in ETHERTYPES:
        raise invalid_attr("ethertype", f"'{short(ethertype)}' is not in ['IPv4', 'IPv6']")
    protocol, proto_key = _protocol(doc.get("protocol"))
    if proto_key == 1 and ethertype == "IPv6":
        protocol, proto_key = "ipv6-icmp" if protocol == "icmp" else protocol, 58
    low = _port(doc.get("port_range_min"), "port_range_min")
    high = _port(doc.get("port_range_max"), "port_range_max")
    _check_ports(proto_key, low, high)
    prefix = doc.get("remote_ip_prefix")
    remote_group = doc.get("remote_group_id")
    if doc.get("remote_address_group_id") is not None:
        raise invalid_input_remote("remote_address_group_id is not supported")
    if prefix is not None and remote_group is not None:
        raise NeutronError(400, "SecurityGroupRemoteGroupAndRemoteIpPrefix",
                           "Only remote_ip_prefix or remote_group_id may be provided.")
    if prefix is not None:
        if not isinstance(prefix, str) or len(prefix) > 64:
            raise invalid_attr("remote_ip_prefix", f"'{short(prefix)}' is not a valid IP prefix")
        try:
            net = ipaddress.ip_network(prefix, strict=False)
        except ValueError:
            raise invalid_attr("remote_ip_prefix",
                               f"'{short(prefix)}' is not a valid IP prefix") from None
        if f"IPv{net.version}" != ethertype:
            raise NeutronError(400, "SecurityGroupRuleParameterConflict",
                               f"Conflicting value ethertype {ethertype} for CIDR {prefix}")
        prefix = str(net)
    if remote_group is not None and (not isinstance(remote_group, str) or not remote_group):
        raise invalid_attr("remote_group_id", f"'{short(remote_group)}' is not a valid id")
    description = doc.get("description") or ""
    if not isinstance(description, str) or len(description) > 255:
        raise invalid_attr("description", "expected a string of at most 255 characters")
    return {"direction": direction, "ethertype": ethertype, "protocol": protocol,
            "proto_key": "" if proto_key is None else str(proto_key),
            "port_range_min": low, "port_range_max": high, "remote_ip_prefix": prefix,
            "remote_group_id": remote_group, "description": description}


def invalid_input_remote(message: str) -> NeutronError:
    return NeutronError(400, "InvalidInput", f"Invalid input for operation: {message}.")


def _rule(direction: str, ethertype: str, remote_group_id: str | None) -> dict:
    return {"direction": direction, "ethertype": ethertype, "protocol": None, "proto_key": "",
            "port_range_min": None, "port_range_max": None, "remote_ip_prefix": None,
            "remote_group_id": remote_group_id, "description": ""}


def default_group_rules(group_id: str) -> list[dict]:
    """The `default` group: egress to anywhere, ingress from members of the group only."""
    return [_rule("egress", "IPv4", None), _rule("egress", "IPv6", None),
            _rule("ingress", "IPv4", group_id), _rule("ingress", "IPv6", group_id)]


def new_group_rules() -> list[dict]:
    """Any other new group: egress to anywhere, no ingress."""
    return [_rule("egress", "IPv4", None), _rule("egress", "IPv6", None)]


def same_rule(a: dict, b: dict) -> bool:
    """Whether two parsed rules are duplicates in Neutron's sense."""
    keys = ("direction", "ethertype", "proto_key", "port_range_min", "port_range_max",
            "remote_ip_prefix", "remote_group_id")
    return all(a.get(key) == b.get(key) for key in keys)
