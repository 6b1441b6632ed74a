"""The node-wide kernel switches the datapath relies on.

IPv4 forwarding (the node routes between bridges for floating IPs and external access) and
`bridge-nf-call-iptables` (bridged IPv4 passes the inet hooks, so security groups are
stateful between VMs on one bridge). Both are per network namespace.
"""
from __future__ import annotations

from network.datapath.runner import Runner

SETTINGS = (
    ("net.ipv4.ip_forward", "1"),
    ("net.bridge.bridge-nf-call-iptables", "1"),
)


def apply_kernel_settings(runner: Runner) -> None:
    """Set every switch (idempotent)."""
    runner.run(["sysctl", "-q", "-w"] + [f"{key}={value}" for key, value in SETTINGS])
