"""The desired network state of one node: networks, ports, security groups, floating IPs.

Plain frozen dataclasses, validated on construction, with no IO. The network API (or the
compute agent on its behalf) builds one `NodeState` for what should exist on a hypervisor
node; the planning modules turn it into kernel configuration text.

Semantics follow Neutron: a port's traffic is allowed only by the rules of its security
groups (ingress and egress alike; `SecurityGroup.neutron_default` builds the group Neutron
gives every project: all egress, ingress from members of the same group). Only IPv4.
On one node the tenant subnets may not overlap: the node is the router of every network it
carries (gateway address on the bridge), so two networks with one CIDR cannot coexist.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

IFNAMSIZ = 15  # Linux: 16 bytes with the trailing NUL
BRIDGE_PREFIX = "brq"
TAP_PREFIX = "tap"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_HOSTNAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
PROTOCOLS = ("tcp", "udp", "icmp", "any")
DIRECTIONS = ("ingress", "egress")


def _device_name(prefix: str, ident: str) -> str:
    """prefix + the first characters of the id without dashes, within IFNAMSIZ (as Neutron)."""
    return prefix + ident.replace("-", "").replace("_", "")[: IFNAMSIZ - len(prefix)].lower()


def bridge_name(network_id: str) -> str:
    """The Linux bridge of a network: `brq` + the first 12 id characters (dashes dropped)."""
    return _device_name(BRIDGE_PREFIX, network_id)


def tap_name(port_id: str) -> str:
    """The tap device of a port: `tap` + the first 12 id characters (dashes dropped)."""
    return _device_name(TAP_PREFIX, port_id)


def _check_id(kind: str, value: str) -> None:
    if not isinstance(value, str) or not _ID.match(value):
        raise ValueError(f"{kind} id {value!r} is not 1-64 letters, digits, '-' or '_'")


@dataclass(frozen=True)
class Network:
    """One network on this node: a bridge carrying the gateway address of its one subnet.

    `external` marks a `router:external` network (floating IPs live on its bridge);
    `external_access` means the network's traffic leaving the node is masqueraded (it has
    a router gateway), so its VMs reach the outside without a floating IP.
    """

    id: str
    cidr: str
    gateway_ip: str
    dhcp: bool = True
    dns_servers: tuple[str, ...] = ()
    mtu: int = 1500
    external: bool = False
    external_access: bool = False

    def __post_init__(self) -> None:
        _check_id("network", self.id)
        net = ipaddress.IPv4Network(self.cidr, strict=True)
        if net.prefixlen > 30:
            raise ValueError(f"network {self.id}: subnet {self.cidr} is smaller than a /30")
        gateway = ipaddress.IPv4Address(self.gateway_ip)
        if gateway not in net or gateway in (net.network_address, net.broadcast_address):
            raise ValueError(f"network {self.id}: gateway {self.gateway_ip} not a host of {net}")
        for server in self.dns_servers:
            ipaddress.IPv4Address(server)
        if not 576 <= self.mtu <= 9000:
            raise ValueError(f"network {self.id}: MTU {self.mtu} outside 576..9000")

    @property
    def bridge(self) -> str:
        return bridge_name(self.id)

    @property
    def prefixlen(self) -> int:
        return ipaddress.IPv4Network(self.cidr).prefixlen

    @property
    def netmask(self) -> str:
        return str(ipaddress.IPv4Network(self.cidr).netmask)


@dataclass(frozen=True)
class Port:
    """A VM's NIC: its MAC and fixed IP on one network, its tap device, its groups."""

    id: str
    network_id: str
    mac: str
    fixed_ip: str
    security_group_ids: tuple[str, ...] = ()
    hostname: str = ""

    def __post_init__(self) -> None:
        _check_id("port", self.id)
        _check_id("network", self.network_id)
        if not _MAC.match(self.mac):
            raise ValueError(f"port {self.id}: MAC {self.mac!r} is not lower-case aa:bb:...")
        if int(self.mac[:2], 16) & 1:
            raise ValueError(f"port {self.id}: MAC {self.mac} is multicast")
        ipaddress.IPv4Address(self.fixed_ip)
        for group in self.security_group_ids:
            _check_id("security group", group)
        if self.hostname and not _HOSTNAME.match(self.hostname):
            raise ValueError(f"port {self.id}: hostname {self.hostname!r} is not a DNS label")

    @property
    def tap(self) -> str:
        return tap_name(self.id)

    @property
    def dhcp_hostname(self) -> str:
        """The given hostname, else Neutron's `host-10-0-0-5`."""
        return self.hostname or "host-" + self.fixed_ip.replace(".", "-")


