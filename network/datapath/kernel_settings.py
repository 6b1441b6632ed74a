"""The node-wide kernel switches the datapath relies on.

IPv4 forwarding (the node routes between bridges for floating IPs and external access) and
`bridge-nf-call-iptables` (bridged IPv4 passes the inet hooks, so security groups are
stateful between VMs on one bridge). ICMP redirects are off: hairpinned floating-IP traffic
leaves by the bridge it came in on, and a redirect would send the guest around the NAT.
All are per network namespace; a bridge also gets `send_redirects=0` itself (`bridges`).
"""
from __future__ import annotations

from network.datapath.errors import DatapathError
from network.datapath.runner import Runner

SETTINGS = (
    ("net.ipv4.ip_forward", "1"),
    ("net.bridge.bridge-nf-call-iptables", "1"),
    ("net.ipv4.conf.all.send_redirects", "0"),
    ("net.ipv4.conf.default.send_redirects", "0"),
)


def apply_kernel_settings(runner: Runner) -> None:
    """Set every switch (idempotent); load br_netfilter first where it is a module."""
    argv = ["sysctl", "-q", "-w"] + [f"{key}={value}" for key, value in SETTINGS]
    try:
        runner.run(argv)
    except DatapathError as exc:
        if "net.bridge" not in exc.detail and "net/bridge" not in exc.detail:
            raise
        runner.run(["modprobe", "br_netfilter"])
        runner.run(argv)


def apply_bridge_settings(runner: Runner, bridge: str) -> None:
    """No ICMP redirects from this bridge (the interface's own switch counts too)."""
    runner.run(["sysctl", "-q", "-w", f"net.ipv4.conf.{bridge}.send_redirects=0"])
