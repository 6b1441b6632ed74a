"""A compute agent's side of VM networking: it binds ports and drives its node's datapath.

The compute API made the server's ports (`compute.nic_allocation`); on a build the agent
binds each to itself (`binding:host_id`, as the service user, a cloud admin), then reads
what its node must carry from the network service (networks, subnets, ports, security
groups, floating IPs: `network.datapath.neutron_docs.node_state`) and applies it
(`network.datapath.node.Datapath`: one bridge per network holding the gateway, dnsmasq with
one static lease per port, nftables security groups, floating-IP NAT). The guest's NICs are
`<interface type='bridge'>` on the port's network bridge, with the port's tap name and MAC
(`nics`), so the DHCP answer the guest gets is exactly the address the API allocated.
The node state is applied again after a delete and on every sync (security group rules
and floating IPs changed through the network API reach the node within one sync interval);
a state equal to the one last applied is applied again only after `REAPPLY_AFTER` seconds.
One apply at a time per agent (a lock, so its green threads queue there), and the
datapath's file lock held from reading the network service to the end of the apply.
Agents on one host share its datapath (one bridge per network, one ruleset, one state dir):
each names every agent of the node in `[compute-agent] datapath_hosts`, and the state it
applies carries the ports bound to any of them (the all-in-one's two agents do so). Without
the file lock across the read, one agent could apply a state it read before another bound a
port on a new network, deleting the bridge the other had just made and the guest's NIC with
it.
"""
from __future__ import annotations

import logging
import os
import threading
import time

from compute.domain_xml import Nic
from compute.network_client import NetworkClient, NetworkError
from network.datapath.errors import DatapathError
from network.datapath.model import bridge_name, tap_name
from network.datapath.neutron_docs import node_state
from network.datapath.node import Datapath

LOG = logging.getLogger("brume.compute.vm_network")
REAPPLY_AFTER = 300.0


class VmNetworkError(Exception):
    """Ports could not be bound or the datapath not applied; the message says why."""


def nics(network_info: list[dict]) -> tuple[Nic, ...]:
    """The domain's NICs for a server's ports."""
    return tuple(Nic(bridge=bridge_name(nic["network_id"]), tap=tap_name(nic["port_id"]),
                     mac=str(nic["mac_address"]).lower()) for nic in network_info)


def link_name(port_id: str) -> str:
    """The name of a port's link in network_data.json: its tap device."""
    return tap_name(port_id)


class NodeNetwork:
    """Ports bound to `host`, and the node's datapath kept to what they need."""

    def __init__(self, host: str, client: NetworkClient, session, datapath: Datapath,
                 node_hosts: frozenset[str] = frozenset()):
        self.host = host
        self.node_hosts = frozenset(node_hosts) | {host}  # agents sharing this datapath
        self.client = client
        self.session = session  # common.v1_auth.V1Session of the service user
        self.datapath = datapath
        self._lock = threading.Lock()  # green under the agent's monkey-patching
        self._applied = None  # (state, monotonic time) of the last apply

    def _as_service(self, call, *args):
        try:
            return call(self.session.token(), *args)
        except NetworkError as exc:
            if exc.status != 401:
                raise
            self.session.forget()
            return call(self.session.token(), *args)

    def bind(self, network_info: list[dict]) -> None:
        try:
            for nic in network_info:
                self._as_service(self.client.update_port, nic["port_id"],
                                 {"binding:host_id": self.host})
        except NetworkError as exc:
            raise VmNetworkError(f"cannot bind port to {self.host}: {exc}") from None
        except Exception as exc:  # the service user could not log in
            raise VmNetworkError(f"cannot bind port to {self.host}: {exc}") from None

    def desired_state(self):
        networks, subnets, ports, groups, fips = [self._as_service(fetch) for fetch in (
            self.client.networks, self.client.subnets, self.client.ports,
            self.client.security_groups, self.client.floatingips)]
        # A port bound to any agent of this node is this node's port.
        ports = [{**port, "binding:host_id": self.host}
                 if port.get("binding:host_id") in self.node_hosts else port for port in ports]
        return node_state(self.host, networks, subnets, ports, groups, fips)

    def sync(self) -> None:
        """Apply the node state the network service describes now."""
        with self._lock:
            self._sync()

    def _sync(self) -> None:
        with self.datapath.exclusive():
            self._sync_held()

    def _sync_held(self) -> None:
        try:
            state = self.desired_state()
        except NetworkError as exc:
            raise VmNetworkError(f"cannot read this node's networks: {exc}") from None
        except ValueError as exc:  # NodeState refuses what one node cannot carry
            raise VmNetworkError(f"this node cannot carry its networks: {exc}") from None
        if not state.networks and not os.path.exists(
                os.path.join(self.datapath.state_dir, "bridges.json")):
            return  # nothing to carry and nothing ever made: the host is left untouched
        now = time.monotonic()
        if self._applied is not None and self._applied[0] == state \
                and now - self._applied[1] < REAPPLY_AFTER:
            return
        try:
            self.datapath.apply_held(state)
        except DatapathError as exc:
            self._applied = None
            raise VmNetworkError(f"datapath: {exc}") from None
        self._applied = (state, now)
        LOG.info("datapath applied: %d networks, %d ports, %d floating IPs",
                 len(state.networks), len(state.ports), len(state.floating_ips))
