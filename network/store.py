"""The network store's SQLite file: schema, connection setup, and write transactions.

One file (WAL mode) holds networks, subnets, ports, their IP allocations and security
groups, security groups and rules, and floating IPs. Every change runs inside
`Store.write()`, a `BEGIN IMMEDIATE` transaction, so choosing a free address and taking it
is atomic across processes; the schema's constraints are the last word (one allocation per
address and subnet, one MAC per network, one `default` group per project, no duplicate rule,
one floating IP per fixed IP), and a failed write leaves nothing behind.
No code may yield to another green thread inside a transaction.
"""
from __future__ import annotations

import contextlib
import sqlite3

from common.sqlite_db import SQLiteDatabase

SCHEMA = """
CREATE TABLE IF NOT EXISTS networks (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    admin_state_up INTEGER NOT NULL DEFAULT 1,
    shared INTEGER NOT NULL DEFAULT 0,
    external INTEGER NOT NULL DEFAULT 0,
    mtu INTEGER NOT NULL,
    port_security_enabled INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    revision_number INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS subnets (
    id TEXT PRIMARY KEY,
    network_id TEXT NOT NULL REFERENCES networks (id),
    project_id TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    cidr TEXT NOT NULL,
    gateway_ip TEXT,
    allocation_pools TEXT NOT NULL,
    dns_nameservers TEXT NOT NULL DEFAULT '[]',
    host_routes TEXT NOT NULL DEFAULT '[]',
    enable_dhcp INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    revision_number INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS subnets_network ON subnets (network_id);
CREATE TABLE IF NOT EXISTS ports (
    id TEXT PRIMARY KEY,
    network_id TEXT NOT NULL REFERENCES networks (id),
    project_id TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    mac_address TEXT NOT NULL,
    admin_state_up INTEGER NOT NULL DEFAULT 1,
    device_id TEXT NOT NULL DEFAULT '',
    device_owner TEXT NOT NULL DEFAULT '',
    binding_host_id TEXT NOT NULL DEFAULT '',
    port_security_enabled INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    revision_number INTEGER NOT NULL DEFAULT 0,
    UNIQUE (network_id, mac_address)
);
CREATE INDEX IF NOT EXISTS ports_network ON ports (network_id);
CREATE TABLE IF NOT EXISTS ip_allocations (
    subnet_id TEXT NOT NULL REFERENCES subnets (id),
    ip_int INTEGER NOT NULL,
    ip_address TEXT NOT NULL,
    port_id TEXT NOT NULL REFERENCES ports (id) ON DELETE CASCADE,
    PRIMARY KEY (subnet_id, ip_int)
);
CREATE INDEX IF NOT EXISTS ip_allocations_port ON ip_allocations (port_id);
CREATE TABLE IF NOT EXISTS security_groups (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    is_default INTEGER NOT NULL DEFAULT 0,
    stateful INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    revision_number INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS security_groups_default
    ON security_groups (project_id) WHERE is_default = 1;
CREATE TABLE IF NOT EXISTS security_group_rules (
    id TEXT PRIMARY KEY,
    security_group_id TEXT NOT NULL REFERENCES security_groups (id) ON DELETE CASCADE,
    project_id TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('ingress', 'egress')),
    ethertype TEXT NOT NULL CHECK (ethertype IN ('IPv4', 'IPv6')),
    protocol TEXT,
    proto_key TEXT NOT NULL DEFAULT '',
    port_range_min INTEGER,
    port_range_max INTEGER,
    remote_ip_prefix TEXT,
    remote_group_id TEXT REFERENCES security_groups (id) ON DELETE CASCADE,
    description TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    revision_number INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS security_group_rules_unique ON security_group_rules (
    security_group_id, direction, ethertype, proto_key, ifnull(port_range_min, -1),
    ifnull(port_range_max, -1), ifnull(remote_ip_prefix, ''), ifnull(remote_group_id, ''));
CREATE TABLE IF NOT EXISTS port_security_groups (
    port_id TEXT NOT NULL REFERENCES ports (id) ON DELETE CASCADE,
    security_group_id TEXT NOT NULL REFERENCES security_groups (id),
    PRIMARY KEY (port_id, security_group_id)
);
CREATE INDEX IF NOT EXISTS port_security_groups_group
    ON port_security_groups (security_group_id);
CREATE TABLE IF NOT EXISTS floatingips (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    floating_network_id TEXT NOT NULL REFERENCES networks (id),
    floating_ip_address TEXT NOT NULL,
    floating_port_id TEXT NOT NULL REFERENCES ports (id),
    port_id TEXT REFERENCES ports (id),
    fixed_ip_address TEXT,
    description TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    revision_number INTEGER NOT NULL DEFAULT 0,
    UNIQUE (port_id, fixed_ip_address)
);
"""


class Store(SQLiteDatabase):
    """The network store: its schema on `common.sqlite_db`; writes hand out a `Tx`."""

    def __init__(self, path: str):
        super().__init__(path, SCHEMA)

    @contextlib.contextmanager
    def write(self):
        """A `BEGIN IMMEDIATE` transaction, as a `Tx`."""
        with super().write() as conn:
            yield Tx(conn)


class Tx:
    """The open transaction: the same read helpers, plus `execute`."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def execute(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def rows(self, sql: str, params: tuple = ()) -> list[dict]:
        return [dict(row) for row in self.conn.execute(sql, params).fetchall()]

    def row(self, sql: str, params: tuple = ()) -> dict | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def insert(self, table: str, values: dict) -> None:
        names = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        self.conn.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})",
                          tuple(values.values()))

    def update(self, table: str, ident: str, values: dict, now: str) -> None:
        """Set `values` on one row, bumping its revision and `updated_at`."""
        sets = ", ".join(f"{name} = ?" for name in values)
        sep = ", " if values else ""
        self.conn.execute(f"UPDATE {table} SET {sets}{sep}updated_at = ?, "
                          f"revision_number = revision_number + 1 WHERE id = ?",
                          (*values.values(), now, ident))
