"""Finding a resource for a caller: visible or a 404 in Neutron's words, changeable or a 403.

Used by every handler (inside or outside a transaction), so "another project's resource"
is answered the same way everywhere: not found.
"""
from __future__ import annotations

from network import policy
from network.errors import forbidden, not_found
from network.policy import Caller
from network.store import Store, Tx

TABLES = {"Network": "networks", "Subnet": "subnets", "Port": "ports",
          "SecurityGroup": "security_groups", "SecurityGroupRule": "security_group_rules",
          "FloatingIP": "floatingips"}


def network_for(db: Store | Tx, caller: Caller, network_id: str) -> dict:
    row = db.row("SELECT * FROM networks WHERE id = ?", (network_id,))
    if row is None or not policy.sees_network(caller, row):
        raise not_found("Network", network_id)
    return row


def subnet_for(db: Store | Tx, caller: Caller, subnet_id: str) -> tuple[dict, dict]:
    """(subnet, its network): a subnet is visible with its network."""
    row = db.row("SELECT * FROM subnets WHERE id = ?", (subnet_id,))
    if row is None:
        raise not_found("Subnet", subnet_id)
    network = db.row("SELECT * FROM networks WHERE id = ?", (row["network_id"],))
    if not policy.sees_network(caller, network):
        raise not_found("Subnet", subnet_id)
    return row, network


def owned(db: Store | Tx, caller: Caller, kind: str, ident: str) -> dict:
    """A port, group, rule or floating IP of the caller's project (any, for an admin)."""
    row = db.row(f"SELECT * FROM {TABLES[kind]} WHERE id = ?", (ident,))
    if row is None or not policy.owns(caller, row["project_id"]):
        raise not_found(kind, ident)
    return row


def require_owner(caller: Caller, row: dict, action: str) -> None:
    """A visible resource the caller may change: its project's, with a writing role."""
    policy.require_write(caller, action)
    if not policy.owns(caller, row["project_id"]):
        raise forbidden(f"rule:{action}")