@dataclass(frozen=True)
class Rule:
    """One security group rule (Neutron's fields; IPv4 only).

    Ports: `port_min`..`port_max` for tcp/udp (None = all); for icmp, `port_min` is the ICMP
    type and `port_max` the code (None = any). At most one of `remote_ip_prefix` and
    `remote_group_id`; neither means any address.
    """

    direction: str
    protocol: str = "any"
    port_min: int | None = None
    port_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None
    ethertype: str = "IPv4"

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"rule direction {self.direction!r} not in {DIRECTIONS}")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"rule protocol {self.protocol!r} not in {PROTOCOLS}")
        if self.ethertype != "IPv4":
            raise ValueError(f"rule ethertype {self.ethertype!r}: only IPv4 is supported")
        if self.remote_ip_prefix is not None and self.remote_group_id is not None:
            raise ValueError("a rule has a remote_ip_prefix or a remote_group_id, not both")
        if self.remote_ip_prefix is not None:
            ipaddress.IPv4Network(self.remote_ip_prefix, strict=True)
        if self.remote_group_id is not None:
            _check_id("remote group", self.remote_group_id)
        self._check_ports()

    def _check_ports(self) -> None:
        low, high = self.port_min, self.port_max
        if self.protocol == "any":
            if low is not None or high is not None:
                raise ValueError("a rule for any protocol takes no port range")
        elif self.protocol == "icmp":
            if high is not None and low is None:
                raise ValueError("an ICMP code needs an ICMP type")
            for value in (low, high):
                if value is not None and not 0 <= value <= 255:
                    raise ValueError(f"ICMP type/code {value} outside 0..255")
        else:
            if (low is None) != (high is None):
                raise ValueError("a port range needs both port_min and port_max")
            if low is not None and not 1 <= low <= high <= 65535:
                raise ValueError(f"port range {low}-{high} invalid")


@dataclass(frozen=True)
class SecurityGroup:
    """A named set of rules; a port is allowed what any of its groups' rules allow."""

    id: str
    rules: tuple[Rule, ...] = ()

    def __post_init__(self) -> None:
        _check_id("security group", self.id)

    @classmethod
    def neutron_default(cls, group_id: str) -> SecurityGroup:
        """Neutron's `default` group: all egress, ingress only from the same group."""
        return cls(group_id, (Rule("egress"), Rule("ingress", remote_group_id=group_id)))


@dataclass(frozen=True)
class FloatingIP:
    """A floating address of an external network, associated with a port's fixed IP."""

    floating_ip: str
    external_network_id: str
    port_id: str

    def __post_init__(self) -> None:
        ipaddress.IPv4Address(self.floating_ip)
        _check_id("network", self.external_network_id)
        _check_id("port", self.port_id)


