"""What dnsmasq serves on one network: its host file and its command line (pure).

One dnsmasq per network with DHCP on, bound to that network's bridge only, handing out
only static leases (`--dhcp-range=<subnet>,static`): a guest gets exactly the address its
port was allocated, by MAC. DNS is off (`--port=0`); the subnet's DNS servers, the gateway
and the MTU are DHCP options. Files live under the caller's directory for the network.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from network.datapath.model import Network, NodeState


@dataclass(frozen=True)
class DhcpFiles:
    """Where one network's dnsmasq keeps its files."""

    directory: str

    @property
    def hosts(self) -> str:
        return os.path.join(self.directory, "hosts")

    @property
    def pid(self) -> str:
        return os.path.join(self.directory, "dnsmasq.pid")

    @property
    def leases(self) -> str:
        return os.path.join(self.directory, "leases")

    @property
    def argv(self) -> str:
        return os.path.join(self.directory, "argv.json")


def host_lines(state: NodeState, network_id: str) -> list[str]:
    """`MAC,IP,hostname` for every port of the network, ordered by port id."""
    return [f"{p.mac},{p.fixed_ip},{p.dhcp_hostname}" for p in state.ports_of(network_id)]


def hosts_file(state: NodeState, network_id: str) -> str:
    """The text of the network's `--dhcp-hostsfile`."""
    return "".join(line + "\n" for line in host_lines(state, network_id))


def dhcp_networks(state: NodeState) -> list[Network]:
    """The networks that get a dnsmasq on this node, ordered by id."""
    return sorted((n for n in state.networks if n.dhcp and not n.external),
                  key=lambda n: n.id)


def dnsmasq_argv(network: Network, files: DhcpFiles) -> list[str]:
    """The dnsmasq command line for one network (it daemonizes and writes its pid file)."""
    net_address = network.cidr.split("/")[0]
    argv = [
        "dnsmasq",
        "--conf-file=/dev/null",
        "--port=0",
        "--bind-interfaces",
        f"--interface={network.bridge}",
        "--except-interface=lo",
        f"--dhcp-range=set:{network.bridge},{net_address},static,{network.netmask},12h",
        f"--dhcp-hostsfile={files.hosts}",
        f"--dhcp-leasefile={files.leases}",
        f"--pid-file={files.pid}",
        "--dhcp-authoritative",
        "--no-resolv",
        "--no-hosts",
        "--no-ping",
        "--user=nobody",
        "--group=nogroup",
        f"--dhcp-option=option:router,{network.gateway_ip}",
        f"--dhcp-option=option:mtu,{network.mtu}",
    ]
    if network.dns_servers:
        argv.append("--dhcp-option=option:dns-server," + ",".join(network.dns_servers))
    return argv
