"""The datapath of one node: `Datapath.apply(state)` makes the kernel match a `NodeState`.

Idempotent and convergent: applying the same state again changes nothing; applying a
smaller state removes exactly what left it (bridges this datapath created, their
dnsmasq, their rules, floating addresses). Order: kernel switches; the ruleset (so no new
bridge is ever up unfiltered); tracked connections whose policy changed are forgotten
(`network.datapath.conntrack_plan`); bridges and their addresses; dnsmasq per DHCP network;
then what is no longer wanted: its dnsmasq, then its bridge. Applies are serialized by a
lock file (`exclusive`); a caller that reads the state it applies from elsewhere holds the
lock across the read too (`apply_held`), or a state read before another process's apply
would undo it. Everything on disk is under `state_dir`; every command goes through the
`Runner` (and so into its namespace, if any).
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import time

from network.datapath import bridge_record, conntrack, dnsmasq
from network.datapath.addresses import sync_addresses
from network.datapath.bridges import delete_bridge, ensure_bridge, existing_bridges
from network.datapath.conntrack_plan import policy_fingerprints, stale_addresses
from network.datapath.dhcp_plan import dhcp_networks, hosts_file
from network.datapath.kernel_settings import apply_bridge_settings, apply_kernel_settings
from network.datapath.model import NodeState
from network.datapath.nat_plan import floating_addresses
from network.datapath.nftables import load_ruleset
from network.datapath.ruleset import render_ruleset
from network.datapath.runner import Runner


class Datapath:
    """Applies desired states to one node (or one network namespace)."""

    def __init__(self, state_dir: str, runner: Runner | None = None):
        self.state_dir = state_dir
        self.runner = runner or Runner()

    @contextlib.contextmanager
    def exclusive(self, sleep=time.sleep, poll: float = 0.05):
        """Hold this state dir's lock (`<state_dir>/lock`, flock), across processes. Waiting
        polls with `sleep`, so a green thread waiting for another process does not stop its
        own process's hub."""
        os.makedirs(self.state_dir, mode=0o755, exist_ok=True)
        os.chmod(self.state_dir, 0o755)
        with open(os.path.join(self.state_dir, "lock"), "a") as handle:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    sleep(poll)
            yield

    def apply(self, state: NodeState) -> None:
        """Make the node's bridges, addresses, DHCP and ruleset exactly `state`'s."""
        with self.exclusive():
            self.apply_held(state)

    def apply_held(self, state: NodeState) -> None:
        """`apply` for a caller already holding `exclusive`."""
        apply_kernel_settings(self.runner)
        load_ruleset(self.runner, render_ruleset(state), self.state_dir)
        policies = policy_fingerprints(state)
        conntrack.forget_connections(
            self.runner, stale_addresses(conntrack.read_policies(self.state_dir), policies))
        conntrack.write_policies(self.state_dir, policies)
        wanted = {n.bridge for n in state.networks}
        recorded = bridge_record.read_bridges(self.state_dir)
        bridge_record.write_bridges(self.state_dir, recorded | wanted)
        existing = existing_bridges(self.runner)
        floating = floating_addresses(state)
        for network in sorted(state.networks, key=lambda n: n.bridge):
            ensure_bridge(self.runner, network, existing)
            apply_bridge_settings(self.runner, network.bridge)
            addresses = [f"{network.gateway_ip}/{network.prefixlen}"]
            addresses += [f"{a}/32" for a in floating.get(network.bridge, [])]
            sync_addresses(self.runner, network.bridge, addresses)
        dhcp = dhcp_networks(state)
        for network in dhcp:
            dnsmasq.sync_dnsmasq(self.runner, self.state_dir, network,
                                 hosts_file(state, network.id))
        for network_id in sorted(dnsmasq.owned_networks(self.state_dir)
                                 - {n.id for n in dhcp}):
            dnsmasq.remove_dnsmasq(self.state_dir, network_id)
        for name in sorted(recorded - wanted):
            delete_bridge(self.runner, name, existing)
        bridge_record.write_bridges(self.state_dir, wanted)

    def remove_all(self) -> None:
        """Remove everything this datapath made (an empty state)."""
        self.apply(NodeState())