@dataclass(frozen=True)
class NodeState:
    """Everything that should exist on one node; checked for consistency as a whole.

    `remote_members` adds, per security group, the fixed IPs of members on other nodes
    (so "from the same group" also admits them); members on this node come from `ports`.
    """

    networks: tuple[Network, ...] = ()
    ports: tuple[Port, ...] = ()
    security_groups: tuple[SecurityGroup, ...] = ()
    floating_ips: tuple[FloatingIP, ...] = ()
    remote_members: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _unique("network id", (n.id for n in self.networks))
        _unique("bridge name", (n.bridge for n in self.networks))
        _unique("port id", (p.id for p in self.ports))
        _unique("tap name", (p.tap for p in self.ports))
        _unique("MAC", (p.mac for p in self.ports))
        _unique("fixed IP", (p.fixed_ip for p in self.ports))
        _unique("security group id", (g.id for g in self.security_groups))
        _unique("floating IP", (f.floating_ip for f in self.floating_ips))
        _unique("port with a floating IP", (f.port_id for f in self.floating_ips))
        self._check_subnets()
        self._check_ports()
        self._check_floating_ips()
        groups = {g.id for g in self.security_groups}
        for group in self.security_groups:
            for rule in group.rules:
                if rule.remote_group_id is not None and rule.remote_group_id not in groups:
                    raise ValueError(f"group {group.id}: remote group "
                                     f"{rule.remote_group_id} not in the state")

    def _check_subnets(self) -> None:
        nets = [(ipaddress.IPv4Network(n.cidr), n.id) for n in self.networks]
        for i, (one, one_id) in enumerate(nets):
            for other, other_id in nets[i + 1:]:
                if one.overlaps(other):
                    raise ValueError(f"subnets of networks {one_id} and {other_id} overlap "
                                     "on one node")

    def _check_ports(self) -> None:
        groups = {g.id for g in self.security_groups}
        for port in self.ports:
            network = self.network(port.network_id)
            if network.external:
                raise ValueError(f"port {port.id}: VMs are not plugged into external "
                                 f"network {network.id} here")
            net = ipaddress.IPv4Network(network.cidr)
            address = ipaddress.IPv4Address(port.fixed_ip)
            if address not in net or address in (net.network_address, net.broadcast_address,
                                                 ipaddress.IPv4Address(network.gateway_ip)):
                raise ValueError(f"port {port.id}: {port.fixed_ip} is not a free host of "
                                 f"{net}")
            missing = set(port.security_group_ids) - groups
            if missing:
                raise ValueError(f"port {port.id}: security groups {sorted(missing)} not in "
                                 "the state")

    def _check_floating_ips(self) -> None:
        fixed = {p.fixed_ip for p in self.ports}
        ports = {p.id for p in self.ports}
        for fip in self.floating_ips:
            network = self.network(fip.external_network_id)
            if not network.external:
                raise ValueError(f"floating IP {fip.floating_ip}: network {network.id} is "
                                 "not external")
            net = ipaddress.IPv4Network(network.cidr)
            address = ipaddress.IPv4Address(fip.floating_ip)
            if (address not in net or fip.floating_ip == network.gateway_ip
                    or address in (net.network_address, net.broadcast_address)):
                raise ValueError(f"floating IP {fip.floating_ip} is not a free host of {net}")
            if fip.port_id not in ports:
                raise ValueError(f"floating IP {fip.floating_ip}: port {fip.port_id} not in "
                                 "the state")
            if fip.floating_ip in fixed:
                raise ValueError(f"floating IP {fip.floating_ip} is also a fixed IP")

    def network(self, network_id: str) -> Network:
        for network in self.networks:
            if network.id == network_id:
                return network
        raise ValueError(f"network {network_id} not in the state")

    def port(self, port_id: str) -> Port:
        for port in self.ports:
            if port.id == port_id:
                return port
        raise ValueError(f"port {port_id} not in the state")

    def group(self, group_id: str) -> SecurityGroup:
        for group in self.security_groups:
            if group.id == group_id:
                return group
        raise ValueError(f"security group {group_id} not in the state")

    def ports_of(self, network_id: str) -> list[Port]:
        """The ports of a network, ordered by id."""
        return sorted((p for p in self.ports if p.network_id == network_id),
                      key=lambda p: p.id)

    def group_member_ips(self, group_id: str) -> list[str]:
        """Fixed IPs of the group's members here and elsewhere, in address order."""
        local = {p.fixed_ip for p in self.ports if group_id in p.security_group_ids}
        remote = set(self.remote_members.get(group_id, frozenset()))
        return sorted(local | remote, key=ipaddress.IPv4Address)


def _unique(kind: str, values: Iterable[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"duplicate {kind} {value!r}")
        seen.add(value)
